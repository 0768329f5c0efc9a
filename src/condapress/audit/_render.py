"""The audit report for people (text) and for programs (the versioned JSON document)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from condapress.audit._pypi_rules import size_text
from condapress.errors import printable
from condapress.model import Level

if TYPE_CHECKING:
    from collections.abc import Sequence

    from condapress.model import AuditReport, CheckReport, Finding, LibraryReport

__all__ = ["AUDIT_SCHEMA_VERSION", "audit_document", "audit_text", "check_text"]

#: Bumped on every incompatible change of the ``audit --json`` document.
AUDIT_SCHEMA_VERSION = 1


_WORDS = ((Level.ERROR, "error"), (Level.WARNING, "warning"), (Level.INFO, "note"))


def audit_document(reports: Sequence[AuditReport]) -> dict[str, Any]:
    """The reports as the versioned JSON document described by ``data/audit-schema.json``."""
    return {
        "version": AUDIT_SCHEMA_VERSION,
        "wheels": [
            {
                "wheel": report.wheel,
                "ok": report.ok,
                "claimed_tags": list(report.claimed_tags),
                "verdict": {k: _json(v) for k, v in asdict(report.verdict).items()},
                "runtime": report.runtime,
                "libraries": [
                    {
                        **{k: _json(v) for k, v in asdict(lib).items()},
                        "needed": [{"soname": s, "where": w} for s, w in lib.needed],
                        "max_versions": dict(lib.max_versions),
                    }
                    for lib in report.libraries
                ],
                "findings": [{**asdict(f), "level": f.level.value} for f in report.findings],
            }
            for report in reports
        ],
    }


def _json(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _library_lines(lib: LibraryReport) -> list[str]:
    """What one binary needs, its RPATH, C++ exports, minimum macOS and code signature."""
    lines = [f"    needs {soname} ({where})" for soname, where in lib.needed]
    if lib.max_versions:
        versions = ", ".join(f"{prefix}_{v}" for prefix, v in lib.max_versions)
        lines.append(f"    max versions: {versions}")
    if lib.rpath:
        lines.append(f"    rpath: {':'.join(lib.rpath)}")
    if lib.exported_weak_std or lib.exported_global_std:
        lines.append(
            f"    exports std:: {lib.exported_weak_std} weak, {lib.exported_global_std} global"
        )
    if lib.cxx11_abi:
        lines.append("    C++11 ABI (std::__cxx11)")
    if lib.minos is not None:
        lines.append(f"    minimum macOS: {lib.minos}")
    if lib.signature is not None:
        lines.append(f"    code signature: {lib.signature}")
    return lines


def audit_text(report: AuditReport) -> str:
    """The report for people: tags claimed and allowed, one block per binary, then findings.

    Control characters are escaped (:func:`~condapress.errors.printable`); the JSON document
    keeps every name as it is.
    """
    verdict = report.verdict
    aliases = f" (also {', '.join(verdict.aliases)})" if verdict.aliases else ""
    lines = [
        report.wheel,
        f"  claims: {', '.join(report.claimed_tags) or '(no tags)'}",
        f"  binaries allow: {verdict.tag}{aliases}"
        + ("" if report.libraries else " (no binary files)"),
    ]
    lines += [f"    limited by: {limit}" for limit in verdict.limits]
    if report.runtime is not None:
        lines.append(f"  compiler runtime: {report.runtime}")
    for lib in report.libraries:
        lines += ["", f"  {lib.path}", *_library_lines(lib)]
    if report.findings:
        lines.append("")
    for f in report.findings:
        lines += [f"{f.level.value}: {f.message}", f"  hint: {f.hint}"]
    summary = _summary(report.findings, _WORDS)
    lines += ["", f"{report.wheel}: {'ok' if report.ok else 'failed'} ({summary})"]
    # Names come from the wheel (members, sonames, RPATH, tags, METADATA): escaped, a newline or
    # an escape sequence in one can neither forge a line nor drive the terminal.
    return "".join(f"{printable(line)}\n" for line in lines)


def check_text(report: CheckReport, *, strict: bool = False) -> str:
    """The check of one wheel for people: its size against the limit, findings, a verdict.

    With *strict*, warnings fail the wheel too (``twine check --strict``).
    """
    limit = size_text(report.max_file_size)
    lines = [f"{report.wheel} ({size_text(report.size)}; PyPI takes up to {limit} a file)"]
    for f in report.findings:
        lines += [f"{f.level.value}: {f.message}", f"  hint: {f.hint}"]
    summary = _summary(report.findings, _WORDS[:2])
    verdict = "PyPI takes it" if report.ok(strict=strict) else "PyPI refuses it"
    if report.ok() and not report.ok(strict=strict):
        verdict = "failed under --strict"
    lines.append(f"{report.wheel}: {verdict} ({summary})")
    return "".join(f"{printable(line)}\n" for line in lines)


def _summary(findings: Sequence[Finding], words: Sequence[tuple[Level, str]]) -> str:
    """``1 error, 0 warnings``: how many findings of each level."""
    counts = {word: sum(f.level is level for f in findings) for level, word in words}
    return ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for word, n in counts.items())

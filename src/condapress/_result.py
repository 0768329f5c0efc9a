"""What presses made, as the versioned JSON document of ``condapress press --json``.

The document (``data/press-schema.json``) holds one entry per press (one per target python):
a summary of its plan, and every wheel with its path, tags, size, sha256, the conda packages
inside, and what its audit and its check against PyPI's rules found. It is for CI: a job reads
the wheels' paths and hashes from it instead of parsing the lines meant for people.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from packaging.utils import parse_wheel_filename

if TYPE_CHECKING:
    from collections.abc import Sequence

    from condapress.model import AuditReport, BuiltWheel, CheckReport, Finding, PressResult

__all__ = ["PRESS_SCHEMA_VERSION", "press_document"]

#: Bumped on every incompatible change of the ``press --json`` document.
PRESS_SCHEMA_VERSION = 1


def press_document(results: Sequence[PressResult]) -> dict[str, Any]:
    """*results* as the versioned JSON document described by ``data/press-schema.json``."""
    return {"version": PRESS_SCHEMA_VERSION, "presses": [_press(result) for result in results]}


#: What a press's document says of its plan: these keys of ``condapress plan --json``'s.
_PLAN_KEYS = ("specs", "python", "subdir", "channels", "fat", "runtime")
_PACKAGE_KEYS = ("name", "version", "build", "class", "becomes", "wheels", "requirement")


def _press(result: PressResult) -> dict[str, Any]:
    from condapress.plan._render import plan_document  # noqa: PLC0415 - only with --json

    plan = plan_document(result.plan)
    audits = {report.wheel: report for report in result.audits}
    checks = {report.wheel: report for report in result.checks}
    return {
        **{key: plan[key] for key in _PLAN_KEYS},
        "packages": [{key: row[key] for key in _PACKAGE_KEYS} for row in plan["packages"]],
        "wheels": [
            _wheel(wheel, audits.get(wheel.path.name), checks.get(wheel.path.name))
            for wheel in result.wheels
        ],
    }


def _wheel(
    wheel: BuiltWheel, audit: AuditReport | None, check: CheckReport | None
) -> dict[str, Any]:
    name, version, _, _ = parse_wheel_filename(wheel.path.name)
    return {
        "path": str(wheel.path),
        "filename": wheel.path.name,
        "name": str(name),
        "version": str(version),
        "tags": list(wheel.tags),
        "size": wheel.size,
        "sha256": wheel.sha256,
        "members": list(wheel.members),
        "stripped": wheel.stripped,
        "audit": None
        if audit is None
        else {"ok": audit.ok, "platform": audit.verdict.tag, "findings": _findings(audit.findings)},
        "check": None
        if check is None
        else {"ok": check.ok(), "findings": _findings(check.findings)},
    }


def _findings(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    return [{**asdict(finding), "level": finding.level.value} for finding in findings]

"""Stages 8 and 9, audit: check a wheel, ours or anyone's, for what loaders and PyPI trip on.

The wheel is streamed, never installed or run (:mod:`condapress.audit._scan`). The report sets
the tags it claims against the platform tag its binaries allow, shows one block per binary (what
it needs and where that is found, RPATH, C++ exports) and lists findings with codes
(:mod:`condapress.audit._integrity` for the archive and its ``.dist-info``,
:mod:`condapress.audit._binaries` for the binaries, :mod:`condapress.audit._datapaths` for the
build-prefix data paths). :func:`check_wheel` sets a wheel against what PyPI refuses on upload
(:mod:`condapress.audit._pypi`). :func:`gate` and :func:`check_gate` are the press's last
steps before the wheels land.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from condapress._distinfo import DATA_PATHS_FILE
from condapress.audit._binaries import binary_findings
from condapress.audit._datapaths import data_path_findings
from condapress.audit._integrity import integrity_findings
from condapress.audit._pypi import pypi_findings
from condapress.audit._pypi_rules import pypi_rules
from condapress.audit._render import AUDIT_SCHEMA_VERSION, audit_document, audit_text, check_text
from condapress.audit._scan import read_wheel
from condapress.errors import PolicyViolation, printable
from condapress.model import AuditReport, CheckReport, Level

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from condapress.model import BuiltWheel, Finding, WheelScan

__all__ = [
    "AUDIT_SCHEMA_VERSION",
    "audit_document",
    "audit_scan",
    "audit_text",
    "audit_wheel",
    "check_gate",
    "check_text",
    "check_wheel",
    "gate",
    "pypi_file_size_limit",
]

logger = logging.getLogger(__name__)

_LOG_LEVEL = {Level.ERROR: logging.ERROR, Level.WARNING: logging.WARNING, Level.INFO: logging.INFO}


def audit_wheel(path: Path) -> AuditReport:
    """Audit the wheel at *path*: its integrity, its tags and its binaries.

    Problems of the wheel are findings of the report, not exceptions.

    :raises ArchiveError: *path* is not a readable zip archive.
    :raises TooLargeError: it has more members, or unpacks to more, than condapress reads.
    """
    return audit_scan(read_wheel(path))


def audit_scan(scan: WheelScan) -> AuditReport:
    """Audit a wheel from one pass over its members (:func:`audit_wheel` without the reading)."""
    facts, findings = integrity_findings(scan)
    findings += data_path_findings(scan.text(DATA_PATHS_FILE), (m.name for m in scan.members))
    verdict, libraries, binary = binary_findings(scan.members, facts)
    return AuditReport(
        wheel=scan.filename,
        claimed_tags=facts.claimed_tags,
        verdict=verdict,
        libraries=libraries,
        findings=tuple(sorted([*findings, *binary], key=lambda f: f.level.rank)),
        runtime=facts.runtime,
    )


def gate(built: Sequence[BuiltWheel]) -> tuple[AuditReport, ...]:
    """Audit every wheel a press wrote; log each finding; refuse them all at the first error.

    :returns: the report of every wheel, in order.
    :raises PolicyViolation: a wheel has an error-level finding; the message names the first.
    """
    reports = []
    for wheel in built:
        # what the press gathered while it wrote the wheel, else the wheel read again
        report = audit_scan(wheel.scan) if wheel.scan is not None else audit_wheel(wheel.path)
        reports.append(report)
        _judge(wheel.path.name, report.findings, "{} fails its audit", "audit", "--no-audit")
    return tuple(reports)


def _judge(name: str, findings: Sequence[Finding], refusal: str, command: str, flag: str) -> None:
    """Log every finding about wheel *name*; raise for the first error, if there is one.

    That error is not logged: the exception says it, and the user reads it once.
    """
    errors = [f for f in findings if f.level is Level.ERROR]
    for finding in findings:
        if not errors or finding is not errors[0]:
            logger.log(_LOG_LEVEL[finding.level], "%s: %s", name, printable(finding.message))
    if errors:
        raise PolicyViolation(
            f"{refusal.format(name)}: {errors[0].message}",
            hint=f"{errors[0].hint}; 'condapress {command}' explains every finding, "
            f"{flag} writes the wheel anyway",
            path=name,
        )


def pypi_file_size_limit() -> int:
    """PyPI's default limit for one file of a project, in bytes (100 MiB)."""
    return pypi_rules().max_file_size


def check_wheel(path: Path, *, max_file_size: int | None = None) -> CheckReport:
    """Check the wheel at *path* against what PyPI refuses on upload (``condapress check``).

    :param max_file_size: the most bytes PyPI takes in one file of the project (default: PyPI's
        default limit, :func:`pypi_file_size_limit`).
    :raises ArchiveError: *path* is not a readable zip archive.
    """
    limit = pypi_file_size_limit() if max_file_size is None else max_file_size
    findings = pypi_findings(path, max_file_size=limit)
    return CheckReport(
        wheel=path.name,
        size=path.stat().st_size,
        max_file_size=limit,
        findings=tuple(sorted(findings, key=lambda f: f.level.rank)),
    )


def check_gate(
    built: Sequence[BuiltWheel], *, max_file_size: int | None = None
) -> tuple[CheckReport, ...]:
    """Check every wheel a press wrote against PyPI's rules; refuse them all at the first error.

    :returns: the report of every wheel, in order.
    :raises PolicyViolation: PyPI would refuse a wheel; the message names the first reason.
    """
    reports = []
    for wheel in built:
        reports.append(report := check_wheel(wheel.path, max_file_size=max_file_size))
        _judge(wheel.path.name, report.findings, "PyPI would refuse {}", "check", "--no-check")
    return tuple(reports)

"""Stage 8, audit: check a wheel, ours or anyone's, for what PyPI, installers or loaders trip on.

The wheel is streamed, never installed or run (:mod:`condapress.audit._scan`). The report sets
the tags it claims against the platform tag its binaries allow, shows one block per binary (what
it needs and where that is found, RPATH, C++ exports) and lists findings with codes
(:mod:`condapress.audit._integrity` for the archive and its ``.dist-info``,
:mod:`condapress.audit._binaries` for the binaries, :mod:`condapress.audit._datapaths` for the
build-prefix data paths). :func:`gate` is the press's last step before the wheels land.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from condapress._distinfo import DATA_PATHS_FILE
from condapress.audit._binaries import binary_findings
from condapress.audit._datapaths import data_path_findings
from condapress.audit._integrity import integrity_findings
from condapress.audit._render import AUDIT_SCHEMA_VERSION, audit_document, audit_text
from condapress.audit._scan import read_wheel
from condapress.errors import PolicyViolation, printable
from condapress.model import AuditReport, Level

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from condapress.model import BuiltWheel

__all__ = ["AUDIT_SCHEMA_VERSION", "audit_document", "audit_text", "audit_wheel", "gate"]

logger = logging.getLogger(__name__)

_LOG_LEVEL = {Level.ERROR: logging.ERROR, Level.WARNING: logging.WARNING, Level.INFO: logging.INFO}


def audit_wheel(path: Path) -> AuditReport:
    """Audit the wheel at *path*: its integrity, its tags and its binaries.

    Problems of the wheel are findings of the report, not exceptions.

    :raises ArchiveError: *path* is not a readable zip archive.
    :raises TooLargeError: it has more members, or unpacks to more, than condapress reads.
    """
    scan = read_wheel(path)
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


def gate(built: Sequence[BuiltWheel]) -> None:
    """Audit every wheel a press wrote; log each finding; refuse them all at the first error.

    :raises PolicyViolation: a wheel has an error-level finding; the message names the first.
    """
    for wheel in built:
        report = audit_wheel(wheel.path)
        for finding in report.findings:
            message = printable(finding.message)
            logger.log(_LOG_LEVEL[finding.level], "%s: %s", wheel.path.name, message)
        errors = [f for f in report.findings if f.level is Level.ERROR]
        if errors:
            raise PolicyViolation(
                f"{wheel.path.name} fails its audit: {errors[0].message}",
                hint=f"{errors[0].hint}; 'condapress audit' explains every finding, "
                "--no-audit writes the wheel anyway",
                path=str(wheel.path.name),
            )

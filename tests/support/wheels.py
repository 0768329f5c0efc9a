"""Small wheels written with zipfile, with a correct RECORD unless a test spoils it."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from condapress.model import AuditReport, Finding

METADATA = "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n"


def _row(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def make_wheel(
    directory: Path,
    payload: Mapping[str, bytes],
    *,
    tags: Sequence[str] = ("py3-none-any",),
    metadata: str = METADATA,
    requires: Sequence[str] = (),
    dist_info: Mapping[str, bytes] | None = None,
    edit_record: Callable[[list[list[str]]], list[list[str]]] | None = None,
    filename: str | None = None,
) -> Path:
    """A wheel of *payload* with a correct RECORD (unless *edit_record* spoils it)."""
    metadata += "".join(f"Requires-Dist: {req}\n" for req in requires)
    wheel_text = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
    wheel_text += "".join(f"Tag: {tag}\n" for tag in tags)
    members = dict(payload)
    generated = {"METADATA": metadata.encode(), "WHEEL": wheel_text.encode(), **(dist_info or {})}
    members |= {f"demo-1.0.dist-info/{leaf}": data for leaf, data in generated.items()}
    rows = [_row(name, data) for name, data in members.items()]
    rows.append(["demo-1.0.dist-info/RECORD", "", ""])
    if edit_record is not None:
        rows = edit_record(rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    members["demo-1.0.dist-info/RECORD"] = buffer.getvalue().encode()
    if filename is None:
        python, abi, platform = (
            ".".join(dict.fromkeys(p)) for p in zip(*(t.split("-") for t in tags), strict=True)
        )
        filename = f"demo-1.0-{python}-{abi}-{platform}.whl"
    path = directory / filename
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def codes(report: AuditReport) -> list[str]:
    """The codes of *report*'s findings, in order."""
    return [f.code for f in report.findings]


def only(report: AuditReport, code: str) -> Finding:
    """The one finding of *code* in *report*."""
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, report.findings
    return found[0]

"""What PyPI refuses on upload that installers do not care about: ``condapress check``'s rules.

PyPI (warehouse) reads a wheel's ``.dist-info`` at the path its file name gives, takes only
platform tags it knows, limits the size of a file and refuses a decompression bomb; its metadata
rules are in :mod:`condapress.audit._pypi_metadata`. Only the zip's directory and the small
``.dist-info`` files are read: checking a wheel decompresses none of its payload.
"""

from __future__ import annotations

import configparser
import re
import zipfile
from typing import TYPE_CHECKING

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from condapress.audit._integrity import finding, metadata_findings
from condapress.audit._pypi_metadata import description_findings, pypi_metadata_findings
from condapress.audit._pypi_rules import PYPI_CODES, pypi_rules, size_text
from condapress.audit._scan import MAX_DIST_INFO_FILE, open_wheel
from condapress.errors import listing, printable

if TYPE_CHECKING:
    from pathlib import Path

    from packaging.version import Version

    from condapress.model import Finding

__all__ = ["pypi_findings"]

_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_METHOD_NAMES = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma", 93: "zstandard"}
# The names that entry points may have (the entry points specification, "Data model").
_ENTRY_POINT_NAME = re.compile(r"[\w.-]+")
_DIST_INFO_FILES = ("WHEEL", "METADATA", "RECORD")


def _pypi(code: str, message: str, path: str | None = None) -> Finding:
    return finding(code, message, path, codes=PYPI_CODES)


def pypi_findings(path: Path, *, max_file_size: int) -> list[Finding]:
    """Check the wheel at *path* against PyPI's upload rules.

    :param max_file_size: the most bytes PyPI takes in one file of the project.
    :raises ArchiveError: *path* is not a readable zip archive.
    """
    filename = path.name
    zf = open_wheel(path, "check")
    findings: list[Finding] = []
    size = path.stat().st_size
    if size > max_file_size:
        message = (
            f"the wheel is {size:,} bytes ({size_text(size)}), more than the "
            f"{size_text(max_file_size)} PyPI takes in one file"
        )
        findings.append(_pypi("pypi-file-too-large", message))
    if any(not c.isprintable() or c in "/\\" for c in filename):
        message = f"{printable(filename)} has control characters or a slash, which PyPI refuses"
        findings.append(_pypi("pypi-filename", message))
    file_name = file_version = None
    try:
        file_name, file_version, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        message = f"{filename} is not a valid wheel file name: {exc}"
        findings.append(finding("bad-filename", message))
    else:
        refused = sorted(
            {tag.platform for tag in tags if not pypi_rules().platform_ok(tag.platform)}
        )
        findings += [_platform_finding(platform) for platform in refused]
    with zf:
        findings += _zip_findings(zf, size)
        if filename.count("-") >= 2:  # noqa: PLR2004 - else the name is reported above
            findings += _dist_info_findings(zf, filename, file_name, file_version)
    return findings


def _platform_finding(platform: str) -> Finding:
    why = (
        ": it says nothing about the distributions the wheel runs on"
        if platform.startswith("linux_")
        else ""
    )
    return _pypi("pypi-platform-tag", f"the platform tag {platform} is not one PyPI takes{why}")


def _zip_findings(zf: zipfile.ZipFile, size: int) -> list[Finding]:
    infos = zf.infolist()
    findings = []
    odd = sorted(
        f"{printable(info.filename)} ({_METHOD_NAMES.get(info.compress_type, info.compress_type)})"
        for info in infos
        if info.compress_type not in _COMPRESSIONS
    )
    if odd:
        message = (
            f"{len(odd)} members use a compression PyPI refuses (it takes stored and deflate): "
            f"{listing(odd)}"
        )
        findings.append(_pypi("pypi-compression", message))
    unpacked = sum(info.file_size for info in infos)
    rules = pypi_rules()
    if unpacked > rules.min_unpacked and unpacked > rules.max_ratio * size:
        message = (
            f"the wheel unpacks to {unpacked:,} bytes, {unpacked // max(size, 1)} times its size: "
            f"PyPI refuses a wheel that unpacks to more than {size_text(rules.min_unpacked)} and "
            f"{rules.max_ratio} times its size"
        )
        findings.append(_pypi("pypi-compression", message))
    return findings


def _dist_info_findings(
    zf: zipfile.ZipFile, filename: str, file_name: str | None, file_version: Version | None
) -> list[Finding]:
    """The ``.dist-info`` as PyPI reads it: at ``<name>-<version>`` of the file name, unparsed."""
    name, version, _ = filename.split("-", 2)
    dist_info = f"{name}-{version}.dist-info"
    names = set(zf.namelist())
    findings = []
    missing = [leaf for leaf in _DIST_INFO_FILES if f"{dist_info}/{leaf}" not in names]
    if missing:
        message = (
            f"PyPI reads {', '.join(f'{dist_info}/{leaf}' for leaf in missing)}, which the wheel "
            "does not have"
        )
        findings.append(_pypi("pypi-dist-info", printable(message)))
    text = _read(zf, f"{dist_info}/METADATA")
    if text is None:
        return findings
    # the audit's own METADATA checks: core metadata, name and version against the file name
    metadata_findings(dist_info, text, file_name, file_version, findings)
    if any(f.code.startswith("metadata-") for f in findings):
        return findings
    meta, problems = pypi_metadata_findings(text)
    findings += problems
    findings += description_findings(meta)
    expected = canonicalize_name(meta.name).replace("-", "_")
    if canonicalize_name(name) == canonicalize_name(meta.name) and name != expected:
        message = (
            f"PyPI wants the file name to start with {expected!r}, the normalized name of "
            f"{meta.name}, not {name!r}"
        )
        findings.append(_pypi("pypi-filename", printable(message)))
    for license_file in meta.license_files or ():
        member = f"{dist_info}/licenses/{license_file}"
        if member not in names:
            message = f"METADATA lists License-File {license_file}, but the wheel has no {member}"
            findings.append(_pypi("pypi-license-file", printable(message), member))
    findings += _entry_point_findings(_read(zf, f"{dist_info}/entry_points.txt"), dist_info)
    return findings


def _read(zf: zipfile.ZipFile, member: str) -> str | None:
    """The text of *member*; None when it is absent, unreadable or larger than the audit reads."""
    try:
        info = zf.getinfo(member)
        if info.file_size > MAX_DIST_INFO_FILE:
            return None
        return zf.read(info).decode("utf-8", "replace")
    except (KeyError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError):
        return None


class _CaseSensitiveParser(configparser.ConfigParser):
    def optionxform(self, optionstr: str) -> str:
        return optionstr


def _entry_point_findings(text: str | None, dist_info: str) -> list[Finding]:
    if text is None:
        return []
    member = f"{dist_info}/entry_points.txt"
    parser = _CaseSensitiveParser(delimiters=("=",), interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        message = f"{member} is not a valid INI file: {first}"
        return [_pypi("pypi-entry-points", printable(message), member)]
    bad = sorted(
        f"{name!r} in [{section}]"
        for section in ("console_scripts", "gui_scripts")
        if parser.has_section(section)
        for name in parser[section]
        if _ENTRY_POINT_NAME.fullmatch(name) is None
    )
    if not bad:
        return []
    message = f"{member} has entry points whose names PyPI refuses: {listing(bad)}"
    return [_pypi("pypi-entry-points", printable(message), member)]

"""What a pressed wheel says about itself, gathered from the conda packages pressed into it."""

from __future__ import annotations

import configparser
import posixpath
import re
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from condapress._versions import translate_version_spec
from condapress.assemble import core_metadata_from_dist_info, spdx_or_none
from condapress.errors import MetadataError
from condapress.model import CoreMetadata, NoArch, Provenance
from condapress.unpack._conda_meta import safe_name
from condapress.unpack._guard import UNSAFE_HINT

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from condapress.model import CondaRecord, Layout, UnpackedPackage, WheelSpec

__all__ = ["core_metadata", "entry_points", "in_the_wheel", "provenance"]

_DIST_INFO = re.compile(r"^(?:site-packages|lib/python\d+\.\d+t?/site-packages)/[^/]+\.dist-info/")


def _own_dist_info(package: UnpackedPackage, file: str) -> Path | None:
    for entry in package.info.paths:
        match = _DIST_INFO.match(entry.path)
        if match and entry.path[match.end() :] == file:
            return package.root / entry.path
    return None


def in_the_wheel(wheel: WheelSpec, layout: Layout) -> WheelSpec:
    """*wheel* with only the members that have a file in it; the root always counts.

    Licenses, ``License-Expression`` and the provenance follow the files: a compiler runtime
    of which no library was grafted (``--runtime bundle`` grafts only what the binaries need),
    or a package whose files were all left out (headers, static libraries), is not in the wheel.
    """
    placed = {placement.package for placement in layout.placements}
    members = tuple(m for m in wheel.members if m == wheel.members[0] or m in placed)
    return replace(wheel, members=members)


def core_metadata(wheel: WheelSpec, packages: Mapping[str, UnpackedPackage]) -> CoreMetadata:
    """METADATA of *wheel*: the root's own dist-info if it has one, else its conda metadata."""
    root = packages[wheel.members[0]]
    info = root.info
    version = wheel.version
    own = _own_dist_info(root, "METADATA")
    if own is not None:
        meta = core_metadata_from_dist_info(
            own.read_text(encoding="utf-8", errors="replace"),
            name=wheel.distribution,
            version=version,
        )
    else:
        urls = tuple(
            (label, url)
            for label, url in (
                ("Homepage", info.home),
                ("Source", info.dev_url),
                ("Documentation", info.doc_url),
            )
            if url
        )
        pressed = "\n".join(f"- `{packages[name].info.record.dist}`" for name in wheel.members)
        meta = CoreMetadata(
            name=wheel.distribution,
            version=version,
            summary=info.summary,
            project_urls=urls,
            requires_python=_requires_python(root),
            description=f"# {wheel.distribution}\n\n{info.summary or ''}\n\n"
            f"Pressed by condapress from these conda packages:\n\n{pressed}\n",
            description_content_type="text/markdown",
        )
    license_text = info.record.license
    expression = _combined_expression(
        [meta.license_expression or spdx_or_none(license_text)]
        + [spdx_or_none(packages[name].info.record.license) for name in wheel.members[1:]]
    )
    licenses = tuple(
        license_file for name in wheel.members for license_file in _licenses(name, packages[name])
    )
    return replace(
        meta,
        license_expression=expression,
        license=None if expression else (meta.license or license_text),
        license_files=licenses,
        requires_dist=wheel.requires_dist,
    )


def _combined_expression(expressions: list[str | None]) -> str | None:
    """``MIT`` and ``GPL-3.0-only WITH GCC-exception-3.1`` -> ``MIT AND GPL-3.0-only WITH ...``.

    A fat wheel is under the licenses of everything pressed into it. None when the root's
    license, or any member's, is not an SPDX expression: METADATA then says ``License``.
    """
    if any(expression is None for expression in expressions):
        return None
    unique = list(dict.fromkeys(e for e in expressions if e is not None))
    if len(unique) == 1:
        return unique[0]
    return spdx_or_none(" AND ".join(f"({e})" if " OR " in e else e for e in unique))


def _licenses(name: str, package: UnpackedPackage) -> list[tuple[str, Path]]:
    """A package's license files: ``info/licenses/`` and ``share/licenses/`` in its payload.

    conda-forge's GCC runtime keeps its runtime library exception in ``share/licenses/``.
    """
    found = [
        (f"{name}/{file}", package.root / "info" / "licenses" / file)
        for file in package.info.license_files
    ]
    found += [
        (f"{name}/{entry.path.removeprefix('share/licenses/')}", package.root / entry.path)
        for entry in package.info.paths
        if entry.path.startswith("share/licenses/")
    ]
    return found


def _requires_python(package: UnpackedPackage) -> str | None:
    for dep in package.info.record.depends:
        name, _, rest = dep.partition(" ")
        if name == "python" and rest.strip():
            version, _, build = rest.strip().partition(" ")
            return translate_version_spec(version, build or None).specifier or None
    return None


def entry_points(
    wheel: WheelSpec, packages: Mapping[str, UnpackedPackage]
) -> tuple[tuple[str, str, str], ...]:
    """Entry points of *wheel*: the root's own entry_points.txt and noarch link.json scripts."""
    found: dict[tuple[str, str], str] = {}
    for name in wheel.members:
        package = packages[name]
        own = _own_dist_info(package, "entry_points.txt")
        if own is not None and name == wheel.members[0]:
            parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            parser.read_string(own.read_text(encoding="utf-8"))
            for group in parser.sections():
                for key, value in parser.items(group):
                    _check_script_name(package, own, group, key)
                    found[(group, key)] = value
        if package.info.record.noarch is NoArch.PYTHON:
            for line in package.info.entry_points:
                key, _, value = line.partition("=")
                _check_script_name(package, "info/link.json", "console_scripts", key.strip())
                found.setdefault(("console_scripts", key.strip()), value.strip())
    return tuple(sorted((group, key, value) for (group, key), value in found.items()))


def _check_script_name(package: UnpackedPackage, file: Path | str, group: str, name: str) -> None:
    """Refuse a script name that installers could not take as one file name in ``bin/``."""
    if group in ("console_scripts", "gui_scripts") and not safe_name(name):
        where = file if isinstance(file, str) else file.relative_to(package.root).as_posix()
        raise MetadataError(
            f"{package.archive.name}: {where}: the {group} name {name!r} is not a plain file "
            "name (empty, or contains '/', '\\', '..' or a control character)",
            hint=UNSAFE_HINT,
            package=package.info.record.dist,
            path=where,
        )


def provenance(wheel: WheelSpec, records: Mapping[str, CondaRecord]) -> tuple[Provenance, ...]:
    """The conda packages pressed into *wheel*, as the channel described them.

    Where each came from is recorded without any path of this machine (:func:`_source`), so
    that the same archives pressed from any folder give the same bytes.
    """
    return tuple(
        Provenance(
            name=rec.name,
            version=rec.version,
            build=rec.build,
            channel=channel,
            sha256=rec.sha256 or "",
            license=rec.license,
            url=url,
        )
        for rec in (records[name] for name in wheel.members)
        for channel, url in [_source(rec)]
    )


def _source(rec: CondaRecord) -> tuple[str, str]:
    """``(channel, url)`` of *rec* for the provenance.

    A channel on a server: its canonical name when it has one (``conda-forge`` for
    ``https://conda.anaconda.org/conda-forge/``), else its URL; the archive's URL. A local
    channel folder: the folder's name, and the archive's path inside the channel
    (``linux-64/x-1.0-0.conda``). A local archive given as a spec: no channel, its file name.
    """
    import rattler  # noqa: PLC0415 - loaded by the solve already

    file_name = rec.file_name or posixpath.basename(unquote(urlsplit(rec.url).path))
    if urlsplit(rec.url).scheme != "file":
        if urlsplit(rec.channel).scheme not in ("http", "https"):
            return rec.channel, rec.url
        name = rattler.Channel(rec.channel).name
        canonical = name is not None and rattler.Channel(name).base_url == rec.channel
        return (name if canonical and name is not None else rec.channel), rec.url
    if urlsplit(rec.channel).scheme == "file":  # a local channel folder
        return rattler.Channel(rec.channel).name or "", f"{rec.subdir}/{file_name}"
    return "", file_name

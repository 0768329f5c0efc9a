"""What a pressed wheel says about itself, gathered from the conda packages pressed into it."""

from __future__ import annotations

import configparser
import logging
import posixpath
import re
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.metadata import parse_email
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from condapress._paths import dist_info_file, is_valid_name, safe_name
from condapress._versions import translate_version_spec
from condapress.errors import UNSAFE_HINT, MetadataError
from condapress.model import CoreMetadata, NoArch, Provenance

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from condapress.model import CondaRecord, UnpackedPackage, WheelSpec

logger = logging.getLogger(__name__)

__all__ = [
    "KEPT_FIELDS",
    "clean",
    "core_metadata",
    "core_metadata_from_dist_info",
    "entry_points",
    "provenance",
    "spdx_or_none",
]


def _own_dist_info(package: UnpackedPackage, file: str) -> Path | None:
    for entry in package.info.paths:
        if dist_info_file(entry.path) == file:
            return package.root / entry.path
    return None


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


#: Descriptive fields of a package's own METADATA that survive into the wheel's, in this order.
KEPT_FIELDS = (
    ("author", "Author"),
    ("author_email", "Author-email"),
    ("maintainer", "Maintainer"),
    ("maintainer_email", "Maintainer-email"),
    ("keywords", "Keywords"),
    ("classifiers", "Classifier"),
    ("platforms", "Platform"),
    ("supported_platforms", "Supported-Platform"),
)


def spdx_or_none(license_text: str | None) -> str | None:
    """Return conda's free-text ``license`` as a canonical SPDX expression, or None.

    >>> spdx_or_none("mit"), spdx_or_none("Apache 2.0"), spdx_or_none(None)
    ('MIT', None, None)
    """
    if license_text is None or not license_text.strip():
        return None
    try:
        return str(canonicalize_license_expression(license_text.strip()))
    except InvalidLicenseExpression:
        return None


def core_metadata_from_dist_info(text: str, *, name: str, version: str) -> CoreMetadata:
    """Read a package's own ``*.dist-info/METADATA`` (any version 1.0 to 2.4) into CoreMetadata.

    Descriptive fields are kept, and so are ``Requires-Python`` and ``Provides-Extra``;
    ``Requires-Dist`` is not (the plan decides it, from these lines and conda's), nor is
    ``License-File`` (the caller supplies the license files). ``Home-page`` becomes the
    ``Homepage`` project URL. *name* and *version* win over the text's own.
    """
    text = text.replace("\r\n", "\n")
    raw, unparsed = parse_email(text)
    fields: dict[str, object] = dict(raw)
    description = raw.get("description")
    if "description" in unparsed:  # both a Description header and a body: the body is newer
        description = unparsed["description"][-1]
    elif description is not None and re.search(r"(?im)^description:", text.split("\n\n", 1)[0]):
        description = _unfold(description)
    urls = list(raw.get("project_urls", {}).items())
    home = clean(raw.get("home_page", ""))
    if home and not any(re.sub(r"[^a-z]", "", label.lower()) == "homepage" for label, _ in urls):
        urls.insert(0, ("Homepage", home))
    license_text = _unfold(raw.get("license", "")).strip() or raw.get("license_expression", "")
    expression = spdx_or_none(raw.get("license_expression"))
    extra: list[tuple[str, str]] = []
    for key, field in KEPT_FIELDS:
        value = fields.get(key)
        if key == "keywords":  # one field, which parse_email splits at commas
            value = ",".join(k.strip() for k in raw.get("keywords", []) if k.strip())
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        extra.extend((field, kept) for v in values if (kept := clean(str(v))) is not None)
    return CoreMetadata(
        name=name,
        version=version,
        summary=clean(raw.get("summary", "")),
        license_expression=expression,
        license=None if expression or license_text in ("", "UNKNOWN") else license_text,
        project_urls=tuple(urls),
        requires_python=_valid_or_dropped(
            "Requires-Python", clean(raw.get("requires_python", "")), _is_specifier
        ),
        provides_extra=tuple(
            kept
            for value in dict.fromkeys(raw.get("provides_extra", []))
            if (kept := _valid_or_dropped("Provides-Extra", clean(value), is_valid_name))
        ),
        description=description if clean(description or "") else None,
        description_content_type=_valid_or_dropped(
            "Description-Content-Type",
            clean(raw.get("description_content_type", "")),
            lambda text: text.split(";")[0].strip() in _CONTENT_TYPES,
        ),
        extra=tuple(extra),
    )


#: the description formats PyPI renders (PEP 566 / core metadata "Description-Content-Type").
_CONTENT_TYPES = ("text/plain", "text/x-rst", "text/markdown")


def _is_specifier(text: str) -> bool:
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return False
    return True


def _valid_or_dropped(field: str, value: str | None, valid: Callable[[str], bool]) -> str | None:
    """*value*, or None when packaging rejects it.

    A package's own old METADATA may hold values (``Requires-Python: >=3.6.*``) that METADATA
    2.4 does not allow; the wheel is better without them than not at all.
    """
    if value is None or valid(value):
        return value
    logger.warning("leaving out %s %r from the package's METADATA: it is not valid", field, value)
    return None


def clean(value: str) -> str | None:
    r"""*value* on one line, white space folded; None when that leaves nothing, or ``UNKNOWN``.

    >>> clean("  A   summary\n  over two lines "), clean("UNKNOWN")
    ('A summary over two lines', None)
    """
    value = " ".join(value.split())
    return None if value in ("", "UNKNOWN") else value  # distutils wrote UNKNOWN for unset fields


def _unfold(value: str) -> str:
    # Core metadata continues a field on lines indented by 8 spaces, or by 7 and a '|'.
    first, *rest = value.split("\n")
    return "\n".join([first, *(re.sub(r"^( {7}\|| {8}|\t)", "", line) for line in rest)])

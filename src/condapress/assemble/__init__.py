"""Stage 7, assemble: write a staged tree and its metadata into one reproducible ``.whl`` file.

:func:`assemble` gathers what the wheel says about itself (METADATA from the package's own
``*.dist-info`` or from conda's metadata, entry points, licenses, provenance, the data-paths
record: :mod:`condapress.assemble._metadata`) into a :class:`~condapress.model.WheelContents`;
:func:`build_wheel` checks every name, tag, path and field of it, collecting every problem into
one error, before it writes a byte. The zip (:mod:`condapress.assemble._zip`) holds the payload
sorted by path, then the ``.dist-info`` files, RECORD last, with one time stamp and normalized
modes: the same contents make the same bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import stat
import unicodedata
from typing import TYPE_CHECKING

from packaging.metadata import ExceptionGroup, Metadata
from packaging.tags import parse_tag
from packaging.utils import InvalidName, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

import condapress
from condapress import _datapaths
from condapress._distinfo import DATA_PATHS_FILE, PROVENANCE_FILE, SBOM_FILE
from condapress._paths import path_problem
from condapress._progress import NULL_REPORTER
from condapress.assemble._metadata import (
    KEPT_FIELDS,
    core_metadata,
    entry_points,
    provenance,
    spdx_or_none,
)
from condapress.assemble._sbom import sbom_text
from condapress.assemble._zip import Member, date_time, write_atomically
from condapress.errors import SpecError, WheelContentsError, listing
from condapress.model import BuiltWheel, CoreMetadata, DataPaths, WheelContents

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from condapress._progress import Reporter
    from condapress.model import CondaRecord, Runtime, StagedWheel, UnpackedPackage

__all__ = ["assemble", "build_wheel", "dist_info_name", "wheel_filename"]

logger = logging.getLogger(__name__)

_DATA_SCHEMES = ("scripts", "data", "headers", "purelib", "platlib")
#: Fields ``CoreMetadata.extra`` may carry; the others have fields of their own or are the plan's.
_EXTRA_FIELDS = {key.lower(): key for key in (*(f for _, f in KEPT_FIELDS), "Download-URL")}


def dist_info_name(name: str, version: str) -> str:
    """Return the ``.dist-info`` folder name, normalized as in wheel file names.

    >>> dist_info_name("PyYAML", "6.0.1")
    'pyyaml-6.0.1.dist-info'
    >>> dist_info_name("ruamel.yaml", "0.18")
    'ruamel_yaml-0.18.dist-info'
    """
    try:
        normalized = canonicalize_name(name, validate=True).replace("-", "_")
    except InvalidName as exc:
        raise WheelContentsError(f"{name!r} is not a valid distribution name") from exc
    return f"{normalized}-{_version(version)}.dist-info"


def wheel_filename(name: str, version: str, tags: Sequence[str]) -> str:
    """Return the wheel's file name, with *tags* as one compressed tag set (in the given order).

    :raises WheelContentsError: a tag is malformed, or the tags are not one compressed set.

    >>> wheel_filename("pygreet", "1.0.0", ["cp311-cp311-manylinux_2_17_x86_64",
    ...                                     "cp311-cp311-manylinux2014_x86_64"])
    'pygreet-1.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'
    """
    if not tags:
        raise WheelContentsError(f"cannot name the wheel of {name} {version}: it has no tags")
    parts: list[dict[str, None]] = [{}, {}, {}]
    for tag in tags:
        if tag.count("-") != 2 or {str(t) for t in parse_tag(tag)} != {tag}:  # noqa: PLR2004
            raise WheelContentsError(
                f"cannot name the wheel of {name} {version}: {tag!r} is not a tag "
                "like 'cp311-cp311-manylinux_2_17_x86_64' (three lowercase parts)"
            )
        for seen, part in zip(parts, tag.split("-"), strict=True):
            seen[part] = None  # a dict keeps the order in which parts were first seen
    compressed = "-".join(".".join(seen) for seen in parts)
    filename = f"{dist_info_name(name, version).removesuffix('.dist-info')}-{compressed}.whl"
    if len(tags) != len(set(tags)):
        raise WheelContentsError(f"cannot name the wheel of {name} {version}: a tag is given twice")
    # A file name can only say "every combination of these parts": check that is all we claim.
    if (claimed := len(parse_wheel_filename(filename)[3])) != len(tags):
        raise WheelContentsError(
            f"cannot name the wheel of {name} {version}: the tags {', '.join(tags)} are not one "
            f"compressed tag set ({compressed} would claim {claimed} tags)",
            hint="press one wheel per python/abi/platform combination",
        )
    return filename


def assemble(
    staged: StagedWheel,
    packages: Mapping[str, UnpackedPackage],
    records: Mapping[str, CondaRecord],
    output_dir: Path,
    *,
    runtime: Runtime | None = None,
    compression_level: int = 6,
    jobs: int = 1,
    reporter: Reporter = NULL_REPORTER,
) -> BuiltWheel:
    """Write the tagged *staged* wheel into *output_dir*, with its metadata, licenses and records.

    METADATA comes from the root's own ``*.dist-info`` when it has one, else from conda's
    metadata; licenses, provenance and the SBOM from every conda package that put a file in it.

    :param records: the closure's records by name: the provenance says where each came from.
    :param runtime: the compiler-runtime policy, recorded with the provenance.
    :param reporter: told of the bytes compressed as they are, and of the wheel written.
    :raises WheelContentsError: the staged files, tags or metadata cannot make a valid wheel.
    :raises WriteError: the file system refused the wheel.
    """
    spec, layout = staged.spec, staged.layout
    data_paths = (
        DataPaths(layout.libs_dir, layout.environment, staged.sites)
        if staged.sites or layout.environment
        else None
    )
    metadata = core_metadata(spec, packages)
    pressed = provenance(spec, records)
    contents = WheelContents(
        metadata=metadata,
        tags=staged.tags,
        # binaries go to platlib; a wheel of python files alone to purelib
        root_is_purelib=not staged.binaries,
        files=tuple((path, staged.root / path) for path in staged.files),
        executables=staged.executables,
        entry_points=entry_points(spec, packages)
        + tuple(("console_scripts", s.name, s.value) for s in layout.console_scripts),
        provenance=pressed,
        runtime=runtime,
        data_paths=data_paths,
        sbom=sbom_text(metadata.name, _version(metadata.version), pressed, records),
        excluded=staged.excluded,
    )
    built = build_wheel(
        contents, output_dir, compression_level=compression_level, jobs=jobs, reporter=reporter
    )
    return dataclasses.replace(built, stripped=staged.stripped)


def build_wheel(
    contents: WheelContents,
    output_dir: Path,
    *,
    compression_level: int = 6,
    source_date_epoch: int | None = None,
    jobs: int = 1,
    reporter: Reporter = NULL_REPORTER,
) -> BuiltWheel:
    """Write *contents* as one wheel in *output_dir*, byte for byte the same for the same inputs.

    Everything is checked before anything is written; the wheel is written to a hidden temporary
    file and moved into place, so it appears complete or not at all (an existing one is replaced).

    :param compression_level: 0 (stored) to 9 (deflate level).
    :param source_date_epoch: the time stamp of every member, in seconds since the epoch; when
        None, ``$SOURCE_DATE_EPOCH``, else 1980-01-01 (clamped to what a zip file can hold).
    :param jobs: threads that deflate; the bytes written do not depend on it.
    :param reporter: told of the bytes written as they are, and of the wheel when complete.
    :raises WheelContentsError: bad names, tags, metadata or paths, or a missing source file.
    :raises WriteError: the file system refused the wheel (no space, no permission).
    """
    if type(compression_level) is not int or not 0 <= compression_level <= 9:  # noqa: PLR2004
        raise SpecError(
            f"compression level must be a whole number from 0 to 9, not {compression_level!r}",
            hint="0 stores the files, 9 compresses them best",
        )
    stamp = date_time(source_date_epoch)
    md = contents.metadata
    stem = dist_info_name(md.name, md.version).removesuffix(".dist-info")
    filename = wheel_filename(md.name, md.version, contents.tags)
    generated = _dist_info_files(contents, stem)
    payload, licenses = _checked_files(contents, stem)
    members = sorted(payload) + sorted(generated + licenses)
    final = output_dir / filename
    reporter.compressing(filename, sum(member.size or len(member.data) for member in members))
    progress = functools.partial(reporter.compressed, filename)
    sha256, size, scan = write_atomically(
        final, members, stem, stamp, compression_level, max(1, jobs), progress
    )
    reporter.assembled(filename, size)
    pressed = tuple(package.name for package in contents.provenance)
    return BuiltWheel(
        path=final, sha256=sha256, size=size, tags=contents.tags, members=pressed, scan=scan
    )


def _version(version: str) -> str:
    """*version* in its normal PEP 440 spelling (``1.0.0-rc1`` -> ``1.0.0rc1``)."""
    try:
        return str(Version(version))
    except InvalidVersion as exc:
        raise WheelContentsError(f"{version!r} is not a valid version (PEP 440)") from exc


def _problems(stem: str, what: str, problems: list[str]) -> WheelContentsError:
    """One error for every problem found: ``cannot assemble <stem>: <what>: <problems>``."""
    return WheelContentsError(
        f"cannot assemble {stem}: {what}: {listing(problems, '; ')}",
        package=stem,
        detail="\n".join(problems),
    )


def _metadata_text(md: CoreMetadata, problems: list[str]) -> str:
    """METADATA (core metadata 2.4) for *md*; what packaging finds wrong goes to *problems*."""
    fields = [
        ("Metadata-Version", "2.4"),
        ("Name", md.name),
        ("Version", _version(md.version)),
    ]
    if md.summary is not None:
        fields.append(("Summary", " ".join(md.summary.split())))  # conda summaries wrap lines
    if md.license_expression is not None:  # PEP 639: License-Expression replaces License
        expression = spdx_or_none(md.license_expression) or md.license_expression
        fields.append(("License-Expression", expression))
    elif md.license and md.license.strip():
        fields.append(("License", md.license.strip().replace("\r\n", "\n")))
    fields += [("License-File", path) for path, _ in md.license_files]
    fields += [("Project-URL", f"{label}, {url}") for label, url in md.project_urls]
    problems += [
        f"Project-URL label {label!r} has a ','" for label, _ in md.project_urls if "," in label
    ]
    if md.requires_python is not None:
        fields.append(("Requires-Python", md.requires_python))
    fields += [("Provides-Extra", extra) for extra in md.provides_extra]
    fields += [("Requires-Dist", req) for req in md.requires_dist]
    fields += [(_EXTRA_FIELDS.get(key.lower(), key), value) for key, value in md.extra]
    problems += [
        f"{key!r} cannot be set through extra (only {', '.join(_EXTRA_FIELDS.values())})"
        for key, _ in md.extra
        if key.lower() not in _EXTRA_FIELDS
    ]
    if md.description_content_type is not None:
        fields.append(("Description-Content-Type", md.description_content_type))
    problems += [
        f"{key} must be one line, not {value!r}"
        for key, value in fields
        if key != "License" and ("\n" in value or "\r" in value)
    ]
    # A multi-line License continues on lines indented by 8 spaces.
    text = "".join(f"{key}: {value.replace(chr(10), chr(10) + 8 * ' ')}\n" for key, value in fields)
    if md.description:
        text += "\n" + md.description + ("" if md.description.endswith("\n") else "\n")
    try:
        Metadata.from_email(text, validate=True)
    except ExceptionGroup as group:
        problems += sorted(str(exc) for exc in group.exceptions)  # packaging's order varies
    return text


def _entry_points_text(entry_points: Sequence[tuple[str, str, str]], problems: list[str]) -> str:
    """``entry_points.txt``, groups and names sorted; names it could not write go to *problems*.

    >>> print(_entry_points_text([("console_scripts", "salute", "greet:main")], []))
    [console_scripts]
    salute = greet:main
    <BLANKLINE>
    """
    groups: dict[str, dict[str, str]] = {}
    for group, name, value in entry_points:
        # What configparser and importlib.metadata would misread: brackets, delimiters, comments.
        checks = (("group", group, "[]"), ("name", name, "=:[#;"), ("value", value, ""))
        bad = [
            f"{what} {text!r}"
            for what, text, forbidden in checks
            if not text or text != text.strip() or any(c in text for c in "\n\r" + forbidden)
        ]
        names = groups.setdefault(group, {})
        if bad:
            problems.append(f"entry point {group}/{name} has a bad {' and a bad '.join(bad)}")
        elif name in names:
            problems.append(f"entry point {group}/{name} is given twice")
        names[name] = value
    return "\n".join(
        f"[{group}]\n" + "".join(f"{name} = {names[name]}\n" for name in sorted(names))
        for group, names in sorted(groups.items())
    )


def _dist_info_files(contents: WheelContents, stem: str) -> list[Member]:
    """The files condapress writes into ``<stem>.dist-info`` (RECORD aside, written last)."""
    problems: list[str] = []
    texts = {"METADATA": _metadata_text(contents.metadata, problems)}
    texts["WHEEL"] = (
        "Wheel-Version: 1.0\n"
        f"Generator: condapress {condapress.__version__}\n"
        f"Root-Is-Purelib: {'true' if contents.root_is_purelib else 'false'}\n"
        + "".join(f"Tag: {tag}\n" for tag in contents.tags)
    )
    if contents.entry_points:
        texts["entry_points.txt"] = _entry_points_text(contents.entry_points, problems)
    if problems:
        raise _problems(stem, "invalid metadata", problems)
    packages = sorted(contents.provenance, key=lambda p: (p.name, p.version, p.build, p.sha256))
    provenance: dict[str, object] = {
        "version": 1,
        "packages": [dataclasses.asdict(p) for p in packages],
    }
    if contents.runtime is not None:
        provenance["runtime"] = contents.runtime
    if contents.excluded:
        provenance["excluded"] = sorted(contents.excluded)
    texts[PROVENANCE_FILE] = json.dumps(provenance, indent=2, sort_keys=True) + "\n"
    if contents.data_paths is not None:
        texts[DATA_PATHS_FILE] = _datapaths.record_text(contents.data_paths)
    if contents.sbom is not None:
        texts[SBOM_FILE] = contents.sbom
    return [Member(f"{stem}.dist-info/{name}", 0o644, data=t.encode()) for name, t in texts.items()]


def _path_problem(path: str, stem: str | None) -> str | None:
    """What is wrong with *path*; with *stem*, also check it against the wheel's layout."""
    if (problem := path_problem(path)) is not None:
        return problem
    top, *rest = path.split("/")
    data = f"{stem}.data"
    for bad, problem in (
        (
            stem is not None and top.endswith(".dist-info"),
            f"is inside a .dist-info folder (condapress writes {stem}.dist-info itself)",
        ),
        (
            stem is not None and top.endswith(".data") and top != data,
            f"is inside a .data folder other than {data}",
        ),
        (
            stem is not None and top == data and (not rest[1:] or rest[0] not in _DATA_SCHEMES),
            f"is inside {data} but not under scripts, data, headers, purelib or platlib",
        ),
    ):
        if bad:
            return problem
    return None


def _checked_files(contents: WheelContents, stem: str) -> tuple[list[Member], list[Member]]:
    """Check every payload and license path and source; one error lists all problems."""
    problems: list[str] = []

    def check(entries: Sequence[tuple[str, Path]], label: str, prefix: str) -> list[Member]:
        """The members for *entries* (under *prefix*); their problems, named with *label*."""
        members: list[Member] = []
        seen: dict[str, str] = {}  # NFC form -> path: installers on macOS collapse the two
        for path, source in entries:
            problem = _path_problem(path, None if prefix else stem)
            key = unicodedata.normalize("NFC", path)
            if problem is None and key in seen:
                earlier = seen[key]
                problem = (
                    "is listed twice"
                    if earlier == path
                    else f"is {earlier!a} in another Unicode normalization"
                )
            if problem is not None:
                problems.append(f"{label}{path!r} {problem}")
                continue
            seen[key] = path
            try:
                st = source.stat()
            except OSError as exc:
                why = f"cannot be read ({exc.strerror})"
                why = "does not exist" if isinstance(exc, FileNotFoundError) else why
                problems.append(f"{label}{path!r}: its source {source} {why}")
                continue
            if not stat.S_ISREG(st.st_mode):
                kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
                problems.append(f"{label}{path!r}: its source {source} is {kind}")
                continue
            executable = not prefix and (path in contents.executables or st.st_mode & 0o111)
            mode = 0o755 if executable else 0o644
            members.append(Member(prefix + path, mode, st.st_size, source))
        folders = {key.rsplit("/", i)[0] for key in seen for i in range(1, key.count("/") + 1)}
        problems.extend(
            f"{label}{seen[key]!r} is both a file and a folder"
            for key in sorted(seen.keys() & folders)
        )
        return members

    payload = check(contents.files, "", "")
    licenses = check(
        contents.metadata.license_files, "license file ", f"{stem}.dist-info/licenses/"
    )
    payload_paths = {path for path, _ in contents.files}
    problems.extend(
        f"executable {path!r} is not among the files"
        for path in sorted(contents.executables - payload_paths)
    )
    if problems:
        raise _problems(stem, "bad files", problems)
    return payload, licenses

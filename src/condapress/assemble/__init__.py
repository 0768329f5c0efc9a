"""Stage 5: write a staged tree and its metadata into one reproducible ``.whl`` file."""

from __future__ import annotations

import base64
import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
import re
import secrets
import stat
import time
import unicodedata
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.metadata import ExceptionGroup, Metadata, parse_email
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import parse_tag
from packaging.utils import InvalidName, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

import condapress
from condapress import _datapaths
from condapress._disk import write_hint
from condapress._paths import destination, path_problem
from condapress.assemble import _deflate
from condapress.errors import SpecError, WheelContentsError, WriteError
from condapress.model import BuiltWheel, CoreMetadata, WheelContents

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

__all__ = [
    "DATA_PATHS_FILE",
    "PROVENANCE_FILE",
    "WheelContentsError",
    "build_wheel",
    "core_metadata_from_dist_info",
    "dist_info_name",
    "spdx_or_none",
    "wheel_filename",
]

logger = logging.getLogger(__name__)

#: Name of the file in the ``.dist-info`` that lists the conda packages a wheel was pressed from.
PROVENANCE_FILE = "conda-packages.json"
#: Name of the file in the ``.dist-info`` that records the placeholder sites and the variables
#: set for them (docs/wheels.md, "Data paths").
DATA_PATHS_FILE = "conda-data-paths.json"

_CHUNK = 1 << 20
_EPOCH_1980 = 315_532_800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can carry
_EPOCH_2107 = 4_354_819_198  # 2107-12-31T23:59:58Z, the latest
_MAX_LISTED = 10
_DATA_SCHEMES = ("scripts", "data", "headers", "purelib", "platlib")
#: Descriptive fields of a package's own METADATA that survive into the wheel's, in this order.
_KEPT_FIELDS = (
    ("author", "Author"),
    ("author_email", "Author-email"),
    ("maintainer", "Maintainer"),
    ("maintainer_email", "Maintainer-email"),
    ("keywords", "Keywords"),
    ("classifiers", "Classifier"),
    ("platforms", "Platform"),
    ("supported_platforms", "Supported-Platform"),
)
#: Fields ``CoreMetadata.extra`` may carry; the others have fields of their own or are the plan's.
_EXTRA_FIELDS = {key.lower(): key for key in (*(f for _, f in _KEPT_FIELDS), "Download-URL")}
_DateTime = tuple[int, int, int, int, int, int]


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
    home = _clean(raw.get("home_page", ""))
    if home and not any(re.sub(r"[^a-z]", "", label.lower()) == "homepage" for label, _ in urls):
        urls.insert(0, ("Homepage", home))
    license_text = _unfold(raw.get("license", "")).strip() or raw.get("license_expression", "")
    expression = spdx_or_none(raw.get("license_expression"))
    extra: list[tuple[str, str]] = []
    for key, field in _KEPT_FIELDS:
        value = fields.get(key)
        if key == "keywords":  # one field, which parse_email splits at commas
            value = ",".join(k.strip() for k in raw.get("keywords", []) if k.strip())
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        extra.extend((field, clean) for v in values if (clean := _clean(str(v))) is not None)
    return CoreMetadata(
        name=name,
        version=version,
        summary=_clean(raw.get("summary", "")),
        license_expression=expression,
        license=None if expression or license_text in ("", "UNKNOWN") else license_text,
        project_urls=tuple(urls),
        requires_python=_valid_or_dropped(
            "Requires-Python", _clean(raw.get("requires_python", "")), _is_specifier
        ),
        provides_extra=tuple(
            kept
            for value in dict.fromkeys(raw.get("provides_extra", []))
            if (kept := _valid_or_dropped("Provides-Extra", _clean(value), _is_extra_name))
        ),
        description=description if _clean(description or "") else None,
        description_content_type=_valid_or_dropped(
            "Description-Content-Type",
            _clean(raw.get("description_content_type", "")),
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


def _is_extra_name(text: str) -> bool:
    try:
        canonicalize_name(text, validate=True)
    except InvalidName:
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


def build_wheel(
    contents: WheelContents,
    output_dir: Path,
    *,
    compression_level: int = 6,
    source_date_epoch: int | None = None,
    jobs: int = 1,
) -> BuiltWheel:
    """Write *contents* as one wheel in *output_dir*, byte for byte the same for the same inputs.

    Everything is checked before anything is written; the wheel is written to a hidden temporary
    file and moved into place, so it appears complete or not at all (an existing one is replaced).

    :param compression_level: 0 (stored) to 9 (deflate level).
    :param source_date_epoch: the time stamp of every member, in seconds since the epoch; when
        None, ``$SOURCE_DATE_EPOCH``, else 1980-01-01 (clamped to what a zip file can hold).
    :param jobs: threads that deflate; the bytes written do not depend on it.
    :raises WheelContentsError: bad names, tags, metadata or paths, or a missing source file.
    :raises WriteError: the file system refused the wheel (no space, no permission).
    """
    if type(compression_level) is not int or not 0 <= compression_level <= 9:  # noqa: PLR2004
        raise SpecError(
            f"compression level must be a whole number from 0 to 9, not {compression_level!r}",
            hint="0 stores the files, 9 compresses them best",
        )
    date_time = _date_time(source_date_epoch)
    md = contents.metadata
    stem = dist_info_name(md.name, md.version).removesuffix(".dist-info")
    filename = wheel_filename(md.name, md.version, contents.tags)
    generated = _dist_info_files(contents, stem)
    payload, licenses = _checked_files(contents, stem)
    members = sorted(payload) + sorted(generated + licenses)
    final = output_dir / filename
    sha256, size = _write_atomically(
        final, members, stem, date_time, compression_level, max(1, jobs)
    )
    pressed = tuple(package.name for package in contents.provenance)
    return BuiltWheel(path=final, sha256=sha256, size=size, tags=contents.tags, members=pressed)


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class _Member:
    arcname: str
    mode: int
    size: int = 0  # of the source; decides whether the entry needs ZIP64
    source: Path | None = dataclasses.field(default=None, compare=False)
    data: bytes = dataclasses.field(default=b"", compare=False)

    def chunks(self) -> Iterator[bytes]:
        if self.source is None:
            yield self.data
            return
        try:
            with self.source.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    yield chunk
        except OSError as exc:
            raise WheelContentsError(
                f"cannot read {self.source} (for {self.arcname!r}): {exc.strerror}",
                hint="the staged files changed while the wheel was written; press again",
                path=str(self.source),
            ) from exc


def _version(version: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion as exc:
        raise WheelContentsError(f"{version!r} is not a valid version (PEP 440)") from exc


def _date_time(epoch: int | None) -> _DateTime:
    if epoch is None and (env := os.environ.get("SOURCE_DATE_EPOCH", "").strip()):
        try:
            epoch = int(env)
        except ValueError:
            raise SpecError(
                f"SOURCE_DATE_EPOCH must be a whole number of seconds, not {env!r}",
                hint="set it to the output of 'git log -1 --format=%ct', or unset it",
            ) from None
    # A zip entry holds a local time from 1980 to 2107; wheels use UTC.
    when = min(max(_EPOCH_1980 if epoch is None else epoch, _EPOCH_1980), _EPOCH_2107)
    return time.gmtime(when)[:6]


def _problems(stem: str, what: str, problems: list[str]) -> WheelContentsError:
    more = f"; ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
    listed = "; ".join(problems[:_MAX_LISTED]) + more
    return WheelContentsError(
        f"cannot assemble {stem}: {what}: {listed}", package=stem, detail="\n".join(problems)
    )


def _clean(value: str) -> str | None:
    value = " ".join(value.split())
    return None if value in ("", "UNKNOWN") else value  # distutils wrote UNKNOWN for unset fields


def _unfold(value: str) -> str:
    # Core metadata continues a field on lines indented by 8 spaces, or by 7 and a '|'.
    first, *rest = value.split("\n")
    return "\n".join([first, *(re.sub(r"^( {7}\|| {8}|\t)", "", line) for line in rest)])


def _metadata_text(md: CoreMetadata, problems: list[str]) -> str:
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


def _dist_info_files(contents: WheelContents, stem: str) -> list[_Member]:
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
    texts[PROVENANCE_FILE] = json.dumps(provenance, indent=2, sort_keys=True) + "\n"
    if contents.data_paths is not None:
        texts[DATA_PATHS_FILE] = _datapaths.record_text(contents.data_paths)
    return [
        _Member(f"{stem}.dist-info/{name}", 0o644, data=t.encode()) for name, t in texts.items()
    ]


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


def _checked_files(contents: WheelContents, stem: str) -> tuple[list[_Member], list[_Member]]:
    """Check every payload and license path and source; one error lists all problems."""
    problems: list[str] = []

    def check(entries: Sequence[tuple[str, Path]], label: str, prefix: str) -> list[_Member]:
        members: list[_Member] = []
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
            members.append(_Member(prefix + path, mode, st.st_size, source))
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


def _write_zip(
    fh: io.BufferedRandom,
    members: Sequence[_Member],
    stem: str,
    date_time: _DateTime,
    level: int,
    jobs: int,
) -> None:
    rows: list[tuple[str, str, str]] = []

    def add(member: _Member) -> None:
        zinfo = zipfile.ZipInfo(member.arcname, date_time)
        zinfo.create_system = 3  # Unix, so that installers honour the mode bits
        zinfo.external_attr = (stat.S_IFREG | member.mode) << 16
        zinfo.file_size = member.size or len(member.data)  # only decides ZIP64; rewritten after
        if level == 0:
            zinfo.compress_type = zipfile.ZIP_STORED
            digest, size = hashlib.sha256(), 0
            with zf.open(zinfo, "w") as out:
                for chunk in member.chunks():  # the source is never read whole
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
        else:
            digest, size = _add_deflated(zf, zinfo, member, level, pool, jobs)
        b64 = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
        rows.append((member.arcname, f"sha256={b64}", str(size)))

    with zipfile.ZipFile(fh, "w") as zf, ThreadPoolExecutor(max_workers=jobs) as pool:
        for member in members:
            add(member)
        rows.append((f"{stem}.dist-info/RECORD", "", ""))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        add(_Member(f"{stem}.dist-info/RECORD", 0o644, data=buffer.getvalue().encode()))


def _add_deflated(
    zf: zipfile.ZipFile,
    zinfo: zipfile.ZipInfo,
    member: _Member,
    level: int,
    pool: ThreadPoolExecutor,
    jobs: int,
) -> tuple[hashlib._Hash, int]:
    """Write one member deflated in parallel blocks (:mod:`condapress.assemble._deflate`).

    ``ZipFile.open(..., "w")`` can only deflate on the calling thread, so the member is written
    the way it writes one to a seekable file: the local header, the data, then the header again
    with the CRC and sizes, and the member registered for the central directory.
    """
    fp = zf.fp
    assert fp is not None  # noqa: S101 - the ZipFile is open for writing
    zinfo.compress_type = zipfile.ZIP_DEFLATED
    zinfo.flag_bits, zinfo.CRC, zinfo.compress_size = 0, 0, 0  # as ZipFile.open(..., "w")
    zip64 = zinfo.file_size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule
    zinfo.header_offset = fp.tell()
    fp.write(zinfo.FileHeader(zip64))
    digest, crc, size, compressed = hashlib.sha256(), 0, 0, 0
    for block, data in _deflate.deflate(member.chunks(), level, pool, ahead=2 * jobs):
        digest.update(block)
        crc = zlib.crc32(block, crc)
        size += len(block)
        compressed += len(data)
        fp.write(data)
    zinfo.CRC, zinfo.file_size, zinfo.compress_size = crc, size, compressed
    end = fp.tell()
    fp.seek(zinfo.header_offset)
    fp.write(zinfo.FileHeader(zip64))
    fp.seek(end)
    zf.filelist.append(zinfo)
    zf.NameToInfo[zinfo.filename] = zinfo
    zf.start_dir = end  # where the central directory will go
    zf._didModify = True  # type: ignore[attr-defined]  # noqa: SLF001 - as ZipFile.open does
    return digest, size


def _write_atomically(
    final: Path,
    members: Sequence[_Member],
    stem: str,
    date_time: _DateTime,
    level: int,
    jobs: int,
) -> tuple[str, int]:
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
    try:
        destination(final.parent, tmp.name)  # made of validated names; checked all the same
        # os.open with 0o666 lets the umask decide the wheel's mode, as for any other new file.
        with os.fdopen(os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666), "w+b") as fh:
            _write_zip(fh, members, stem, date_time, level, jobs)
            fh.flush()
            os.fsync(fh.fileno())
            fh.seek(0)
            digest = hashlib.sha256()
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
            size = fh.tell()
        tmp.replace(final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise WriteError(
                f"cannot write {final.name}: {exc.strerror or exc}",
                hint=write_hint(exc, final.parent, "pass -o with"),
                path=str(final),
                detail=str(exc),
            ) from exc
        raise
    return digest.hexdigest(), size

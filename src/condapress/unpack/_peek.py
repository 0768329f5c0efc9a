"""What the archives say before the plan: local archives given as specs, and the packages' facts.

The plan is the same whatever the download cache holds: it reads the archives of local channels
(those present) and of local archive specs, and from remote channels those of the packages the
plan asks for (the roots and the python packages, downloaded if need be). Every archive read is
verified against its record first. The others are planned from their repodata alone.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from condapress._paths import file_digest, file_url_path, is_valid_name
from condapress._progress import NULL_REPORTER
from condapress.errors import UNSAFE_HINT, MetadataError, SpecError, printable
from condapress.model import DOWNLOAD_TIMEOUT, PackageFacts

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from condapress._progress import Reporter
    from condapress.model import Closure, CondaRecord

__all__ = ["local_records", "peek"]

logger = logging.getLogger(__name__)

_ARCHIVE_SUFFIXES = (".conda", ".tar.bz2")


def local_records(specs: Iterable[str]) -> dict[str, CondaRecord]:
    """The record of each of *specs* that names a local archive (a feedstock's fresh build).

    The record is the archive's own ``index.json``, with its sha256, size and file name, as a
    channel would list it. Other specs are left to the solver.

    :raises SpecError: a spec ends in ``.conda`` or ``.tar.bz2`` but names no file.
    :raises ArchiveError: the archive cannot be read.
    """
    return {spec: _local_record(Path(spec)) for spec in specs if _is_archive(spec)}


def peek(
    closure: Closure,
    wanted: Collection[str],
    cache_dir: Path,
    *,
    timeout: float = DOWNLOAD_TIMEOUT,
    reporter: Reporter = NULL_REPORTER,
) -> dict[str, PackageFacts]:
    """Facts for the packages of *closure* whose archives the plan reads (module docstring).

    :param wanted: the packages to read from a remote channel too
        (:func:`condapress.plan.facts_wanted`).
    Reads ``info/`` (cheap: a separate stream in ``.conda``) and, for packages with files under
    site-packages, their own ``*.dist-info/METADATA`` to learn their PyPI name and requirements.

    :param timeout: the deadline of each download.
    :param reporter: told about each download.
    :raises ArchiveError: an archive is not the one its record lists, or cannot be read.
    :raises ChannelError: a root's archive could not be downloaded.
    :raises MetadataError: a package's own METADATA names it with something that is no name.
    """
    read = [record for record in closure.records if _read(record, wanted=record.name in wanted)]
    if not read:  # a plan from repodata alone: the readers are not even imported
        return {}
    from condapress.unpack._fetch import fetch  # noqa: PLC0415 - see unpack._LAZY

    return {
        rec.name: _facts(rec, fetch(rec, cache_dir, timeout=timeout, reporter=reporter))
        for rec in read
    }


def _read(record: CondaRecord, *, wanted: bool) -> bool:
    """Whether the plan reads the archive of *record*: a local channel's that is there, or wanted.

    A local channel may hold only repodata (a snapshot): what is missing is planned from it.
    """
    url = urlsplit(record.url)
    if url.scheme not in ("file", ""):
        return wanted
    return Path(file_url_path(url.path) if url.scheme else record.url).is_file()


def _facts(record: CondaRecord, archive: Path) -> PackageFacts:
    from condapress.unpack._archive import read_info, read_python_metadata  # noqa: PLC0415

    info = read_info(archive, record=record)
    has_site_packages = bool(info.site_packages)
    metadata = read_python_metadata(archive) if has_site_packages else None
    name = metadata.get("Name") if metadata is not None else None
    if name is not None and not is_valid_name(name):
        # It names the wheel, its folders and a Requires-Dist: refused before any use.
        raise MetadataError(
            f"{archive.name}: the Name {name!r} in its .dist-info/METADATA is not a valid "
            "distribution name (letters, digits, '.', '-' and '_', beginning and ending "
            "with a letter or digit)",
            hint=UNSAFE_HINT,
            package=record.dist,
            path="METADATA",
        )
    requires = None
    if metadata is not None:
        requires = tuple(" ".join(str(v).split()) for v in metadata.get_all("Requires-Dist", []))
    return PackageFacts(
        name=record.name,
        has_site_packages=has_site_packages,
        dist_info_name=name,
        requires_dist=requires,
    )


def _is_archive(spec: str) -> bool:
    """Whether *spec* names a local archive; one that is not there is an error, not a spec."""
    if not spec.endswith(_ARCHIVE_SUFFIXES):
        return False
    path = Path(spec)
    if path.is_file():
        return True
    hint = "check the path of the archive"
    stem = path.name.removesuffix(".conda").removesuffix(".tar.bz2")
    name, *version_build = stem.rsplit("-", 2)
    if len(version_build) == len(("version", "build")):  # the name to ask the channels for
        hint += f", or name the package to take it from the channels: {name!r}"
    raise SpecError(
        f"no such file: {printable(spec)}"
        if not path.exists()
        else f"not a file: {printable(spec)}",
        hint=printable(hint),
        path=spec,
    )


def _local_record(path: Path) -> CondaRecord:
    """The record of a local archive (a feedstock's fresh build), as a channel would give it."""
    from condapress.unpack._archive import read_info  # noqa: PLC0415 - see unpack._LAZY

    record = read_info(path).record
    sha256, size = file_digest(path)
    return replace(
        record,
        sha256=sha256,
        size=size,
        url=path.resolve().as_uri(),
        channel=str(path.resolve().parent),
        file_name=path.name,
    )

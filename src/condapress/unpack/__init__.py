"""Stages 2 and 4, unpack: what the archives say, and every archive a wheel needs, extracted.

Archives are untrusted input. Each is fetched and verified against its record (sha256, size;
:mod:`condapress.unpack._fetch`), streamed with conda-package-streaming with every member checked
before it touches the disk (:mod:`condapress.unpack._guard`), its ``info/`` validated
(:mod:`condapress.unpack._conda_meta`) and its payload verified against ``info/paths.json``
(:mod:`condapress.unpack._payload`). Before the plan, :func:`local_records` reads archives given
as specs and :func:`peek` what the plan needs of the archives (:mod:`condapress.unpack._peek`);
after it, :func:`unpack` extracts every member of every wheel.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from typing import TYPE_CHECKING, Any

from condapress._paths import destination
from condapress._progress import NULL_REPORTER
from condapress.unpack._peek import local_records, peek

if TYPE_CHECKING:
    from pathlib import Path

    from condapress._progress import Reporter
    from condapress.model import UnpackedPackage, WheelPlan
    from condapress.unpack._archive import extract, read_info, read_python_metadata
    from condapress.unpack._fetch import fetch

__all__ = [
    "extract",
    "fetch",
    "local_records",
    "peek",
    "read_info",
    "read_python_metadata",
    "unpack",
]


def unpack(
    the_plan: WheelPlan,
    cache_dir: Path,
    dest: Path,
    *,
    timeout: float,
    jobs: int = 1,
    reporter: Reporter = NULL_REPORTER,
) -> dict[str, UnpackedPackage]:
    """Fetch and extract every conda package of *the_plan*'s wheels into ``dest/<name>``.

    :param timeout: the deadline of each download.
    :param jobs: packages extracted at once (each into a folder of its own, so the result does
        not depend on it), or the threads that write the small files and links of a package
        that is extracted alone; the first failure in the plan's order is raised, once the
        packages started have finished.
    :param reporter: told about each download and each archive extracted.
    :raises ArchiveError: an archive is damaged, unsafe, or not the one its record lists.
    :raises ChannelError: an archive could not be downloaded.
    :raises WriteError: the file system refused a write.
    """
    from condapress.unpack._archive import extract  # noqa: PLC0415 - see _LAZY
    from condapress.unpack._fetch import fetch  # noqa: PLC0415

    records = {record.name: record for record in the_plan.closure.records}
    members = sorted({name for wheel in the_plan.wheels for name in wheel.members})
    folders = {name: destination(dest, name) for name in members}
    reporter.unpacking(len(members), sum(records[name].size or 0 for name in members))
    # Downloads on this thread: Ctrl-C or SIGTERM stops one at once, which no worker would.
    archives = {
        name: fetch(records[name], cache_dir, timeout=timeout, reporter=reporter)
        for name in members
    }
    # zstd, bz2 and the writes release the GIL: one large archive extracts beside the others.
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    # A package alone writes its small files on the threads the others would have used; beside
    # others, the cores are taken already and more writers cost CPU for nothing (measured:
    # docs/performance.md).
    writers = jobs if len(members) == 1 else 1
    try:
        futures = [
            pool.submit(
                extract, archives[name], folders[name], record=records[name], threads=writers
            )
            for name in members
        ]
        unpacked = {}
        for name, future in zip(members, futures, strict=True):
            unpacked[name] = future.result()
            # the cache names its copies <sha256>-<file name>: the record's name is the archive's
            archive = archives[name]
            reporter.unpacked(records[name].file_name or archive.name, archive.stat().st_size)
        return unpacked
    finally:
        # after a failure or an interrupt: none starts, and those running finish before the
        # work folder is removed
        pool.shutdown(wait=True, cancel_futures=True)


# Loaded on first use: the readers and the downloader (conda-package-streaming, tarfile, zstd,
# http.client) take longer to import than a plan from repodata alone takes to make.
_LAZY = {
    "extract": "condapress.unpack._archive",
    "read_info": "condapress.unpack._archive",
    "read_python_metadata": "condapress.unpack._archive",
    "fetch": "condapress.unpack._fetch",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whatever the named module defines
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'condapress.unpack' has no attribute {name!r}")

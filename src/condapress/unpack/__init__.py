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

from typing import TYPE_CHECKING

from condapress._paths import destination
from condapress._progress import NULL_REPORTER
from condapress.unpack._archive import extract, read_info, read_python_metadata
from condapress.unpack._fetch import fetch
from condapress.unpack._peek import local_records, peek

if TYPE_CHECKING:
    from pathlib import Path

    from condapress._progress import Reporter
    from condapress.model import UnpackedPackage, WheelPlan

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
    reporter: Reporter = NULL_REPORTER,
) -> dict[str, UnpackedPackage]:
    """Fetch and extract every conda package of *the_plan*'s wheels into ``dest/<name>``.

    :param timeout: the deadline of each download.
    :param reporter: told about each download and each archive extracted.
    :raises ArchiveError: an archive is damaged, unsafe, or not the one its record lists.
    :raises ChannelError: an archive could not be downloaded.
    :raises WriteError: the file system refused a write.
    """
    records = {record.name: record for record in the_plan.closure.records}
    members = sorted({name for wheel in the_plan.wheels for name in wheel.members})
    reporter.unpacking(len(members), sum(records[name].size or 0 for name in members))
    unpacked = {}
    for name in members:
        archive = fetch(records[name], cache_dir, timeout=timeout, reporter=reporter)
        unpacked[name] = extract(archive, destination(dest, name), record=records[name])
        # the cache names its copies <sha256>-<file name>: the record's name is the archive's
        reporter.unpacked(records[name].file_name or archive.name, archive.stat().st_size)
    return unpacked

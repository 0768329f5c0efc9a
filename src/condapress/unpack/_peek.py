"""Read what the closure's archives say about themselves, for those archives that are at hand."""

from __future__ import annotations

import logging
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from packaging.utils import InvalidName, canonicalize_name

from condapress import unpack
from condapress.errors import MetadataError
from condapress.model import PackageFacts
from condapress.unpack import _fetch
from condapress.unpack._guard import UNSAFE_HINT

if TYPE_CHECKING:
    from condapress.model import Closure, CondaRecord

__all__ = ["at_hand", "gather_facts"]

logger = logging.getLogger(__name__)


def at_hand(record: CondaRecord, cache_dir: Path) -> bool:
    """Whether the archive of *record* is on this machine: a local channel's file, or cached.

    A cached copy counts whatever its size: :func:`~condapress.unpack._fetch.fetch` checks it, and
    downloads it again when it is damaged, so a damaged cache cannot change the plan.
    """
    url = urlsplit(record.url)
    if url.scheme in ("file", ""):
        return Path(urllib.request.url2pathname(url.path) if url.scheme else record.url).is_file()
    if not (record.sha256 or record.md5):
        return False
    return _fetch.cached_path(record, cache_dir).is_file()


def gather_facts(
    closure: Closure,
    cache_dir: Path,
    skip: frozenset[str] = frozenset(),
    *,
    timeout: float = _fetch.DOWNLOAD_TIMEOUT,
) -> dict[str, PackageFacts]:
    """Facts for every package of *closure* whose archive is local or cached (except *skip*).

    Each archive read is first verified against its record, as for the press (a damaged cached
    copy is downloaded again), and its ``index.json`` must name the record's package. Reads
    ``info/`` (cheap: a separate stream in ``.conda``) and, for packages with files under
    site-packages, their own ``*.dist-info/METADATA`` to learn their PyPI name and requirements.

    :param timeout: the deadline of a download, when a damaged cached copy is replaced.
    :raises ArchiveError: an archive at hand is not the one its record lists, or cannot be read.
    :raises ChannelError: a damaged cached copy could not be downloaded again.
    """
    facts: dict[str, PackageFacts] = {}
    for record in closure.records:
        if record.name in skip:
            continue
        if not at_hand(record, cache_dir):
            logger.debug("%s: archive not at hand; classifying from metadata", record.dist)
            continue
        archive = _fetch.fetch(record, cache_dir, timeout=timeout)
        info = unpack.read_info(archive, record=record)
        has_site_packages = bool(info.site_packages)
        metadata = unpack.read_python_metadata(archive) if has_site_packages else None
        name = metadata.get("Name") if metadata is not None else None
        if name is not None and not _is_distribution_name(name):
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
            requires = tuple(
                " ".join(str(v).split()) for v in metadata.get_all("Requires-Dist", [])
            )
        facts[record.name] = PackageFacts(
            name=record.name,
            has_site_packages=has_site_packages,
            dist_info_name=name,
            requires_dist=requires,
        )
    return facts


def _is_distribution_name(name: str) -> bool:
    try:
        canonicalize_name(name, validate=True)
    except InvalidName:
        return False
    return True

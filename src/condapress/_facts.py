"""Read what the closure's archives say about themselves, for those archives that are at hand."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from packaging.utils import InvalidName, canonicalize_name

from condapress import _fetch, unpack
from condapress._guard import UNSAFE_HINT
from condapress.errors import CondapressError, MetadataError
from condapress.model import PackageFacts

if TYPE_CHECKING:
    from condapress.model import Closure, CondaRecord

__all__ = ["gather_facts", "local_archive"]

logger = logging.getLogger(__name__)


def local_archive(record: CondaRecord, cache_dir: Path | None) -> Path | None:
    """The archive of *record* on this machine: a file:// channel's file, or a cached download."""
    url = urlparse(record.url)
    path: Path | None = None
    if url.scheme == "file":
        path = Path(unquote(url.path))
    elif cache_dir is not None and record.sha256:
        path = _fetch.cached_path(record, cache_dir)
    if path is None or not path.is_file():
        return None
    if record.size is not None and path.stat().st_size != record.size:
        return None  # truncated or replaced: fetch will say so, or download it again
    return path


def gather_facts(
    closure: Closure, cache_dir: Path | None, skip: frozenset[str] = frozenset()
) -> dict[str, PackageFacts]:
    """Facts for every package of *closure* whose archive is local or cached (except *skip*).

    Reads ``info/`` (cheap: a separate stream in ``.conda``) and, for packages with files under
    site-packages, their own ``*.dist-info/METADATA`` to learn their PyPI name and requirements.
    """
    facts: dict[str, PackageFacts] = {}
    for record in closure.records:
        if record.name in skip:
            continue
        archive = local_archive(record, cache_dir)
        if archive is None:
            logger.debug("%s: archive not at hand; classifying from metadata", record.dist)
            continue
        # The archive is not verified yet (fetch does that, with the clear message): a damaged
        # one only costs the plan its facts here.
        try:
            info = unpack.read_info(archive)
            has_site_packages = bool(info.site_packages)
            metadata = unpack.read_python_metadata(archive) if has_site_packages else None
        except CondapressError as exc:
            logger.debug("%s: not reading %s for the plan: %s", record.dist, archive, exc)
            continue
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

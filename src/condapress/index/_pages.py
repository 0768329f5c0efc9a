"""The files of a PEP 503 simple index: project pages, the root page, PEP 658 metadata files."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from packaging.metadata import parse_email
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from condapress.audit._scan import MAX_DIST_INFO_FILE
from condapress.errors import ArchiveError, printable

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["IndexFile", "index_file", "project_of", "project_page", "root_page"]

# PEP 629: the version of the simple API the pages speak (1.0: PEP 503 and PEP 658 HTML).
_API_VERSION = "1.0"


@dataclass(frozen=True, slots=True)
class IndexFile:
    """One wheel of the index, with what its project page says about it."""

    #: the wheel's file name.
    filename: str
    #: the PEP 503 normalized name of its project.
    project: str
    sha256: str
    #: the bytes of its ``.dist-info/METADATA``, served as ``<filename>.metadata`` (PEP 658).
    metadata: bytes
    #: its ``Requires-Python``, if any (``data-requires-python``).
    requires_python: str | None


def project_of(filename: str) -> str:
    """The project of wheel *filename*, PEP 503 normalized: its folder in the index.

    >>> project_of("PyYAML-6.0.1-cp311-cp311-manylinux_2_17_x86_64.whl")
    'pyyaml'

    :raises ArchiveError: *filename* is not a wheel's.
    """
    try:
        return canonicalize_name(parse_wheel_filename(filename)[0])
    except InvalidWheelFilename as exc:
        raise ArchiveError(
            f"{printable(filename)} is not a wheel's file name: {exc}",
            hint="keep only wheels in the index's project folders",
        ) from exc


def index_file(path: Path) -> IndexFile:
    """What the index needs to know about the wheel at *path*.

    :raises ArchiveError: it is not a wheel: a bad file name, not a zip, no single METADATA.
    """
    name = project_of(path.name)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        metadata = _metadata(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveError(
            f"cannot read {printable(path.name)}: {exc}",
            hint="remove the file from the index folder, or press it again",
            path=str(path),
        ) from exc
    raw, _ = parse_email(metadata)
    return IndexFile(path.name, name, digest.hexdigest(), metadata, raw.get("requires_python"))


def _metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        found = [
            info
            for info in zf.infolist()
            if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")
        ]
        if len(found) != 1 or found[0].file_size > MAX_DIST_INFO_FILE:
            raise ArchiveError(
                f"{printable(path.name)} has no single .dist-info/METADATA of a sane size",
                hint="run 'condapress audit' on it; an index serves only wheels that are whole",
                path=str(path),
            )
        return zf.read(found[0])


def _page(title: str, links: Sequence[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f'<meta name="pypi:repository-version" content="{_API_VERSION}">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n"
        + "".join(f"{link}<br>\n" for link in links)
        + "</body>\n</html>\n"
    )


def project_page(project: str, files: Sequence[IndexFile]) -> str:
    """The PEP 503 page of *project*: one link per file, sorted by file name.

    Each link carries the file's sha256 as its URL fragment, ``data-requires-python`` and, for
    the metadata file beside it, ``data-dist-info-metadata`` (PEP 658) and ``data-core-metadata``
    (PEP 714) with that file's sha256.
    """
    links = []
    for f in sorted(files, key=lambda f: f.filename):
        meta = f"sha256={hashlib.sha256(f.metadata).hexdigest()}"
        attributes = [f'href="{escape(f.filename)}#sha256={f.sha256}"']
        if f.requires_python:
            attributes.append(f'data-requires-python="{escape(f.requires_python)}"')
        attributes += [f'data-dist-info-metadata="{meta}"', f'data-core-metadata="{meta}"']
        links.append(f"<a {' '.join(attributes)}>{escape(f.filename)}</a>")
    return _page(f"Links for {project}", links)


def root_page(projects: Sequence[str]) -> str:
    """The root page: one link per project folder."""
    links = [f'<a href="{escape(p)}/">{escape(p)}</a>' for p in sorted(projects)]
    return _page("Simple index", links)

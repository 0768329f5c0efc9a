"""Real conda archives taken apart into tar members, changed, and written back into a channel."""

from __future__ import annotations

import bz2
import dataclasses
import hashlib
import io
import json
import tarfile
import zipfile
from typing import TYPE_CHECKING

import zstandard

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@dataclasses.dataclass
class Member:
    """One tar member of a real archive, with its data."""

    info: tarfile.TarInfo
    data: bytes = b""


def _members(tar_data: bytes) -> list[Member]:
    members = []
    with tarfile.open(fileobj=io.BytesIO(tar_data), mode="r:") as tar:
        for info in tar:
            data = tar.extractfile(info) if info.isreg() else None
            members.append(Member(info, data.read() if data is not None else b""))
    return members


def read_archive(path: Path) -> tuple[list[Member], list[Member]]:
    """The ``info/`` members and the payload members of a conda archive."""
    if path.name.endswith(".conda"):
        # decompressobj: conda's zstd frames need not declare their size.
        unzstd = zstandard.ZstdDecompressor().decompressobj
        with zipfile.ZipFile(path) as zf:
            streams = {
                name.split("-", 1)[0]: unzstd().decompress(zf.read(name))
                for name in zf.namelist()
                if name.endswith(".tar.zst")
            }
        return _members(streams["info"]), _members(streams["pkg"])
    members = _members(bz2.decompress(path.read_bytes()))
    return (
        [m for m in members if m.info.name.startswith("info/")],
        [m for m in members if not m.info.name.startswith("info/")],
    )


def tar_of(members: list[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            if member.info.isreg():
                member.info.size = len(member.data)
            tar.addfile(member.info, io.BytesIO(member.data) if member.info.isreg() else None)
    return buffer.getvalue()


def write_archive(
    path: Path,
    info: list[Member],
    pkg: list[Member],
    *,
    edit: Callable[[bytes], bytes] | None = None,
) -> None:
    """Write *info* and *pkg* as the archive *path*; *edit* rewrites the tar holding the payload."""
    edit = edit or (lambda tar: tar)
    if path.name.endswith(".tar.bz2"):
        path.write_bytes(bz2.compress(edit(tar_of(info + pkg)), 1))
        return
    stem = path.name.removesuffix(".conda")
    compress = zstandard.ZstdCompressor().compress
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", b'{"conda_pkg_format_version": 2}')
        zf.writestr(f"info-{stem}.tar.zst", compress(tar_of(info)))
        zf.writestr(f"pkg-{stem}.tar.zst", compress(edit(tar_of(pkg))))


def reindex(archive: Path) -> None:
    """Make the channel's repodata.json list *archive* as it is now (size, sha256, md5)."""
    repodata = archive.parent / "repodata.json"
    data = json.loads(repodata.read_text())
    blob = archive.read_bytes()
    key = "packages.conda" if archive.name.endswith(".conda") else "packages"
    data[key][archive.name].update(
        size=len(blob),
        sha256=hashlib.sha256(blob).hexdigest(),
        md5=hashlib.md5(blob).hexdigest(),  # noqa: S324 - repodata carries it
    )
    repodata.write_text(json.dumps(data, indent=1))


def paths_json_for(info: list[Member], pkg: list[Member]) -> list[Member]:
    """*info* with paths.json's sha256 and size of every file changed to what *pkg* holds."""
    files = {m.info.name: m.data for m in pkg if m.info.isreg()}
    links = {m.info.name: m.info.linkname for m in pkg if m.info.issym()}
    for member in info:
        if member.info.name == "info/paths.json":
            paths = json.loads(member.data)
            for entry in paths["paths"]:
                name = entry["_path"]
                while name in links:  # softlinks carry the sha256 and size of their target
                    name = f"{name.rpartition('/')[0]}/{links[name]}"
                if name in files:
                    entry["sha256"] = hashlib.sha256(files[name]).hexdigest()
                    entry["size_in_bytes"] = len(files[name])
            member.data = json.dumps(paths).encode()
    return info


def file_member(name: str, data: bytes = b"x") -> Member:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return Member(info, data)


def link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, target, 0o777
    return Member(info)


def special_member(name: str, kind: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode = kind, 0o644
    return Member(info)

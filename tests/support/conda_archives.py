"""Small real conda archives (.conda and .tar.bz2) written by the tests, from lists of members."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import zstandard

if TYPE_CHECKING:
    from pathlib import Path

DIST = "demo-1.0-h0_0"
LIB = b"\x7fELF pretend shared library"
METADATA = b"Metadata-Version: 2.1\nName: Demo-Py\nVersion: 1.0\n"


@dataclass(frozen=True)
class M:
    """One tar member: a file (data), a folder, a link (target) or a special file."""

    name: str
    data: bytes = b""
    kind: str = "file"
    target: str = ""


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "chr": tarfile.CHRTYPE,
}


def tar_bytes(members: list[M]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = _TYPES[member.kind]
            info.mode = 0o755 if member.kind == "dir" else 0o644
            info.linkname = member.target
            info.size = len(member.data) if member.kind == "file" else 0
            tar.addfile(info, io.BytesIO(member.data) if member.kind == "file" else None)
    return buffer.getvalue()


def json_member(name: str, value: object) -> M:
    return M(f"info/{name}", json.dumps(value).encode())


def index(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "demo",
        "version": "1.0",
        "build": "h0_0",
        "build_number": 0,
        "subdir": "linux-64",
        "depends": ["libzlib >=1.2"],
        "license": "MIT",
        "timestamp": 1700000000000,
    }
    return {**base, **changes}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Package:
    """A small conda package; ``payload`` and ``info`` are the members each stream holds."""

    payload: list[M] = field(
        default_factory=lambda: [
            M("lib/libdemo.so.1.0", LIB),
            M("lib/libdemo.so.1", kind="symlink", target="libdemo.so.1.0"),
            M("site-packages/demo/__init__.py", b"x = 1\n"),
            M("site-packages/demo_py-1.0.dist-info/METADATA", METADATA),
        ]
    )
    index: dict[str, object] = field(default_factory=index)
    #: paths.json entries; None: computed from the payload; absent from info when ``legacy``.
    paths: list[dict[str, object]] | None = None
    legacy: bool = False
    extra_info: list[M] = field(default_factory=list)

    def computed_paths(self) -> list[dict[str, object]]:
        data = {m.name: m.data for m in self.payload if m.kind == "file"}
        entries: list[dict[str, object]] = []
        for member in self.payload:
            if member.kind == "file":
                entries.append(
                    {
                        "_path": member.name,
                        "path_type": "hardlink",
                        "sha256": sha(member.data),
                        "size_in_bytes": len(member.data),
                    }
                )
            elif member.kind == "symlink":
                target = data.get(f"{member.name.rpartition('/')[0]}/{member.target}", b"")
                entries.append(
                    {
                        "_path": member.name,
                        "path_type": "softlink",
                        "sha256": sha(target),
                        "size_in_bytes": len(target),
                    }
                )
        return entries

    def info(self) -> list[M]:
        members = [
            json_member("index.json", self.index),
            json_member("about.json", {"summary": "A demo", "home": "https://example.org"}),
            json_member("run_exports.json", {"weak": ["demo >=1.0"], "strong": ["demo-rt"]}),
            json_member("link.json", {"noarch": {"type": "python", "entry_points": ["d = a:b"]}}),
            M("info/licenses/LICENSE", b"MIT"),
            M("info/files", "\n".join(m.name for m in self.payload if m.kind != "dir").encode()),
        ]
        if not self.legacy:
            paths = self.computed_paths() if self.paths is None else self.paths
            members.append(json_member("paths.json", {"paths": paths, "paths_version": 1}))
        return members + self.extra_info

    def conda(
        self,
        folder: Path,
        name: str = f"{DIST}.conda",
        metadata: bytes | None = b'{"conda_pkg_format_version": 2}',
    ) -> Path:
        info, payload = tar_bytes(self.info()), tar_bytes(self.payload)
        return write_conda(folder / name, info, payload, metadata=metadata)

    def tar_bz2(self, folder: Path, name: str = f"{DIST}.tar.bz2") -> Path:
        path = folder / name
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
            for blob in (tar_bytes(self.info()), tar_bytes(self.payload)):
                with tarfile.open(fileobj=io.BytesIO(blob)) as part:
                    for info in part.getmembers():
                        tar.addfile(info, part.extractfile(info) if info.isfile() else None)
        path.write_bytes(buffer.getvalue())
        return path


def write_conda(
    path: Path,
    info: bytes,
    pkg: bytes,
    *,
    stem: str = DIST,
    metadata: bytes | None = b'{"conda_pkg_format_version": 2}',
    raw_pkg: bytes | None = None,
) -> Path:
    """Write a .conda; ``metadata=None`` leaves metadata.json out."""
    compressor = zstandard.ZstdCompressor()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        if metadata is not None:
            zf.writestr("metadata.json", metadata)
        zf.writestr(f"info-{stem}.tar.zst", compressor.compress(info))
        zf.writestr(f"pkg-{stem}.tar.zst", raw_pkg or compressor.compress(pkg))
    return path


def archive_member(archive: Path, path: str) -> bytes:
    """The file *path* of the payload of the conda *archive* (.conda or .tar.bz2)."""
    if archive.name.endswith(".tar.bz2"):
        with tarfile.open(archive) as tar:
            member = tar.extractfile(path)
            assert member is not None, path
            return member.read()
    with zipfile.ZipFile(archive) as zf:
        pkg = next(name for name in zf.namelist() if name.startswith("pkg-"))
        data = zstandard.ZstdDecompressor().decompressobj().decompress(zf.read(pkg))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile(path)
        assert member is not None, path
        return member.read()


def conda_archive(folder: Path, name: str, payload: list[M], **changes: object) -> Path:
    """A real ``.conda`` of package *name* 1.0 (build h0_0) that depends on nothing."""
    package = Package(payload=payload, index=index(name=name, depends=[], **changes))
    stem = f"{name}-1.0-h0_0"
    folder.mkdir(parents=True, exist_ok=True)
    return write_conda(
        folder / f"{stem}.conda", tar_bytes(package.info()), tar_bytes(payload), stem=stem
    )

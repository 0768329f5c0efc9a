"""Run the unpack tests against the tarfile of Python's June 2025 security releases.

Not part of the suite: it downloads Debian's CPython 3.13.5 standard library. Python 3.10.18,
3.11.13, 3.12.11 and 3.13.4 changed how tarfile extracts (links are made by
``TarFile.makelink_with_filter``, and the ``data`` filter resolves paths with
``os.path.realpath(strict=os.path.ALLOW_MISSING)`` and normalizes link targets), while the
interpreters of this project's machines may predate them. This loads that ``tarfile``, with the
``realpath`` it needs, in place of the running interpreter's, then runs pytest::

    python scripts/check_new_tarfile.py [PYTEST ARGS]   # default: tests/unit/test_unpack.py
"""

from __future__ import annotations

import importlib.util
import io
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

POOL = "http://deb.debian.org/debian/pool/main/p/python3.13"
PACKAGES = ("libpython3.13-stdlib_3.13.5-2_amd64.deb", "libpython3.13-minimal_3.13.5-2_amd64.deb")
WANTED = ("tarfile.py", "posixpath.py", "genericpath.py")


def _data_tar(deb: bytes) -> bytes:
    """The ``data.tar.*`` member of the ar archive *deb*."""
    at = 8  # "!<arch>\n"
    while at < len(deb):
        name = deb[at : at + 16].decode().strip().rstrip("/")
        size = int(deb[at + 48 : at + 58].decode().strip())
        if name.startswith("data.tar"):
            return deb[at + 60 : at + 60 + size]
        at += 60 + size + size % 2
    raise SystemExit("no data.tar in the Debian package")


def _fetch(folder: Path) -> None:
    for package in PACKAGES:
        print(f"check_new_tarfile: downloading {POOL}/{package}", file=sys.stderr)
        with urllib.request.urlopen(f"{POOL}/{package}", timeout=120) as answer:  # noqa: S310 - a fixed https-less Debian mirror URL, as apt uses
            deb = answer.read()
        with tarfile.open(fileobj=io.BytesIO(_data_tar(deb))) as data:
            for member in data.getmembers():
                if member.name.endswith(tuple(f"/python3.13/{name}" for name in WANTED)):
                    source = data.extractfile(member)
                    assert source is not None  # noqa: S101 - a regular file of the package
                    (folder / Path(member.name).name).write_bytes(source.read())


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    """Load the newer tarfile, then run pytest with this script's arguments."""
    with tempfile.TemporaryDirectory(prefix="condapress-tarfile-") as tmp:
        folder = Path(tmp)
        _fetch(folder)
        import genericpath  # noqa: PLC0415 - swapped for the newer one below
        import posixpath  # noqa: PLC0415

        sys.modules["genericpath"] = _load("genericpath", folder / "genericpath.py")
        newer = _load("posixpath_313", folder / "posixpath.py")
        sys.modules["genericpath"] = genericpath
        posixpath.ALLOW_MISSING = newer.ALLOW_MISSING
        posixpath.realpath = newer.realpath
        sys.modules["tarfile"] = _load("tarfile", folder / "tarfile.py")
    assert hasattr(sys.modules["tarfile"].TarFile, "makelink_with_filter")  # noqa: S101
    import pytest  # noqa: PLC0415

    return int(pytest.main(sys.argv[1:] or ["-q", "tests/unit/test_unpack.py"]))


if __name__ == "__main__":
    sys.exit(main())

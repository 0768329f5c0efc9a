"""retag against auditwheel: on real manylinux wheels from PyPI, our tags are auditwheel's.

The wheels are small, pinned, and span several verdicts: manylinux_2_5 (PyYAML 5.4.1 for
CPython 3.8), manylinux_2_17 (C extensions, and pyzmq with libraries grafted into pyzmq.libs/),
and manylinux_2_24 (greenlet: C++, GLIBCXX_3.4.21). The whole module skips when PyPI cannot be
reached.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.utils import parse_wheel_filename

from condapress.formats.elf._policy import platform_tag
from condapress.formats.elf._read import is_elf, read_elf
from condapress.retag import python_tags, wheel_tags

if TYPE_CHECKING:
    from condapress.model import BinaryFacts

# (requirement, --python-version, --platform): what pip downloads, one wheel each.
WHEELS = [
    ("PyYAML==5.4.1", "3.8", "manylinux1_x86_64"),
    ("PyYAML==6.0.2", "3.11", "manylinux2014_x86_64"),
    ("MarkupSafe==3.0.2", "3.11", "manylinux2014_x86_64"),
    ("cffi==1.17.1", "3.11", "manylinux2014_x86_64"),
    ("pyzmq==26.2.0", "3.11", "manylinux2014_x86_64"),
    ("greenlet==3.5.6", "3.11", "manylinux_2_28_x86_64"),
]


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("pypi-wheels")
    for requirement, python, plat in WHEELS:
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
        argv += ["--python-version", python, "--platform", plat, "--implementation", "cp"]
        argv += ["--disable-pip-version-check", "-q", "-d", str(dest), requirement]
        try:
            subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            stderr = exc.stderr if isinstance(exc.stderr, str) else ""
            pytest.skip(f"cannot download {requirement} from PyPI: {stderr.strip()[-300:]}")
    return dest


def _wheel(downloads: Path, requirement: str) -> Path:
    name, _, version = requirement.partition("==")
    for path in sorted(downloads.glob("*.whl")):
        dist, wheel_version, _, _ = parse_wheel_filename(path.name)
        if dist == name.lower() and str(wheel_version) == version:
            return path
    pytest.fail(f"pip downloaded no wheel for {requirement}")


def _elfs(wheel: Path, dest: Path) -> dict[str, BinaryFacts]:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(dest)
    return {
        path.relative_to(dest).as_posix(): read_elf(path)
        for path in sorted(dest.rglob("*"))
        if path.is_file() and is_elf(path)
    }


@pytest.mark.parametrize("requirement", [spec for spec, _, _ in WHEELS])
def test_platform_tag_agrees_with_auditwheel_show(
    downloads: Path, tmp_path: Path, requirement: str
) -> None:
    wheel = _wheel(downloads, requirement)
    elfs = _elfs(wheel, tmp_path)
    assert elfs, f"{wheel.name} holds no ELF file"
    wheel_libs = {elf.soname or Path(path).name for path, elf in elfs.items()}
    ours = platform_tag(elfs, wheel_libs=wheel_libs)

    show = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", "--json", str(wheel)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    theirs = json.loads(show.stdout)
    assert theirs["version"] == 1
    assert ours.tag == theirs["overall_tag"], ours.limits


@pytest.mark.parametrize("requirement", [spec for spec, _, _ in WHEELS])
def test_python_tags_agree_with_the_wheel_name(downloads: Path, requirement: str) -> None:
    wheel = _wheel(downloads, requirement)
    with zipfile.ZipFile(wheel) as zf:
        names = [Path(name).name for name in zf.namelist() if name.endswith(".so")]
    python, abi = python_tags(names)
    _, _, _, tags = parse_wheel_filename(wheel.name)
    assert {(tag.interpreter, tag.abi) for tag in tags} == {(python, abi)}


def test_wheel_tags_match_a_repaired_wheel(downloads: Path, tmp_path: Path) -> None:
    # PyYAML 6.0.2 was made by auditwheel repair: its WHEEL file lists the tags in repair's order.
    wheel = _wheel(downloads, "PyYAML==6.0.2")
    elfs = _elfs(wheel, tmp_path)
    verdict = platform_tag(elfs, wheel_libs=())
    with zipfile.ZipFile(wheel) as zf:
        info = zf.read("PyYAML-6.0.2.dist-info/WHEEL").decode()
    written = tuple(line.split(": ", 1)[1] for line in info.splitlines() if line.startswith("Tag:"))
    assert wheel_tags("cp311", "cp311", verdict) == written

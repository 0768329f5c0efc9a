"""read_info, read_python_metadata and extract against real conda-forge archives.

conda-package-handling is the oracle for what an archive's ``info/index.json`` says. The three
archives of ``broken/`` were looked at one by one; the decision for each is on its test.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from conda_package_handling import api as cph

from condapress.errors import ArchiveError
from condapress.model import FileMode, NoArch, PathType
from condapress.unpack import extract, read_info, read_python_metadata
from support import REALWORLD

if TYPE_CHECKING:
    from pathlib import Path

if not REALWORLD.is_dir():
    pytest.skip(
        "../shared/realworld is absent: the conda-forge archive tier needs it next to the checkout",
        allow_module_level=True,
    )

pytestmark = pytest.mark.realworld

ARCHIVES = sorted(
    path
    for subdir in ("linux-64", "noarch")
    for path in (REALWORLD / "cf2024" / subdir).iterdir()
    if path.name.endswith((".conda", ".tar.bz2"))
)
BROKEN = REALWORLD / "broken"
DEFAULT_HINT = "delete the file and download it again; report the package if it persists"
REPACKED_HINT = "the archive was damaged when it was re-packed; download the original again"


def test_the_tier_is_complete() -> None:
    assert len(ARCHIVES) == 21


@pytest.mark.parametrize("archive", ARCHIVES, ids=[a.name for a in ARCHIVES])
def test_read_info_agrees_with_conda_package_handling(archive: Path, tmp_path: Path) -> None:
    cph.extract(str(archive), str(tmp_path), components="info")
    index = json.loads((tmp_path / "info" / "index.json").read_text())
    record = read_info(archive).record
    assert (record.name, record.version, record.build) == (
        index["name"],
        index["version"],
        index["build"],
    )
    assert (record.build_number, record.subdir) == (index["build_number"], index["subdir"])
    assert record.depends == tuple(index.get("depends", ()))
    assert record.constrains == tuple(index.get("constrains", ()))
    assert (record.license, record.timestamp) == (index.get("license"), index.get("timestamp"))
    assert record.noarch is NoArch.from_raw(index.get("noarch"))
    assert record.file_name == archive.name


@pytest.mark.parametrize("archive", ARCHIVES, ids=[a.name for a in ARCHIVES])
def test_extract_verifies(archive: Path, tmp_path: Path) -> None:
    unpacked = extract(archive, tmp_path / "out")
    paths = json.loads((tmp_path / "out" / "info" / "paths.json").read_text())["paths"]
    assert [entry.path for entry in unpacked.info.paths] == [p["_path"] for p in paths]
    for entry in unpacked.info.paths:
        on_disk = tmp_path / "out" / entry.path
        assert on_disk.is_symlink() == (entry.path_type is PathType.SOFTLINK)
    info = read_info(archive)
    assert unpacked.info.record == info.record
    assert unpacked.info.paths == info.paths
    # conda-build keeps info/licenses/ with the payload, so extract may list more than read_info.
    assert set(info.license_files) <= set(unpacked.info.license_files)


def test_ncurses_symlinks(tmp_path: Path) -> None:
    archive = REALWORLD / "cf2024/linux-64/ncurses-6.4.20240210-h59595ed_0.conda"
    unpacked = extract(archive, tmp_path / "out")
    links = [e for e in unpacked.info.paths if e.path_type is PathType.SOFTLINK]
    assert len(links) > 1000
    assert (tmp_path / "out/lib/terminfo").is_symlink()  # a link to a folder
    assert unpacked.info.license_files == ("COPYING",)


def test_tk_binary_prefix(tmp_path: Path) -> None:
    unpacked = extract(REALWORLD / "cf2024/linux-64/tk-8.6.13-noxft_h4845f30_101.conda", tmp_path)
    entry = next(e for e in unpacked.info.paths if e.path == "lib/libtcl8.6.so")
    assert entry.file_mode is FileMode.BINARY
    assert entry.prefix_placeholder is not None
    assert "_h_env_placehold" in entry.prefix_placeholder
    assert unpacked.info.run_exports == ("tk >=8.6.13,<8.7.0a0",)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("noarch/click-8.1.7-unix_pyh707e725_0.conda", "click"),
        ("noarch/colorama-0.4.6-pyhd8ed1ab_0.tar.bz2", "colorama"),
        ("linux-64/pyyaml-6.0.1-py310h2372a71_1.conda", "PyYAML"),
        ("linux-64/ruamel.yaml.clib-0.2.8-py310h2372a71_0.conda", "ruamel.yaml.clib"),
        ("linux-64/libzlib-1.2.13-hd590300_5.conda", None),
    ],
)
def test_python_metadata(name: str, expected: str | None) -> None:
    metadata = read_python_metadata(REALWORLD / "cf2024" / name)
    assert (metadata["Name"] if metadata is not None else None) == expected


# -- broken/ -----------------------------------------------------------------------------------


def test_rezipped_conda_is_refused(tmp_path: Path) -> None:
    # Refused: the .conda format keeps metadata.json and the two tarballs at the top of the zip.
    # conda-package-handling fails on it too (LookupError); looking inside folders would accept
    # any zip that merely holds a package somewhere.
    archive = BROKEN / "ca-certificates-2024.7.4-hbcca054_0.rezipped.conda"
    message = (
        f"{archive.name} is not a .conda archive: its members are nested under the folder"
        " 'Users/jcorreia/Downloads/ca-certificates-2024.7.4-hbcca054_0/'"
    )
    for run in (read_info, read_python_metadata, lambda a: extract(a, tmp_path / "out")):
        with pytest.raises(ArchiveError) as exc:
            run(archive)
        assert type(exc.value) is ArchiveError
        assert (str(exc.value), exc.value.hint) == (message, REPACKED_HINT)
    assert not (tmp_path / "out").exists()


def test_gzip_named_bz2_is_refused(tmp_path: Path) -> None:
    # Refused: a .tar.bz2 conda package is bzip2 by definition (conda's own readers open it with
    # bz2), and the repodata sha256 of a real channel would not match re-compressed data anyway.
    archive = BROKEN / "nano-2.4.1-0.gzip-named-bz2.tar.bz2"
    message = f"{archive.name} is not a bzip2 archive: it holds gzip data"
    hint = "a .tar.bz2 conda package must be bzip2-compressed; rebuild it with conda-build"
    for run in (read_info, read_python_metadata, lambda a: extract(a, tmp_path / "out")):
        with pytest.raises(ArchiveError) as exc:
            run(archive)
        assert type(exc.value) is ArchiveError
        assert (str(exc.value), exc.value.hint) == (message, hint)
    assert not (tmp_path / "out").exists()


def test_empty_symlink_targets(tmp_path: Path) -> None:
    # Handled where it can be: the info/ stream is intact (metadata.json stored last and zstd
    # frames without a content size are fine), so read_info and read_python_metadata work.
    # extract refuses: lib/libz.so.1 is the SONAME link every consumer loads, and a symbolic
    # link without a target cannot be created, so a package without it would be broken.
    archive = BROKEN / "zlib-1.2.11-h7b6447c_3.empty-symlink-targets.conda"
    info = read_info(archive)
    assert (info.record.name, info.record.version, info.record.build) == (
        "zlib",
        "1.2.11",
        "h7b6447c_3",
    )
    assert info.paths[3].path == "lib/libz.so"
    assert info.paths[3].path_type is PathType.SOFTLINK
    assert read_python_metadata(archive) is None
    with pytest.raises(ArchiveError) as exc:
        extract(archive, tmp_path / "out")
    assert type(exc.value) is ArchiveError
    assert str(exc.value) == (
        f"{archive.name}: refusing member 'lib/libz.so.1': it is a symbolic link with an empty"
        " target"
    )
    assert exc.value.hint == REPACKED_HINT
    assert not (tmp_path / "out").exists()

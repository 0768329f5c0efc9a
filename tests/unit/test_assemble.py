"""The assemble stage: staged files and metadata in, one reproducible, valid wheel out."""

from __future__ import annotations

import base64
import configparser
import csv
import dataclasses
import doctest
import hashlib
import io
import os
import stat
import tracemalloc
import zipfile
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.metadata import parse_email

import condapress
from condapress import assemble
from condapress.assemble import build_wheel, dist_info_name, wheel_filename
from condapress.assemble._metadata import core_metadata_from_dist_info, spdx_or_none
from condapress.errors import SpecError, WheelContentsError, WriteError
from condapress.model import CoreMetadata, WheelContents
from support.staged import SO, TAGS, pygreet, write

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

EPOCH = 1_700_000_000  # 2023-11-14 22:13:20 UTC
WHEEL_NAME = "pygreet-1.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"

METADATA = """\
Metadata-Version: 2.4
Name: pygreet
Version: 1.0.0
Summary: Say hello from C++
License-Expression: MIT
License-File: LICENSE
License-File: libgreet/COPYING
Project-URL: Homepage, https://example.org/pygreet
Project-URL: Source, https://example.org/pygreet/src
Requires-Python: >=3.11,<3.12
Requires-Dist: salutation>=1.2
Requires-Dist: numpy>=1.26; python_version >= "3.11"
Author: The greeters
Classifier: Programming Language :: Python :: 3
Description-Content-Type: text/markdown

# pygreet

Say hello.
"""

WHEEL = f"""\
Wheel-Version: 1.0
Generator: condapress {condapress.__version__}
Root-Is-Purelib: false
Tag: cp311-cp311-manylinux_2_17_x86_64
Tag: cp311-cp311-manylinux2014_x86_64
"""

ENTRY_POINTS = """\
[console_scripts]
greet = pygreet.cli:main
salute = pygreet.cli:salute

[pygreet.plugins]
loud = pygreet.loud:Plugin
"""

PROVENANCE = """\
{
  "packages": [
    {
      "build": "h1234567_0",
      "channel": "conda-forge",
      "license": null,
      "name": "libgreet",
      "sha256": "1111111111111111111111111111111111111111111111111111111111111111",
      "url": "https://conda.anaconda.org/conda-forge/linux-64/libgreet-1.0.0-h1234567_0.conda",
      "version": "1.0.0"
    },
    {
      "build": "py311habcdef0_0",
      "channel": "conda-forge",
      "license": "MIT",
      "name": "pygreet",
      "sha256": "2222222222222222222222222222222222222222222222222222222222222222",
      "url": "https://conda.anaconda.org/conda-forge/linux-64/pygreet-1.0.0-py311habcdef0_0.conda",
      "version": "1.0.0"
    }
  ],
  "version": 1
}
"""

MEMBERS = [
    "pygreet-1.0.0.data/scripts/salute",
    "pygreet.libs/libgreet-0a1b2c3d.so.1",
    "pygreet/__init__.py",
    SO,
    "pygreet/bin/greet",
    "pygreet-1.0.0.dist-info/METADATA",
    "pygreet-1.0.0.dist-info/WHEEL",
    "pygreet-1.0.0.dist-info/conda-packages.json",
    "pygreet-1.0.0.dist-info/entry_points.txt",
    "pygreet-1.0.0.dist-info/licenses/LICENSE",
    "pygreet-1.0.0.dist-info/licenses/libgreet/COPYING",
    "pygreet-1.0.0.dist-info/RECORD",
]


def b64sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def assert_record_matches(zf: zipfile.ZipFile) -> None:
    record = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
    rows = list(csv.reader(io.StringIO(zf.read(record).decode())))
    assert [row[0] for row in rows] == zf.namelist()
    assert rows[-1] == [record, "", ""]
    for name, digest, size in rows[:-1]:
        data = zf.read(name)
        assert (digest, size) == (f"sha256={b64sha256(data)}", str(len(data))), name


@pytest.fixture
def contents(tmp_path: Path) -> WheelContents:
    return pygreet(tmp_path)


# -- the wheel's members ---------------------------------------------------------------------------


def test_members_order_modes_and_times(contents: WheelContents, tmp_path: Path) -> None:
    built = build_wheel(contents, tmp_path / "out", source_date_epoch=EPOCH)
    assert built.path == tmp_path / "out" / WHEEL_NAME
    assert built.tags == TAGS
    data = built.path.read_bytes()
    assert (built.sha256, built.size) == (hashlib.sha256(data).hexdigest(), len(data))
    with zipfile.ZipFile(built.path) as zf:
        assert zf.namelist() == MEMBERS
        executables = {SO, "pygreet/bin/greet", "pygreet-1.0.0.data/scripts/salute"}
        for info in zf.infolist():
            mode = 0o100755 if info.filename in executables else 0o100644
            assert (info.external_attr >> 16, info.create_system) == (mode, 3), info.filename
            assert info.date_time == (2023, 11, 14, 22, 13, 20)
            assert info.compress_type == zipfile.ZIP_DEFLATED
        assert_record_matches(zf)
        assert zf.read(SO) == dict(contents.files)[SO].read_bytes()


def test_dist_info_texts(contents: WheelContents, tmp_path: Path) -> None:
    built = build_wheel(contents, tmp_path / "out")
    with zipfile.ZipFile(built.path) as zf:
        read = {
            n.split("/", 1)[1]: zf.read(n).decode() for n in zf.namelist() if ".dist-info/" in n
        }
    assert read["METADATA"] == METADATA
    assert read["WHEEL"] == WHEEL
    assert read["entry_points.txt"] == ENTRY_POINTS
    parser = configparser.ConfigParser()
    parser.read_string(read["entry_points.txt"])
    assert {s: dict(parser[s]) for s in parser.sections()} == {
        "console_scripts": {"greet": "pygreet.cli:main", "salute": "pygreet.cli:salute"},
        "pygreet.plugins": {"loud": "pygreet.loud:Plugin"},
    }
    assert read["conda-packages.json"] == PROVENANCE
    assert read["licenses/LICENSE"] == "MIT License\n"
    assert read["licenses/libgreet/COPYING"] == "Copying libgreet\n"


def test_stored_and_minimal_wheel(tmp_path: Path) -> None:
    contents = WheelContents(
        metadata=CoreMetadata(name="Bare.Thing", version="2.0-rc1"),
        tags=("py3-none-any",),
        root_is_purelib=True,
        files=(("bare_thing.py", write(tmp_path / "bare_thing.py", b"")),),
    )
    built = build_wheel(contents, tmp_path, compression_level=0)
    assert built.path.name == "bare_thing-2.0rc1-py3-none-any.whl"
    with zipfile.ZipFile(built.path) as zf:
        assert zf.namelist() == [
            "bare_thing.py",
            "bare_thing-2.0rc1.dist-info/METADATA",
            "bare_thing-2.0rc1.dist-info/WHEEL",
            "bare_thing-2.0rc1.dist-info/conda-packages.json",
            "bare_thing-2.0rc1.dist-info/RECORD",
        ]
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
        assert zf.read("bare_thing-2.0rc1.dist-info/METADATA") == (
            b"Metadata-Version: 2.4\nName: Bare.Thing\nVersion: 2.0rc1\n"
        )
        assert zf.read("bare_thing-2.0rc1.dist-info/conda-packages.json") == (
            b'{\n  "packages": [],\n  "version": 1\n}\n'
        )
        assert_record_matches(zf)


def test_free_text_license_is_folded(tmp_path: Path) -> None:
    metadata = CoreMetadata(name="a", version="1", license="Copyright 2020\n\nAll rights.\n")
    contents = WheelContents(
        metadata=metadata, tags=("py3-none-any",), root_is_purelib=True, files=()
    )
    with zipfile.ZipFile(build_wheel(contents, tmp_path).path) as zf:
        text = zf.read("a-1.dist-info/METADATA").decode()
    assert text == (
        "Metadata-Version: 2.4\nName: a\nVersion: 1\n"
        "License: Copyright 2020\n        \n        All rights.\n"
    )
    assert core_metadata_from_dist_info(text, name="a", version="1").license == (
        "Copyright 2020\n\nAll rights."
    )


def test_existing_wheel_is_replaced(contents: WheelContents, tmp_path: Path) -> None:
    first = build_wheel(contents, tmp_path, source_date_epoch=EPOCH)
    second = build_wheel(contents, tmp_path, source_date_epoch=EPOCH + 86400)
    assert first.path == second.path
    assert first.sha256 != second.sha256
    assert hashlib.sha256(second.path.read_bytes()).hexdigest() == second.sha256
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [WHEEL_NAME]


def test_large_file_is_streamed(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as fh:
        fh.truncate(64 << 20)
    contents = WheelContents(
        metadata=CoreMetadata(name="big", version="1"),
        tags=("py3-none-any",),
        root_is_purelib=True,
        files=(("big/data.bin", big),),
    )
    tracemalloc.start()
    try:
        built = build_wheel(contents, tmp_path / "out", compression_level=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    with zipfile.ZipFile(built.path) as zf:
        assert zf.getinfo("big/data.bin").file_size == 64 << 20


def test_doctests() -> None:
    assert doctest.testmod(assemble).failed == 0


# -- reproducibility -------------------------------------------------------------------------------


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask")
def test_same_inputs_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = build_wheel(pygreet(tmp_path / "one"), tmp_path / "out1")
    os.umask(0o077)
    second_contents = pygreet(tmp_path / "elsewhere" / "two")
    for _, source in second_contents.files:
        os.utime(source, (EPOCH, EPOCH))
        source.chmod(stat.S_IMODE(source.stat().st_mode) & 0o700)  # other owner bits, same x
    second = build_wheel(second_contents, tmp_path / "out2")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize(
    ("env", "argument", "expected"),
    [
        ("1700000000", None, (2023, 11, 14, 22, 13, 20)),
        ("1700000000", 946684800, (2000, 1, 1, 0, 0, 0)),  # the argument wins
        ("", None, (1980, 1, 1, 0, 0, 0)),
        (None, 0, (1980, 1, 1, 0, 0, 0)),  # clamped: a zip file cannot hold 1970
        (None, 2**40, (2107, 12, 31, 23, 59, 58)),
    ],
)
def test_source_date_epoch(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: str | None,
    argument: int | None,
    expected: tuple[int, ...],
) -> None:
    if env is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", env)
    contents = WheelContents(
        metadata=CoreMetadata(name="a", version="1"),
        tags=("py3-none-any",),
        root_is_purelib=True,
        files=(),
    )
    with zipfile.ZipFile(build_wheel(contents, tmp_path, source_date_epoch=argument).path) as zf:
        assert {i.date_time for i in zf.infolist()} == {expected}


# -- bad input -------------------------------------------------------------------------------------


def bare(tmp_path: Path, **changes: object) -> WheelContents:
    ok = write(tmp_path / "ok.py", b"")
    contents = WheelContents(
        metadata=CoreMetadata(name="pygreet", version="1.0.0"),
        tags=("py3-none-any",),
        root_is_purelib=True,
        files=(("pygreet/__init__.py", ok),),
    )
    return dataclasses.replace(contents, **changes)  # type: ignore[arg-type]


def test_bad_paths_are_listed_in_one_error(tmp_path: Path) -> None:
    ok = write(tmp_path / "ok.py", b"")
    (tmp_path / "folder").mkdir()
    contents = bare(
        tmp_path,
        files=(
            ("/etc/passwd", ok),
            ("pygreet/../../escape", ok),
            ("pygreet\\win.py", ok),
            ("pygreet//x.py", ok),
            ("pygreet/x.py", ok),
            ("pygreet/x.py", ok),
            ("other-1.0.dist-info/METADATA", ok),
            ("pygreet-1.0.0.data/lib/x", ok),
            ("pygreet/gone.py", tmp_path / "gone.py"),
            ("pygreet/folder", tmp_path / "folder"),
        ),
    )
    with pytest.raises(WheelContentsError) as excinfo:
        build_wheel(contents, tmp_path / "out")
    assert str(excinfo.value) == (
        "cannot assemble pygreet-1.0.0: bad files: '/etc/passwd' is an absolute path; "
        "'pygreet/../../escape' has a '..' component; 'pygreet\\\\win.py' uses '\\' instead of "
        "'/'; 'pygreet//x.py' is not a normalized path (empty or '.' component); 'pygreet/x.py' "
        "is listed twice; 'other-1.0.dist-info/METADATA' is inside a .dist-info folder "
        "(condapress writes pygreet-1.0.0.dist-info itself); 'pygreet-1.0.0.data/lib/x' is "
        "inside pygreet-1.0.0.data but not under scripts, data, headers, purelib or platlib; "
        f"'pygreet/gone.py': its source {tmp_path}/gone.py does not exist; 'pygreet/folder': its "
        f"source {tmp_path}/folder is a directory"
    )
    assert excinfo.value.code == "bad-wheel-contents"
    assert isinstance(excinfo.value, ValueError)
    assert not (tmp_path / "out").exists()


def test_one_name_in_two_unicode_normalizations_is_refused(tmp_path: Path) -> None:
    # macOS file systems (and installers on them) hold 'café' once, whichever way it is spelled.
    ok = write(tmp_path / "ok.py", b"")
    nfc, nfd = "pygreet/caf\u00e9", "pygreet/cafe\u0301"
    contents = bare(
        tmp_path,
        files=(
            (f"{nfc}.py", ok),
            (f"{nfd}.py", ok),
            (f"{nfc}/mod.py", ok),
            (f"{nfd}", ok),
        ),
    )
    with pytest.raises(WheelContentsError) as excinfo:
        build_wheel(contents, tmp_path / "out")
    assert str(excinfo.value) == (
        f"cannot assemble pygreet-1.0.0: bad files: {nfd + '.py'!r} is 'pygreet/caf\\xe9.py' in "
        f"another Unicode normalization; {nfd!r} is both a file and a folder"
    )
    assert not (tmp_path / "out").exists()


def test_more_path_problems_than_listed(tmp_path: Path) -> None:
    ok = write(tmp_path / "ok.py", b"")
    contents = bare(
        tmp_path,
        files=(
            *((f"/abs/{i}", ok) for i in range(11)),
            ("pkg", ok),
            ("pkg/mod.py", ok),
            ("foo-2.data/scripts/x", ok),
        ),
        executables=frozenset({"bin/tool"}),
        metadata=CoreMetadata(
            name="pygreet",
            version="1.0.0",
            license_files=(("LICENSE", ok), ("LICENSE", ok), ("COPYING", tmp_path / "nope")),
        ),
    )
    with pytest.raises(WheelContentsError) as excinfo:
        build_wheel(contents, tmp_path / "out")
    listed = "; ".join(f"'/abs/{i}' is an absolute path" for i in range(10))
    assert str(excinfo.value) == (
        f"cannot assemble pygreet-1.0.0: bad files: {listed}; ... and 6 more"
    )
    assert excinfo.value.detail is not None
    assert excinfo.value.detail.splitlines()[10:] == [
        "'/abs/10' is an absolute path",
        "'foo-2.data/scripts/x' is inside a .data folder other than pygreet-1.0.0.data",
        "'pkg' is both a file and a folder",
        "license file 'LICENSE' is listed twice",
        f"license file 'COPYING': its source {tmp_path}/nope does not exist",
        "executable 'bin/tool' is not among the files",
    ]


def test_bad_metadata_is_listed_in_one_error(tmp_path: Path) -> None:
    metadata = CoreMetadata(
        name="pygreet",
        version="1.0.0",
        license_expression="BSD",
        project_urls=(("Home, page", "https://example.org"),),
        requires_python="3.11",
        requires_dist=("foo >>1",),
        description_content_type="text/plain; charset=latin-1",
        extra=(("Requires-Dist", "bar"), ("Author", "A\nB")),
    )
    contents = bare(
        tmp_path,
        metadata=metadata,
        entry_points=(
            ("console_scripts", "a=b", "m:f"),
            ("console_scripts", "ok", "m:f"),
            ("console_scripts", "ok", "m:g"),
            ("[x]", "n", ""),
        ),
    )
    problems = [
        "Project-URL label 'Home, page' has a ','",
        (
            "'Requires-Dist' cannot be set through extra (only Author, Author-email, Maintainer, "
            "Maintainer-email, Keywords, Classifier, Platform, Supported-Platform, Download-URL)"
        ),
        "Author must be one line, not 'A\\nB'",
        "'3.11' is invalid for 'requires-python'",
        "'BSD' is invalid for 'license-expression'",
        "'description-content-type' can only specify the UTF-8 charset, not 'latin-1'",
        "'foo >>1' is invalid for 'requires-dist'",
        "entry point console_scripts/a=b has a bad name 'a=b'",
        "entry point console_scripts/ok is given twice",
        "entry point [x]/n has a bad group '[x]' and a bad value ''",
    ]
    with pytest.raises(WheelContentsError) as excinfo:
        build_wheel(contents, tmp_path / "out")
    assert str(excinfo.value) == (
        "cannot assemble pygreet-1.0.0: invalid metadata: " + "; ".join(problems)
    )
    assert excinfo.value.detail == "\n".join(problems)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ((), "cannot name the wheel of pygreet 1.0.0: it has no tags"),
        (
            ("py3-none",),
            (
                "cannot name the wheel of pygreet 1.0.0: 'py3-none' is not a tag like "
                "'cp311-cp311-manylinux_2_17_x86_64' (three lowercase parts)"
            ),
        ),
        (
            ("PY3-none-any",),
            (
                "cannot name the wheel of pygreet 1.0.0: 'PY3-none-any' is not a tag like "
                "'cp311-cp311-manylinux_2_17_x86_64' (three lowercase parts)"
            ),
        ),
        (
            ("py2.py3-none-any",),
            (
                "cannot name the wheel of pygreet 1.0.0: 'py2.py3-none-any' is not a tag like "
                "'cp311-cp311-manylinux_2_17_x86_64' (three lowercase parts)"
            ),
        ),
        (
            ("py3-none-any", "py3-none-any"),
            "cannot name the wheel of pygreet 1.0.0: a tag is given twice",
        ),
        (
            ("cp311-cp311-linux_x86_64", "cp312-cp312-manylinux1_x86_64"),
            (
                "cannot name the wheel of pygreet 1.0.0: the tags cp311-cp311-linux_x86_64, "
                "cp312-cp312-manylinux1_x86_64 are not one compressed tag set "
                "(cp311.cp312-cp311.cp312-linux_x86_64.manylinux1_x86_64 would claim 8 tags)"
            ),
        ),
    ],
)
def test_bad_tags(tmp_path: Path, tags: tuple[str, ...], message: str) -> None:
    with pytest.raises(WheelContentsError) as excinfo:
        build_wheel(bare(tmp_path, tags=tags), tmp_path / "out")
    assert str(excinfo.value) == message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        ("-bad-", "1", "'-bad-' is not a valid distribution name"),
        ("good", "1.0-x-y", "'1.0-x-y' is not a valid version (PEP 440)"),
    ],
)
def test_bad_name_or_version(tmp_path: Path, name: str, version: str, message: str) -> None:
    contents = bare(tmp_path, metadata=CoreMetadata(name=name, version=version))
    with pytest.raises(WheelContentsError, match=r"^") as excinfo:
        build_wheel(contents, tmp_path / "out")
    assert str(excinfo.value) == message


@pytest.mark.parametrize("level", [-1, 10, True])
def test_bad_compression_level(tmp_path: Path, level: int) -> None:
    with pytest.raises(SpecError) as excinfo:
        build_wheel(bare(tmp_path), tmp_path / "out", compression_level=level)
    assert str(excinfo.value) == (
        f"compression level must be a whole number from 0 to 9, not {level!r}"
    )


def test_bad_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(SpecError) as excinfo:
        build_wheel(bare(tmp_path), tmp_path / "out")
    assert (
        str(excinfo.value) == "SOURCE_DATE_EPOCH must be a whole number of seconds, not 'yesterday'"
    )
    assert excinfo.value.hint == "set it to the output of 'git log -1 --format=%ct', or unset it"


# -- atomicity -------------------------------------------------------------------------------------


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def test_source_vanishing_midway_leaves_nothing(
    contents: WheelContents, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = assemble._checked_files  # noqa: SLF001

    def check_then_vanish(c: WheelContents, stem: str) -> object:
        result = checked(c, stem)
        dict(c.files)["pygreet/bin/greet"].unlink()  # after the checks, before the writing
        return result

    monkeypatch.setattr(assemble, "_checked_files", check_then_vanish)
    with pytest.raises(WheelContentsError) as excinfo:
        build_wheel(contents, tmp_path / "out")
    source = tmp_path / "stage" / "pygreet" / "bin" / "greet"
    assert str(excinfo.value) == (
        f"cannot read {source} (for 'pygreet/bin/greet'): No such file or directory"
    )
    assert excinfo.value.hint == "the staged files changed while the wheel was written; press again"
    assert files_in(tmp_path / "out") == []


def test_interrupt_midway_keeps_the_old_wheel(
    contents: WheelContents, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = build_wheel(contents, tmp_path / "out")
    before = old.path.read_bytes()
    chunks = assemble._zip.Member.chunks  # noqa: SLF001
    seen: list[str] = []

    def interrupted(member: assemble._zip.Member) -> Iterator[bytes]:
        seen.append(member.arcname)
        if len(seen) == 4:
            raise KeyboardInterrupt
        yield from chunks(member)

    monkeypatch.setattr(assemble._zip.Member, "chunks", interrupted)  # noqa: SLF001
    with pytest.raises(KeyboardInterrupt):
        build_wheel(contents, tmp_path / "out", source_date_epoch=EPOCH)
    assert files_in(tmp_path / "out") == [WHEEL_NAME]
    assert old.path.read_bytes() == before


def test_unwritable_output(contents: WheelContents, tmp_path: Path) -> None:
    blocker = write(tmp_path / "dest" / "out", b"a file where the folder should be")
    with pytest.raises(WriteError) as excinfo:
        build_wheel(contents, blocker / "wheels")
    assert str(excinfo.value) == f"cannot write {WHEEL_NAME}: Not a directory"
    assert excinfo.value.hint == (
        f"check {blocker}/wheels and the disk it is on, or pass -o with another folder"
    )
    assert files_in(tmp_path / "dest") == ["out"]


# -- names, licenses and tags ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MIT", "MIT"),
        ("mit", "MIT"),
        ("BSD-3-Clause", "BSD-3-Clause"),
        ("GPL-3.0-only WITH GCC-exception-3.1", "GPL-3.0-only WITH GCC-exception-3.1"),
        ("Apache-2.0 OR mit", "Apache-2.0 OR MIT"),
        ("  LGPL-2.1-or-later ", "LGPL-2.1-or-later"),
        ("LicenseRef-Proprietary", "LicenseRef-Proprietary"),
        ("BSD", None),
        ("GPL", None),
        ("Apache 2.0", None),
        ("Public Domain", None),
        ("", None),
        (None, None),
    ],
)
def test_spdx_or_none(text: str | None, expected: str | None) -> None:
    assert spdx_or_none(text) == expected


@pytest.mark.parametrize(
    ("name", "version", "tags", "expected"),
    [
        ("pygreet", "1.0.0", TAGS, WHEEL_NAME),
        (
            "PyYAML",
            "6.0.1",
            ["cp311-cp311-linux_x86_64"],
            "pyyaml-6.0.1-cp311-cp311-linux_x86_64.whl",
        ),
        ("ruamel.yaml", "0.18", ["py3-none-any"], "ruamel_yaml-0.18-py3-none-any.whl"),
        ("a-b_c", "1.0-1", ["py3-none-any"], "a_b_c-1.0.post1-py3-none-any.whl"),
        ("x", "1+local.1", ["py2-none-any", "py3-none-any"], "x-1+local.1-py2.py3-none-any.whl"),
        (
            "np",
            "2",
            [f"{py}-none-{p}" for py in ("py2", "py3") for p in ("manylinux1_x86_64", "any")],
            "np-2-py2.py3-none-manylinux1_x86_64.any.whl",
        ),
        (
            "lib",
            "1",
            ["cp312-abi3-manylinux_2_28_aarch64"],
            "lib-1-cp312-abi3-manylinux_2_28_aarch64.whl",
        ),
    ],
)
def test_wheel_filename(name: str, version: str, tags: list[str], expected: str) -> None:
    assert wheel_filename(name, version, tags) == expected


def test_dist_info_name() -> None:
    assert dist_info_name("Foo.Bar--baz", "1.0") == "foo_bar_baz-1.0.dist-info"
    assert dist_info_name("pygreet", "01.0") == "pygreet-1.0.dist-info"


# -- reading a package's own METADATA --------------------------------------------------------------

METADATA_2_1 = """\
Metadata-Version: 2.1
Name: Salutation
Version: 1.2.0
Summary: Polite greetings
  for everyone
Home-page: https://example.org/salutation
Author: Jane Doe
Author-email: jane@example.org
Maintainer: UNKNOWN
License: BSD 3-Clause License
        {blank}
        Copyright (c) 2024, Jane Doe
Project-URL: Source, https://example.org/salutation/src
Project-URL: Tracker, https://example.org/salutation/issues
Keywords: greeting,hello , polite
Platform: UNKNOWN
Classifier: Programming Language :: Python :: 3
Classifier: License :: OSI Approved :: BSD License
Requires-Python: >=3.8
Description-Content-Type: text/markdown
Requires-Dist: colorama
Requires-Dist: pytest ; extra == 'test'
Provides-Extra: test
License-File: LICENSE

# Salutation

Polite greetings.
""".format(blank="")

METADATA_1_0 = """\
Metadata-Version: 1.0
Name: oldgreet
Version: 0.1
Summary: An old greeter
Home-page: http://example.org/oldgreet
Author: A. Person
Author-email: a@example.org
License: MIT
Description: Old style description.
        {blank}
        Second paragraph,
       |  indented.
Platform: POSIX
""".format(blank="")


def test_core_metadata_from_dist_info_2_1() -> None:
    assert core_metadata_from_dist_info(METADATA_2_1, name="salutation", version="1.2") == (
        CoreMetadata(
            name="salutation",
            version="1.2",
            summary="Polite greetings for everyone",
            license="BSD 3-Clause License\n\nCopyright (c) 2024, Jane Doe",
            project_urls=(
                ("Homepage", "https://example.org/salutation"),
                ("Source", "https://example.org/salutation/src"),
                ("Tracker", "https://example.org/salutation/issues"),
            ),
            requires_python=">=3.8",
            provides_extra=("test",),
            description="# Salutation\n\nPolite greetings.\n",
            description_content_type="text/markdown",
            extra=(
                ("Author", "Jane Doe"),
                ("Author-email", "jane@example.org"),
                ("Keywords", "greeting,hello,polite"),
                ("Classifier", "Programming Language :: Python :: 3"),
                ("Classifier", "License :: OSI Approved :: BSD License"),
            ),
        )
    )


def test_core_metadata_from_dist_info_1_0() -> None:
    assert core_metadata_from_dist_info(METADATA_1_0, name="oldgreet", version="0.1") == (
        CoreMetadata(
            name="oldgreet",
            version="0.1",
            summary="An old greeter",
            license_expression=None,
            license="MIT",
            project_urls=(("Homepage", "http://example.org/oldgreet"),),
            description="Old style description.\n\nSecond paragraph,\n  indented.",
            extra=(
                ("Author", "A. Person"),
                ("Author-email", "a@example.org"),
                ("Platform", "POSIX"),
            ),
        )
    )


def test_core_metadata_from_dist_info_2_4() -> None:
    text = (
        "Metadata-Version: 2.4\nName: new\nVersion: 3\nLicense-Expression: apache-2.0\n"
        "License-File: LICENSE\nProject-URL: homepage, https://a.example\n"
        "Home-page: https://b.example\nDescription: header\n\nbody\n"
    )
    assert core_metadata_from_dist_info(text, name="new", version="3") == CoreMetadata(
        name="new",
        version="3",
        license_expression="Apache-2.0",
        project_urls=(("homepage", "https://a.example"),),
        description="body\n",
    )


@settings(max_examples=50, deadline=None)
@given(
    description=st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=200),
    license_text=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Zl", "Zp", "Zs")), min_size=1
    ).map(lambda s: s.replace("x", "\n")),
)
def test_written_metadata_reads_back(description: str, license_text: str) -> None:
    metadata = CoreMetadata(name="a", version="1", license=license_text, description=description)
    problems: list[str] = []
    text = assemble._metadata_text(metadata, problems)  # noqa: SLF001
    assert problems == []
    raw, unparsed = parse_email(text)
    assert unparsed == {}
    if description:
        assert raw["description"] == description + ("" if description.endswith("\n") else "\n")
    expected = license_text.strip()
    assert core_metadata_from_dist_info(text, name="a", version="1").license == (expected or None)


@pytest.mark.parametrize("level", [0, 6])
def test_the_wheel_written_is_scanned_as_the_audit_reads_it(
    contents: WheelContents, tmp_path: Path, realworld: Path, level: int
) -> None:
    """The press audits its wheels from what it wrote: the same scan as reading them back."""
    from condapress.audit import audit_scan, audit_wheel
    from condapress.audit._scan import read_wheel
    from condapress.unpack import extract

    tk = extract(realworld / "cf2024/linux-64/tk-8.6.13-noxft_h4845f30_101.conda", tmp_path / "tk")
    libs = sorted(p for p in (tk.root / "lib").glob("lib*.so*") if not p.is_symlink())
    files = contents.files + tuple((f"pygreet.libs/{p.name}", p) for p in libs)
    built = build_wheel(
        dataclasses.replace(contents, files=files), tmp_path, compression_level=level
    )
    assert built.scan is not None
    assert built.scan == read_wheel(built.path)
    assert audit_scan(built.scan) == audit_wheel(built.path)
    # what the scan holds: binaries read, broken ones named, the build prefix in tk's RPATH
    scans = {member.name: member for member in built.scan.members}
    assert scans["pygreet.libs/libtk8.6.so"].elf is not None
    assert scans["pygreet.libs/libtk8.6.so"].prefixes
    assert scans["pygreet.libs/libgreet-0a1b2c3d.so.1"].problem is not None
    assert scans["pygreet/__init__.py"].source == "from pygreet._greet import hello\n"

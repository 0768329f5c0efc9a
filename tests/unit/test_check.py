"""condapress check: PyPI's upload rules, one at a time, on wheels written here with zipfile."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from typing import TYPE_CHECKING

import pytest

from condapress._cli import main
from condapress.audit import check_text, check_wheel
from condapress.audit._pypi_rules import PYPI_CODES, pypi_rules
from condapress.errors import ArchiveError
from condapress.model import Level

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

README = "# demo\n\nA demo package.\n"
METADATA = (
    "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n"
    "Description-Content-Type: text/markdown\n\n" + README
)


def _row(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def wheel(
    directory: Path,
    *,
    filename: str = "demo-1.0-py3-none-any.whl",
    metadata: str = METADATA,
    dist_info: str = "demo-1.0.dist-info",
    extra: Mapping[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """A wheel whose RECORD is right, with *extra* members (paths inside the wheel)."""
    members = {
        "demo/__init__.py": b"",
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        **(extra or {}),
    }
    record = "".join(_row(n, d) for n, d in members.items()) + f"{dist_info}/RECORD,,\n"
    members[f"{dist_info}/RECORD"] = record.encode()
    path = directory / filename
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def messages(path: Path, **kwargs: int) -> list[tuple[str, str, str]]:
    return [(f.level.value, f.code, f.message) for f in check_wheel(path, **kwargs).findings]


def test_a_good_wheel_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = wheel(tmp_path)
    assert messages(path) == []
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out == (
        "demo-1.0-py3-none-any.whl (1 KiB; PyPI takes up to 100 MiB a file)\n"
        "demo-1.0-py3-none-any.whl: PyPI takes it (0 errors, 0 warnings)\n"
    )


@pytest.mark.parametrize(
    ("platform", "accepted"),
    [
        ("any", True),
        ("manylinux_2_17_x86_64", True),
        ("manylinux2014_aarch64", True),
        ("manylinux_2_28_ppc64", True),
        ("musllinux_1_2_riscv64", True),
        ("musllinux_1_2_ppc64", False),
        ("macosx_10_9_x86_64", True),
        ("macosx_11_0_arm64", True),
        ("macosx_11_3_arm64", False),
        ("macosx_14_0_sparc", False),
        ("win_amd64", True),
        ("linux_armv7l", True),
        ("linux_x86_64", False),
        ("manylinux1_aarch64", False),
        ("ios_13_0_arm64_iphoneos", True),
        ("android_21_arm64_v8a", True),
        ("pyemscripten_2024_0_wasm32", True),
        ("freebsd_14_0_amd64", False),
    ],
)
def test_platform_tags_as_pypi_takes_them(platform: str, accepted: bool) -> None:
    assert pypi_rules().platform_ok(platform) is accepted


def test_linux_tag_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = wheel(tmp_path, filename="demo-1.0-cp311-cp311-linux_x86_64.whl")
    assert messages(path) == [
        (
            "error",
            "pypi-platform-tag",
            (
                "the platform tag linux_x86_64 is not one PyPI takes: it says nothing about the "
                "distributions the wheel runs on"
            ),
        )
    ]
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().out == (
        "demo-1.0-cp311-cp311-linux_x86_64.whl (1 KiB; PyPI takes up to 100 MiB a file)\n"
        "error: the platform tag linux_x86_64 is not one PyPI takes: it says nothing about the "
        "distributions the wheel runs on\n"
        "  hint: tag it for a platform PyPI knows (manylinux_X_Y, musllinux_X_Y, macosx, win); "
        "a linux_<arch> wheel belongs on a private index\n"
        "demo-1.0-cp311-cp311-linux_x86_64.whl: PyPI refuses it (1 error, 0 warnings)\n"
    )


def test_size_limit_is_pypis_default_or_the_one_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 100 MiB (warehouse/constants.py MAX_FILESIZE) unless the project's limit was raised
    assert pypi_rules().max_file_size == 100 << 20
    path = wheel(
        tmp_path,
        extra={"demo/blob.bin": b"".join(hashlib.sha512(bytes([i])).digest() for i in range(64))},
    )
    size = path.stat().st_size
    assert messages(path, max_file_size=size) == []
    assert messages(path, max_file_size=1024) == [
        (
            "error",
            "pypi-file-too-large",
            f"the wheel is {size:,} bytes (5 KiB), more than the 1 KiB PyPI takes in one file",
        )
    ]
    assert main(["check", str(path), "--max-file-size", "0.001"]) == 1
    out = capsys.readouterr().out
    assert f"error: the wheel is {size:,} bytes (5 KiB), more than the 1 KiB PyPI takes" in out
    assert (
        "  hint: make the wheel smaller (press native libraries as wheels of their own instead "
        "of --fat), or ask PyPI to raise the project's file size limit and pass "
        "--max-file-size\n" in out
    )


def test_max_file_size_must_be_mebibytes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "x.whl", "--max-file-size", "-3"])
    assert "argument --max-file-size: must be more than 0 MiB, not -3" in capsys.readouterr().err


def test_name_not_normalized(tmp_path: Path) -> None:
    path = wheel(
        tmp_path,
        filename="Demo-1.0-py3-none-any.whl",
        metadata=METADATA.replace("Name: demo", "Name: Demo"),
        dist_info="Demo-1.0.dist-info",
    )
    assert messages(path) == [
        (
            "error",
            "pypi-filename",
            (
                "PyPI wants the file name to start with 'demo', the normalized name of Demo, "
                "not 'Demo'"
            ),
        )
    ]


def test_dist_info_where_pypi_reads_it(tmp_path: Path) -> None:
    path = wheel(tmp_path, filename="demo-1.0.0-py3-none-any.whl")
    assert messages(path) == [
        (
            "error",
            "pypi-dist-info",
            (
                "PyPI reads demo-1.0.0.dist-info/WHEEL, demo-1.0.0.dist-info/METADATA, "
                "demo-1.0.0.dist-info/RECORD, which the wheel does not have"
            ),
        )
    ]


def test_invalid_file_name(tmp_path: Path) -> None:
    path = wheel(tmp_path, filename="demo.whl")
    assert messages(path) == [
        (
            "error",
            "bad-filename",
            (
                "demo.whl is not a valid wheel file name: Invalid wheel filename (wrong number of "
                "parts): 'demo'"
            ),
        )
    ]


def test_core_metadata_and_name_come_from_the_audit(tmp_path: Path) -> None:
    path = wheel(tmp_path, metadata=METADATA.replace("Name: demo", "Name: other"))
    assert messages(path) == [
        (
            "error",
            "name-mismatch",
            "the file name says the distribution is demo, but METADATA says other",
        )
    ]
    path = wheel(
        tmp_path,
        metadata=METADATA.replace("Version: 1.0\n", "Version: 1.0\nRequires-Python: wat\n"),
    )
    [(level, code, message)] = messages(path)
    assert (level, code) == ("error", "metadata-invalid")
    assert message.startswith("METADATA is not valid core metadata: ")


def test_pypi_metadata_rules(tmp_path: Path) -> None:
    extra = (
        "Summary: " + "s" * 513 + "\n"
        "Classifier: Private :: Do Not Upload\n"
        "Classifier: Natural Language :: Ukranian\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "Home-page: ftp://example.org\n"
        "Project-URL: A label that is much too long for PyPI, https://example.org\n"
        "Project-URL: Source, git+ssh://example.org/demo\n"
        "Requires-Dist: other @ https://example.org/other.whl\n"
    )
    metadata = METADATA.replace("Version: 1.0\n", "Version: 1.0+local\n" + extra)
    path = wheel(
        tmp_path,
        filename="demo-1.0+local-py3-none-any.whl",
        metadata=metadata,
        dist_info="demo-1.0+local.dist-info",
    )
    assert messages(path) == [
        (
            "error",
            "pypi-metadata",
            (
                "PyPI refuses this METADATA: the version 1.0+local is a local version, which "
                "PyPI refuses; Summary is longer than 512 characters; 'Private :: Do Not Upload' "
                "is not a valid classifier; the classifier 'Natural Language :: Ukranian' is "
                "deprecated, use one of Natural Language :: Ukrainian instead; Home-page "
                "'ftp://example.org' is not an http(s) URL; the Project-URL label 'A label that "
                "is much too long for PyPI' is empty or longer than 32 characters; the "
                "Project-URL 'Source' 'git+ssh://example.org/demo' is not an http(s) URL; "
                "Requires-Dist 'other @ https://example.org/other.whl' is a direct reference"
            ),
        )
    ]


def test_rst_that_does_not_render(tmp_path: Path) -> None:
    broken = "Title\n=====\n\n`unterminated\n\n.. unknown-directive::\n"
    metadata = METADATA.replace(
        "Description-Content-Type: text/markdown\n\n" + README, "\n" + broken
    )
    path = wheel(tmp_path, metadata=metadata)
    assert messages(path) == [
        (
            "error",
            "pypi-description",
            (
                "the long description does not render as reStructuredText: 4: (WARNING/2) "
                "Inline interpreted text or phrase reference start-string without end-string."
            ),
        ),
        (
            "warning",
            "description-type-missing",
            "METADATA does not say what markup its long description is in",
        ),
    ]


def test_twine_strict_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = wheel(tmp_path, metadata="Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n")
    assert messages(path) == [
        ("warning", "description-missing", "METADATA has no long description")
    ]
    assert main(["check", str(path)]) == 0
    capsys.readouterr()
    assert main(["check", "--strict", str(path)]) == 1
    assert capsys.readouterr().out.splitlines()[1:] == [
        "warning: METADATA has no long description",
        "  hint: add a long description (README) to METADATA; twine check --strict fails on it",
        "demo-1.0-py3-none-any.whl: failed under --strict (0 errors, 1 warning)",
    ]


def test_license_files_and_entry_points(tmp_path: Path) -> None:
    metadata = METADATA.replace("Version: 1.0\n", "Version: 1.0\nLicense-File: LICENSE\n")
    entry_points = b"[console_scripts]\n../evil = demo:main\ngood = demo:main\n"
    path = wheel(
        tmp_path, metadata=metadata, extra={"demo-1.0.dist-info/entry_points.txt": entry_points}
    )
    assert messages(path) == [
        (
            "error",
            "pypi-license-file",
            (
                "METADATA lists License-File LICENSE, but the wheel has no "
                "demo-1.0.dist-info/licenses/LICENSE"
            ),
        ),
        (
            "error",
            "pypi-entry-points",
            (
                "demo-1.0.dist-info/entry_points.txt has entry points whose names PyPI refuses: "
                "'../evil' in [console_scripts]"
            ),
        ),
    ]
    path = wheel(tmp_path, extra={"demo-1.0.dist-info/entry_points.txt": b"no section\n"})
    [(_, code, message)] = messages(path)
    assert code == "pypi-entry-points"
    assert message.startswith("demo-1.0.dist-info/entry_points.txt is not a valid INI file: ")


def test_compression_pypi_refuses(tmp_path: Path) -> None:
    path = wheel(tmp_path, compression=zipfile.ZIP_BZIP2)
    assert messages(path) == [
        (
            "error",
            "pypi-compression",
            (
                "4 members use a compression PyPI refuses (it takes stored and deflate): "
                "demo-1.0.dist-info/METADATA (bzip2), demo-1.0.dist-info/RECORD (bzip2), "
                "demo-1.0.dist-info/WHEEL (bzip2), demo/__init__.py (bzip2)"
            ),
        )
    ]


def test_decompression_bomb_by_pypis_ratio(tmp_path: Path) -> None:
    # 65 MiB of zeros deflate to some 64 KiB: 1000 times smaller, more than PyPI's 50
    path = wheel(tmp_path, extra={"demo/zeros.bin": bytes(65 << 20)})
    [(_, code, message)] = messages(path)
    assert code == "pypi-compression"
    size = path.stat().st_size
    unpacked = (65 << 20) + sum(
        info.file_size
        for info in zipfile.ZipFile(path).infolist()
        if info.filename != "demo/zeros.bin"
    )
    assert message == (
        f"the wheel unpacks to {unpacked:,} bytes, {unpacked // size} times its size: PyPI "
        "refuses a wheel that unpacks to more than 64 MiB and 50 times its size"
    )


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(b"not a zip")
    with pytest.raises(ArchiveError) as caught:
        check_wheel(path)
    assert caught.value.message == (
        "cannot check demo-1.0-py3-none-any.whl: it is not a readable zip archive (File is "
        "not a zip file)"
    )
    assert caught.value.hint == "download or press the wheel again; a wheel is a zip file"


def test_every_code_has_a_level_and_a_hint() -> None:
    for code, (level, hint) in PYPI_CODES.items():
        assert code == code.lower()
        assert " " not in code
        assert isinstance(level, Level)
        assert hint


def test_text_escapes_names(tmp_path: Path) -> None:
    path = wheel(tmp_path, filename="demo-1.0-py3-none-linux_\x1b[2J.whl")
    text = check_text(check_wheel(path))
    assert "\x1b" not in text
    assert "linux_\\x1b[2J" in text


def test_a_file_that_is_not_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "demo-1.0-py3-none-any.whl")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: no such file: {tmp_path}/demo-1.0-py3-none-any.whl",
        "hint: check the path of the wheel",
    ]

"""condapress index: a PEP 503 index with PEP 658 metadata that real pip installs from."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import pytest

from condapress._cli import main
from condapress.errors import IndexConflictError
from condapress.index import _merge
from support import FIXTURE_CHANNEL
from support.presses import messages
from support.venvs import make_venv

if TYPE_CHECKING:
    from pathlib import Path

SPECS = ["pygreet", "pyshout", "salutation-python"]
PYTHONS = ["--python", "3.11", "--python", "3.12"]


class _Links(HTMLParser):
    """Every <a> of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def links(page: Path) -> list[dict[str, str | None]]:
    parser = _Links()
    parser.feed(page.read_text())
    return parser.links


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _index(root: Path, cache: Path, *argv: str) -> int:
    base = ["index", "-c", str(FIXTURE_CHANNEL), "--cache-dir", str(cache), "-o", str(root)]
    return main([*base, *argv])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    tmp = tmp_path_factory.mktemp("index")
    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        assert _index(tmp / "index", tmp / "cache", *SPECS, *PYTHONS, "-q") == 0
    return tmp / "index", tmp / "cache", out.getvalue().splitlines()


@pytest.mark.slow
def test_layout_pages_and_metadata_files(built: tuple[Path, Path, list[str]]) -> None:
    root, _, lines = built
    simple = root / "simple"
    projects = ["libgreet-conda", "libgreetpp-conda", "pygreet", "pyshout", "salutation"]
    assert [link["href"] for link in links(simple / "index.html")] == [f"{p}/" for p in projects]
    wheels = sorted(simple.glob("*/*.whl"))
    # salutation, pressed for every spec and python, is one file; pygreet and pyshout one per
    # python; libgreet-conda 1.0.0 (pygreet's) and 2.0.0 (pyshout's) both
    assert [w.name.split("-")[0] for w in wheels] == [
        "libgreet_conda",
        "libgreet_conda",
        "libgreetpp_conda",
        "pygreet",
        "pygreet",
        "pyshout",
        "pyshout",
        "salutation",
    ]
    assert lines[:-1] == [str(w) for w in sorted(wheels, key=lambda w: w.name)]
    assert lines[-1] == (
        f"{simple}: 5 projects, 8 wheels added, 0 there already; pip install --index-url "
        f"{simple.resolve().as_uri()} NAME"
    )
    for project in projects:
        for link in links(simple / project / "index.html"):
            href = str(link["href"])
            name, _, fragment = href.partition("#")
            wheel = simple / project / name
            assert fragment == f"sha256={hashlib.sha256(wheel.read_bytes()).hexdigest()}"
            metadata = (simple / project / f"{name}.metadata").read_bytes()
            with zipfile.ZipFile(wheel) as zf:
                [member] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
                assert zf.read(member) == metadata
            digest = f"sha256={hashlib.sha256(metadata).hexdigest()}"
            assert link["data-dist-info-metadata"] == link["data-core-metadata"] == digest
            requires = re.search(rb"^Requires-Python: (.*)$", metadata, re.MULTILINE)
            assert link.get("data-requires-python") == (requires[1].decode() if requires else None)


@pytest.mark.slow
def test_pip_installs_from_the_index_with_the_metadata_files(
    built: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    simple = built[0] / "simple"
    venv = make_venv("3.12", tmp_path / "venv")
    url = simple.resolve().as_uri()
    log = venv.pip("install", "-v", "--index-url", url, "pygreet").stdout
    # pip read each requirement from the PEP 658 file, before it downloaded any wheel
    for name in ("pygreet-1.0.0-cp312-cp312", "salutation-1.2.0-py3-none-any"):
        assert re.search(
            rf"Obtaining dependency information for \S+ from \S+/{name}\S*\.whl\.metadata", log
        )
    code = "import pygreet; print(pygreet.greet('Ada')); print(pygreet.libgreet_version())"
    out = venv.run(venv.python, "-c", code).stdout.splitlines()
    assert out[0].startswith("Hello, Ada! (from share/libgreet/greeting.txt of libgreet 1.0.0)")
    assert out[1] == "1"


@pytest.mark.slow
def test_indexing_again_adds_nothing_and_changes_nothing(
    built: tuple[Path, Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, cache, _ = built
    before = tree(root)
    assert _index(root, cache, *SPECS, *PYTHONS, "-q") == 0
    assert capsys.readouterr().out.splitlines() == [
        (
            f"{root}/simple: 5 projects, 0 wheels added, 8 there already; pip install --index-url "
            f"{(root / 'simple').resolve().as_uri()} NAME"
        )
    ]
    assert tree(root) == before


@pytest.mark.slow
def test_an_index_never_replaces_a_file(
    built: tuple[Path, Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, cache, _ = built
    copy = tmp_path / "index"
    for name, data in tree(root).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    other = copy / "simple" / "salutation" / "salutation-1.2.0-py3-none-any.whl"
    other.write_bytes((copy / "simple" / "pyshout").glob("*.whl").__next__().read_bytes())
    before = tree(copy)
    assert _index(copy, cache, "salutation-python", "--python", "3.11", "-q") == 1
    assert messages(capsys.readouterr().err.splitlines()) == [
        (
            "error: the index already has a salutation-1.2.0-py3-none-any.whl other than the one "
            "salutation-python for python 3.11 makes"
        ),
        (
            "hint: an index never replaces a file: press a new version, or choose another folder "
            "with -o"
        ),
    ]
    assert tree(copy) == before


def test_a_spec_that_fails_leaves_the_index_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "index"
    assert _index(root, tmp_path / "cache", "tally", "nosuchthing", "--python", "3.11") == 1
    assert messages(capsys.readouterr().err.splitlines()) == [
        (f"error: package 'nosuchthing' is not on {FIXTURE_CHANNEL} for linux-64 or noarch"),
        "hint: check the spelling, or add the channel that has it with -c",
    ]
    assert not root.exists()


def test_two_presses_that_disagree(tmp_path: Path) -> None:
    made: dict[str, tuple[str, Path, str]] = {}
    wheel = tmp_path / "libzstd_conda-1.5.6-py3-none-manylinux_2_17_x86_64.whl"
    _merge(made, "a for python 3.11", wheel, "0" * 64)
    _merge(made, "b for python 3.12", wheel, "0" * 64)  # the same bytes: once
    assert list(made) == [wheel.name]
    with pytest.raises(IndexConflictError) as caught:
        _merge(made, "c for python 3.12", wheel, "1" * 64)
    assert caught.value.message == (
        "a for python 3.11 and c for python 3.12 make different wheels named "
        "libzstd_conda-1.5.6-py3-none-manylinux_2_17_x86_64.whl"
    )
    assert caught.value.hint == (
        "their closures hold different builds of one version: index them apart, or pin the "
        "build in the specs"
    )


@pytest.mark.slow
def test_all_indexes_every_python_package_and_skips_what_cannot_be_pressed(
    channel: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a noarch python package whose dependency no channel has: it cannot be pressed
    repodata = channel / "noarch" / "repodata.json"
    data = json.loads(repodata.read_text())
    data["packages"]["brokenpy-1.0-pyh0_0.tar.bz2"] = {
        "name": "brokenpy", "version": "1.0", "build": "pyh0_0", "build_number": 0,
        "depends": ["python >=3.8", "nosuchdep >=1"], "noarch": "python", "subdir": "noarch",
        "license": "MIT", "md5": "0" * 32, "sha256": "0" * 64, "size": 1,
    }  # fmt: skip
    repodata.write_text(json.dumps(data))
    root = tmp_path / "index"
    base = ["index", "--all", "-c", str(channel), "--cache-dir", str(tmp_path / "cache")]
    assert main([*base, "--python", "3.12", "--subdir", "linux-64", "-o", str(root)]) == 0
    out = capsys.readouterr().out
    simple = root / "simple"
    reason = (
        "cannot solve 'brokenpy' for python 3.12 on linux-64: brokenpy * cannot be installed "
        "because there are no viable options: brokenpy 1.0 would require nosuchdep >=1, for "
        "which no candidates were found."
    )
    assert out.splitlines() == [
        f"{simple}/libgreet-conda/libgreet_conda-1.0.0-py3-none-manylinux_2_34_x86_64.whl",
        f"{simple}/libgreet-conda/libgreet_conda-2.0.0-py3-none-manylinux_2_34_x86_64.whl",
        f"{simple}/libgreetpp-conda/libgreetpp_conda-1.0.0-py3-none-manylinux_2_34_x86_64.whl",
        f"{simple}/pygreet/pygreet-1.0.0-cp312-cp312-manylinux_2_34_x86_64.whl",
        f"{simple}/pyshout/pyshout-2.0.0-cp312-cp312-manylinux_2_34_x86_64.whl",
        f"{simple}/salutation/salutation-1.2.0-py3-none-any.whl",
        f"skipped brokenpy for python 3.12: {reason}",
        (
            f"{simple}: 5 projects, 6 wheels added, 0 there already; pip install --index-url "
            f"{simple.resolve().as_uri()} NAME"
        ),
    ]
    assert f"skipped brokenpy for python 3.12: {reason}" in caplog.messages  # logged as it goes
    venv = make_venv("3.12", tmp_path / "venv")
    venv.pip("install", "--index-url", simple.resolve().as_uri(), "pyshout", "salutation")
    code = "import pyshout, salutation; print(pyshout.__name__, salutation.__name__)"
    assert venv.run(venv.python, "-c", code).stdout == "pyshout salutation\n"


def test_all_takes_no_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _index(tmp_path / "index", tmp_path / "cache", "--all", "pygreet")
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "condapress index: error: --all presses every python package: give no SPEC with it"
    )


def test_all_fails_when_no_package_could_be_pressed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = tmp_path / "channel"
    record = {
        "name": "brokenpy", "version": "1.0", "build": "pyh0_0", "build_number": 0,
        "depends": ["python >=3.8", "nosuchdep >=1"], "noarch": "python", "subdir": "noarch",
        "license": "MIT", "md5": "0" * 32, "sha256": "0" * 64, "size": 1,
    }  # fmt: skip
    for subdir, packages in (("noarch", {"brokenpy-1.0-pyh0_0.tar.bz2": record}), ("linux-64", {})):
        (channel / subdir).mkdir(parents=True)
        repodata = {"info": {"subdir": subdir}, "packages": packages, "packages.conda": {}}
        (channel / subdir / "repodata.json").write_text(json.dumps(repodata))
    root = tmp_path / "index"
    argv = ["index", "--all", "-c", str(channel), "--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "--python", "3.12", "--subdir", "linux-64", "-o", str(root), "-q"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        (
            "error: no press succeeded (1 tried); the first, brokenpy for python 3.12: cannot "
            "solve 'brokenpy' for python 3.12 on linux-64: brokenpy * cannot be installed "
            "because there are no viable options: brokenpy 1.0 would require nosuchdep >=1, for "
            "which no candidates were found."
        ),
        (
            "hint: check --python and --subdir against the channel's builds; the log says why "
            "each was skipped"
        ),
    ]
    assert not root.exists()

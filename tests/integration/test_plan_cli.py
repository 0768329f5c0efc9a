"""``condapress plan`` end to end: py-rattler solves real channels, the CLI prints the plan."""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from condapress._cli import main
from support.presses import messages, messages_text

if TYPE_CHECKING:
    from pathlib import Path

PYTHONS = ("3.10", "3.11", "3.12")


def run_plan(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["plan", "--json", *argv]) == 0, capsys.readouterr().err
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    schema = json.loads(
        (resources.files("condapress") / "data" / "plan-schema.json").read_text(encoding="utf-8")
    )
    jsonschema.validate(document, schema)
    return document


def conda_forge_2024_plan(realworld: Path, cache: str, spec: str) -> list[str]:
    """The arguments of a fat plan of *spec* for python 3.10 on the 2024 conda-forge archives."""
    return [
        spec,
        "--python",
        "3.10",
        "-c",
        str(realworld / "cf2024"),
        "--fat",
        "--cache-dir",
        cache,
    ]


def fixture_plan(channel: Path, cache: str, *argv: str) -> list[str]:
    """``condapress plan ARGV`` on the fixture channel for CPython 3.11."""
    return ["plan", *argv, "-c", str(channel), "--python", "3.11", "--cache-dir", cache]


def fates(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {p["name"]: (p["class"], p["becomes"]) for p in document["packages"]}


@pytest.fixture
def cache(tmp_path: Path) -> str:
    return str(tmp_path / "cache")


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("fat", [True, False], ids=["fat", "split"])
def test_fixture_extension_package(
    fixture_channel: Path, cache: str, python: str, fat: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--fat"] if fat else []
    doc = run_plan(
        capsys,
        "pygreet",
        "-c",
        str(fixture_channel),
        "--python",
        python,
        "--cache-dir",
        cache,
        *flags,
    )
    tag = python.replace(".", "")
    builds = {p["name"]: p["build"] for p in doc["packages"]}
    assert builds["pygreet"].startswith(f"py{tag}h")
    native = "merged" if fat else "wheel"
    assert fates(doc) == {
        "_libgcc_mutex": ("system", "dropped"),
        "_openmp_mutex": ("system", "dropped"),
        "libgcc-ng": ("system", "dropped"),
        "libgomp": ("system", "dropped"),
        "libgreet": ("native", native),
        "libgreetpp": ("native", native),
        "libstdcxx-ng": ("system", "dropped"),
        "pygreet": ("root", "wheel"),
        "python": ("system", "dropped"),
        "python_abi": ("system", "dropped"),
        "salutation-python": ("python", "requirement"),
    }
    salutation = next(p for p in doc["packages"] if p["name"] == "salutation-python")
    assert (salutation["requirement"], salutation["name_source"], salutation["name_verified"]) == (
        "salutation>=1.2",
        "dist-info",
        True,
    )
    wheels = {w["distribution"]: (w["members"], w["requires_dist"]) for w in doc["wheels"]}
    if fat:
        assert wheels == {"pygreet": (["pygreet", "libgreetpp", "libgreet"], ["salutation>=1.2"])}
    else:
        assert wheels == {
            "pygreet": (["pygreet"], ["libgreetpp-conda==1.0.0", "salutation>=1.2"]),
            "libgreetpp-conda": (["libgreetpp"], ["libgreet-conda==1.0.0"]),
            "libgreet-conda": (["libgreet"], []),
        }


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("fat", [True, False], ids=["fat", "split"])
def test_fixture_native_and_noarch_roots(
    fixture_channel: Path, cache: str, python: str, fat: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--fat"] if fat else []
    specs = ["tally", "libgreet 2.*", "salutation-python", "-c", str(fixture_channel)]
    doc = run_plan(capsys, *specs, "--python", python, "--cache-dir", cache, *flags)
    assert {w["distribution"]: w["members"] for w in doc["wheels"]} == {
        "tally-conda": ["tally"],
        "libgreet-conda": ["libgreet"],
        "salutation": ["salutation-python"],
    }
    versions = {p["name"]: p["version"] for p in doc["packages"]}
    assert versions["libgreet"] == "2.0.0"
    roots = {p["name"] for p in doc["packages"] if p["class"] == "root"}
    assert roots == {"tally", "libgreet", "salutation-python"}
    salutation = next(p for p in doc["packages"] if p["name"] == "salutation-python")
    assert (salutation["pypi_name"], salutation["name_source"]) == ("salutation", "dist-info")


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("fat", [True, False], ids=["fat", "split"])
def test_fixture_libgreet_2_extension(
    fixture_channel: Path, cache: str, python: str, fat: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--fat"] if fat else []
    argv = ["pyshout", "-c", str(fixture_channel), "--python", python, "--cache-dir", cache]
    doc = run_plan(capsys, *argv, *flags)
    native = "merged" if fat else "wheel"
    got = fates(doc)
    assert (got["pyshout"], got["libgreet"]) == (("root", "wheel"), ("native", native))
    system = ("_libgcc_mutex", "_openmp_mutex", "libgcc-ng", "libgomp", "python", "python_abi")
    others = {k: v for k, v in got.items() if k not in ("pyshout", "libgreet")}
    assert others == dict.fromkeys(system, ("system", "dropped"))
    versions = {p["name"]: p["version"] for p in doc["packages"]}
    assert versions["libgreet"] == "2.0.0"
    wheels = {w["distribution"]: w["requires_dist"] for w in doc["wheels"]}
    if fat:
        assert wheels == {"pyshout": []}
    else:
        assert wheels == {"pyshout": ["libgreet-conda==2.0.0"], "libgreet-conda": []}


def test_graph_file_shows_classes(
    fixture_channel: Path, cache: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()  # the table goes to stdout; the graph only to the file
    dot = tmp_path / "plan.dot"
    assert main(fixture_plan(fixture_channel, cache, "pygreet", "--fat", "--graph", str(dot))) == 0
    text = dot.read_text()
    assert text.startswith('strict digraph "condapress_plan" {\n')
    assert (
        'pygreet [label="pygreet-1.0.0-py311h26e73d1_0\\nroot: wheel", style=filled, '
        "fillcolor=gold, shape=box];\n"
    ) in text
    assert (
        'libgreet [label="libgreet-1.0.0-hd590300_0\\nnative: merged", style=filled, '
        "fillcolor=palegreen, shape=box];\n"
    ) in text
    assert (
        '"libgcc-ng" [label="libgcc-ng-13.2.0-h807b86a_5\\nsystem: dropped", '
        'style="filled,dashed", fillcolor=lightgrey, shape=box];\n'
    ) in text
    assert "libgreetpp -> libgreet;\n" in text
    # no temporary file left beside it
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == ["plan.dot"]


def test_table_is_the_default(
    fixture_channel: Path, cache: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(fixture_plan(fixture_channel, cache, "pygreet", "--fat")) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan for pygreet: python 3.11, linux-64, fat, runtime system\n")
    assert "Requires-Dist: salutation>=1.2" in out
    assert "wheel pygreet 1.0.0: pygreet + libgreetpp + libgreet\n" in out


@pytest.mark.realworld
def test_pyyaml_from_conda_forge_archives(
    realworld: Path, cache: str, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_plan(capsys, *conda_forge_2024_plan(realworld, cache, "pyyaml"))
    assert fates(doc) == {
        "_libgcc_mutex": ("system", "dropped"),
        "_openmp_mutex": ("system", "dropped"),
        "libgcc-ng": ("system", "dropped"),
        "libgomp": ("system", "dropped"),
        "python_abi": ("system", "dropped"),
        "pyyaml": ("root", "wheel"),
        "yaml": ("native", "merged"),
    }
    assert doc["wheels"] == [
        {
            "distribution": "PyYAML",
            "version": "6.0.1",
            "members": ["pyyaml", "yaml"],
            "requires_dist": [],
            "wheel_dependencies": [],
        }
    ]


@pytest.mark.realworld
def test_cffi_requires_pycparser_by_its_own_name(
    realworld: Path, cache: str, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_plan(capsys, *conda_forge_2024_plan(realworld, cache, "cffi"))
    packages = {p["name"]: p for p in doc["packages"]}
    assert fates(doc)["libffi"] == ("native", "merged")
    assert packages["pycparser"]["requirement"] == "pycparser"
    assert packages["pycparser"]["name_source"] == "dist-info"


@pytest.mark.realworld
def test_conda_forge_repodata_snapshot(
    realworld: Path, cache: str, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = str(realworld / "repodata" / "conda-forge-2024-05")
    doc = run_plan(
        capsys, "curl", "six", "--python", "3.11", "-c", channel, "--fat", "--cache-dir", cache
    )
    got = fates(doc)
    # curl is native: its libraries are merged into one wheel with a name that is not 'curl'
    for lib in ("libcurl", "openssl", "libzlib", "zstd", "libssh2", "krb5"):
        assert got[lib] == ("native", "merged"), lib
    for system in ("libgcc-ng", "_libgcc_mutex"):
        assert got[system] == ("system", "dropped")
    wheels = {w["distribution"]: w for w in doc["wheels"]}
    assert set(wheels) == {"curl-conda", "six"}
    six = next(p for p in doc["packages"] if p["name"] == "six")
    # metadata only: the PyPI name is a guess and the plan says so
    assert (six["class"], six["name_source"], six["name_verified"]) == ("root", "conda-name", False)
    assert six["reason"] == "requested (python: noarch: python)"


def test_unknown_package(
    fixture_channel: Path, cache: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "nosuchthing", "-c", str(fixture_channel), "--cache-dir", cache]) == 1
    assert messages_text(capsys.readouterr().err) == (
        f"error: package 'nosuchthing' is not on {fixture_channel} for linux-64 or noarch\n"
        "hint: check the spelling, or add the channel that has it with -c\n"
    )


def test_unsatisfiable_spec(
    fixture_channel: Path, cache: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(fixture_plan(fixture_channel, cache, "pygreet >=9")) == 1
    assert messages_text(capsys.readouterr().err) == (
        "error: cannot solve 'pygreet >=9' for python 3.11 on linux-64: No candidates were "
        "found for pygreet >=9.\n"
        "hint: relax the spec or pick another --python; run with -v for the solver's full "
        "explanation\n"
    )


def test_missing_channel_folder(
    tmp_path: Path, cache: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nochannel"
    assert main(["plan", "pyyaml", "-c", str(missing), "--cache-dir", cache]) == 1
    assert messages_text(capsys.readouterr().err) == (
        f"error: cannot read repodata from {missing}: could not find subdir 'noarch' in "
        f"channel '{missing.as_uri()}/'\n"
        "hint: check the channel name, URL or folder (a local channel needs "
        "<subdir>/repodata.json and noarch/repodata.json) and your network connection\n"
    )


def test_malformed_channel(tmp_path: Path, cache: str, capsys: pytest.CaptureFixture[str]) -> None:
    for subdir in ("noarch", "linux-64"):
        (tmp_path / "ch" / subdir).mkdir(parents=True)
        (tmp_path / "ch" / subdir / "repodata.json").write_text("{not json")
    assert main(["plan", "pyyaml", "-c", str(tmp_path / "ch"), "--cache-dir", cache]) == 1
    assert messages_text(capsys.readouterr().err) == (
        f"error: cannot read repodata from {tmp_path / 'ch'}: failed to parse repodata.json\n"
        "hint: check the channel name, URL or folder (a local channel needs "
        "<subdir>/repodata.json and noarch/repodata.json) and your network connection\n"
    )


def channel_without(fixture_channel: Path, folder: Path, *dropped: str) -> Path:
    """A copy of the fixture channel whose linux-64 index leaves out the archives *dropped*."""
    for subdir in ("linux-64", "noarch"):
        index = json.loads((fixture_channel / subdir / "repodata.json").read_text())
        for key in ("packages", "packages.conda"):
            index[key] = {k: v for k, v in index.get(key, {}).items() if not k.startswith(dropped)}
        (folder / subdir).mkdir(parents=True)
        (folder / subdir / "repodata.json").write_text(json.dumps(index))
    return folder


@pytest.mark.parametrize(
    ("spec", "python", "expected"),
    [
        (
            "pygreet",
            "3.13",
            (
                "error: no build of 'pygreet' on {channel} is for python 3.13; its builds are for "
                "python 3.10, 3.11, 3.12\n"
                "hint: choose a python it has builds for, e.g. --python 3.12\n"
            ),
        ),
        (
            "pygreet",
            "3.9",
            (
                "error: no build of 'pygreet' on {channel} is for python 3.9; its builds are for "
                "python 3.10, 3.11, 3.12\n"
                "hint: choose a python it has builds for, e.g. --python 3.10\n"
            ),
        ),
        (
            "salutation-python",  # noarch: python, 'python >=3.8'
            "3.7",
            (
                "error: no build of 'salutation-python' on {channel} is for python 3.7; its builds "
                "are for python 3.8 or newer\n"
                "hint: choose a python it has builds for, e.g. --python 3.8\n"
            ),
        ),
    ],
)
def test_no_build_for_the_target_python(
    spec: str,
    python: str,
    expected: str,
    fixture_channel: Path,
    cache: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["plan", spec, "-c", str(fixture_channel), "--python", python, "--cache-dir", cache]
    assert main(argv) == 1
    assert messages_text(capsys.readouterr().err) == expected.format(channel=fixture_channel)


def test_a_channel_built_for_another_python(
    fixture_channel: Path, tmp_path: Path, cache: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only the CPython 3.10 builds, and no python package: the solver's own explanation ends in
    # "no viable options:" and the reason is on the lines below it.
    drop = ("python-", "python_abi-", "pygreet-1.0.0-py311", "pygreet-1.0.0-py312")
    channel = channel_without(fixture_channel, tmp_path / "ch", *drop)
    assert (
        main(["plan", "pygreet", "-c", str(channel), "--python", "3.11", "--cache-dir", cache]) == 1
    )
    assert messages_text(capsys.readouterr().err) == (
        f"error: no build of 'pygreet' on {channel} is for python 3.11; its builds are for "
        "python 3.10\n"
        "hint: choose a python it has builds for, e.g. --python 3.10\n"
    )


def test_a_short_solver_explanation_is_given_whole(
    fixture_channel: Path, tmp_path: Path, cache: str, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = channel_without(fixture_channel, tmp_path / "ch", "libgreetpp-")
    argv = ["plan", "pygreet", "-c", str(channel), "--python", "3.10", "--cache-dir", cache]
    assert main(argv) == 1
    assert messages_text(capsys.readouterr().err) == (
        "error: cannot solve 'pygreet' for python 3.10 on linux-64: pygreet * cannot be installed "
        "because there are no viable options: pygreet 1.0.0 would require libgreetpp "
        ">=1.0.0,<2.0a0, for which no candidates were found.\n"
        "hint: relax the spec or pick another --python; run with -v for the solver's full "
        "explanation\n"
    )
    # -v, as the hint says, also after the command: the explanation as the solver gave it,
    # and a hint that no longer asks for -v
    assert main([*argv, "-v"]) == 1
    assert messages(capsys.readouterr().err.splitlines())[1:] == [
        "pygreet * cannot be installed because there are no viable options:",
        "└─ pygreet 1.0.0 would require",
        "   └─ libgreetpp >=1.0.0,<2.0a0, for which no candidates were found.",
        "hint: relax the spec or pick another --python",
    ]

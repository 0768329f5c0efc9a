"""solve.resolve with a fake solver: roots, local archives' records, the target, bad requests.

The real backend (py-rattler on the fixture channel and on loopback HTTP channels) is exercised
by tests/integration/test_plan_cli.py, test_cli_robustness.py and test_reliability.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from condapress import solve
from condapress.errors import SolveError, SpecError
from condapress.model import Closure, NoArch, SolveRequest
from support.factories import record
from support.fake_solver import FakeSolver

CHANNEL = (
    record("libgreet", "1.0.0", "hd590300_0"),
    record("libgreet", "2.0.0", "hd590300_0"),  # the fake takes the first of a name
    record("libgreetpp", "1.0.0", "h6712182_0", "libgreet >=1.0.0,<2.0a0"),
    record(
        "pygreet",
        "1.0.0",
        "py311h26e73d1_0",
        "libgreetpp >=1.0.0,<2.0a0",
        "python >=3.11,<3.12.0a0",
        "salutation-python >=1.2",
    ),
    record("salutation-python", "1.2.0", "pyhd8ed1ab_0", "python >=3.8", noarch=NoArch.PYTHON),
    record("tally", "0.3.0", "hd590300_0"),
)
SUBDIR_HINT = (
    "use one of: linux-64, linux-aarch64, linux-ppc64le, linux-s390x, osx-64, osx-arm64, win-64"
)
SPEC_HINT = "write specs the way conda does, for example 'numpy >=1.26' or 'pyarrow=0.14'"


def request(
    *specs: str, python: str = "3.11", subdir: str = "linux-64", glibc: str = "2.17"
) -> SolveRequest:
    return SolveRequest(specs, ("fixture",), python=python, subdir=subdir, glibc=glibc)


def test_the_closure_holds_every_solved_record_sorted_and_the_specs_names_as_roots() -> None:
    solver = FakeSolver(CHANNEL)
    got = solve.resolve(request("pygreet >=1", "tally=0.3"), solver=solver)
    assert got == Closure(
        specs=("pygreet >=1", "tally=0.3"),
        roots=("pygreet", "tally"),
        records=(CHANNEL[0], *CHANNEL[2:]),  # by name: libgreet, libgreetpp, pygreet, ...
        python="3.11",
        subdir="linux-64",
        channels=("fixture",),
    )
    assert solver.requests == [request("pygreet >=1", "tally=0.3")]


def test_a_root_is_named_as_conda_normalizes_it() -> None:
    got = solve.resolve(request("PyGreet[version='>=1']"), solver=FakeSolver(CHANNEL))
    assert got.roots == ("pygreet",)
    assert got.specs == ("PyGreet[version='>=1']",)


def test_the_target_python_subdir_and_glibc_reach_the_solver() -> None:
    solver = FakeSolver(CHANNEL)
    got = solve.resolve(
        request("tally", python="3.12", subdir="linux-aarch64", glibc="2.28"), solver=solver
    )
    assert (got.python, got.subdir) == ("3.12", "linux-aarch64")
    (asked,) = solver.requests
    assert (asked.python, asked.subdir, asked.glibc) == ("3.12", "linux-aarch64", "2.28")


def test_a_local_archive_s_record_is_a_root_and_its_dependencies_are_solved() -> None:
    fresh = record("pygreet", "1.1.0", "py311h0_0", "libgreetpp >=1", "python >=3.11")
    solver = FakeSolver(CHANNEL)
    got = solve.resolve(
        request("./pygreet-1.1.0-py311h0_0.conda", "tally"),
        local={"./pygreet-1.1.0-py311h0_0.conda": fresh},
        solver=solver,
    )
    # The channel's specs first, then the local archive's dependencies; never the archive.
    assert [r.specs for r in solver.requests] == [("tally", "libgreetpp >=1", "python >=3.11")]
    assert got.specs == ("./pygreet-1.1.0-py311h0_0.conda", "tally")
    assert got.roots == ("pygreet", "tally")
    assert [r.name for r in got.records] == ["libgreet", "libgreetpp", "pygreet", "tally"]
    assert got.records[2] is fresh  # not the channel's pygreet 1.0.0


def test_the_local_record_wins_over_a_solved_one_of_its_name() -> None:
    # The channel's pygreet is pulled in by another root; the local build replaces it.
    fresh = record("pygreet", "1.1.0", "py311h0_0")
    shouts = record("pyshout", "2.0.0", "py311h0_0", "pygreet >=1")
    got = solve.resolve(
        request("pygreet.conda", "pyshout"),
        local={"pygreet.conda": fresh},
        solver=FakeSolver((*CHANNEL, shouts)),
    )
    assert [r for r in got.records if r.name == "pygreet"] == [fresh]


def test_local_archives_without_dependencies_need_no_solve() -> None:
    solver = FakeSolver(error=AssertionError("no solve expected"))
    fresh = record("tally", "0.4.0", "h0_0")
    got = solve.resolve(request("tally.conda"), local={"tally.conda": fresh}, solver=solver)
    assert got.records == (fresh,)
    assert got.roots == ("tally",)
    assert solver.requests == []


def test_the_solver_s_error_is_the_error() -> None:
    failure = SolveError("cannot solve 'tally' for python 3.11 on linux-64: nothing provides it")
    with pytest.raises(SolveError) as info:
        solve.resolve(request("tally"), solver=FakeSolver(error=failure))
    assert info.value is failure


@pytest.mark.parametrize(
    ("changes", "message", "hint"),
    [
        ({"specs": ()}, "no package to press", "name at least one conda spec, e.g. 'pyyaml'"),
        (
            {"python": "3.12.1"},
            "python version '3.12.1' is not of the form X.Y",
            "pass the target interpreter as major.minor, e.g. --python 3.12",
        ),
        (
            {"python": "3"},
            "python version '3' is not of the form X.Y",
            "pass the target interpreter as major.minor, e.g. --python 3.11",
        ),
        (
            {"python": "2.7.18"},
            "python version '2.7.18' is not of the form X.Y",
            "pass the target interpreter as major.minor, e.g. --python 3.11",
        ),
        (
            {"python": "3.11\x1b[2J"},
            "python version '3.11\\x1b[2J' is not of the form X.Y",
            "pass the target interpreter as major.minor, e.g. --python 3.11",
        ),
        (
            {"python": "2.7"},
            "python 2.7 is not a target: condapress presses wheels for CPython 3",
            "pass a CPython 3 version, e.g. --python 3.11",
        ),
        (
            {"subdir": "noarch"},
            "unknown subdir 'noarch'",
            SUBDIR_HINT,
        ),
        (
            {"subdir": "linux-128"},
            "unknown subdir 'linux-128'",
            SUBDIR_HINT,
        ),
        (
            {"specs": ("tally >=1 [",)},
            "invalid match spec 'tally >=1 [': multiple bracket sections not allowed",
            SPEC_HINT,
        ),
        (
            {"specs": ("tally", "pkg\x1b[2J")},
            (
                "invalid match spec 'pkg\\x1b[2J': invalid package name 'pkg\\x1b[2J': "
                "'pkg\\x1b[2J' is not a valid package name. Package names can only contain "
                "0-9, a-z, A-Z, -, _, or ."
            ),
            SPEC_HINT,
        ),
    ],
    ids=[
        "no-spec",
        "python-patch",
        "python-major",
        "python-2-patch",
        "python-escape",
        "python-2",
        "subdir-noarch",
        "subdir-unknown",
        "spec-brackets",
        "spec-escape",
    ],
)
def test_a_bad_request_is_refused_before_any_solve(
    changes: dict[str, Any], message: str, hint: str
) -> None:
    solver = FakeSolver(CHANNEL)
    with pytest.raises(SpecError) as info:
        solve.resolve(dataclasses.replace(request("tally"), **changes), solver=solver)
    assert (info.value.message, info.value.hint) == (message, hint)
    assert solver.requests == []

"""Solves on local channels are remembered until the channel's repodata changes.

py-rattler solves a copy of the fixture channel; the backend below only counts its solves, so
each test can tell a remembered solve from a real one.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from condapress import solve
from condapress.model import SolveRequest
from condapress.solve._rattler import RattlerSolver
from condapress.solve._remember import Remembering

if TYPE_CHECKING:
    from pathlib import Path

    from condapress.model import CondaRecord
    from support.channel_server import ChannelServer


class Counting:
    """py-rattler's backend, counting the solves it runs."""

    def __init__(self, version: str | None = None) -> None:
        self.real = RattlerSolver()
        self.solves = 0
        self._version = version

    @property
    def version(self) -> str:
        return self._version or self.real.version

    def solve(self, request: SolveRequest) -> tuple[CondaRecord, ...]:
        self.solves += 1
        return self.real.solve(request)


def request(channel: str, *specs: str) -> SolveRequest:
    return SolveRequest(specs or ("pygreet", "tally"), (channel,), python="3.11")


def versions(records: tuple[CondaRecord, ...]) -> dict[str, str]:
    return {record.name: record.version for record in records}


def test_a_second_solve_is_read_back_whole(channel: Path, tmp_path: Path) -> None:
    backend = Counting()
    remembering = Remembering(backend, tmp_path / "cache")
    first = remembering.solve(request(str(channel)))
    again = remembering.solve(request(str(channel)))
    assert backend.solves == 1
    assert again == first
    assert set(first) == set(RattlerSolver().solve(request(str(channel))))
    assert len(first) == len(set(first)) == 12
    (entry,) = (tmp_path / "cache" / "solves").iterdir()
    assert entry.suffix == ".json"


def test_resolve_remembers_with_py_rattler_in_the_request_s_cache(
    channel: Path, tmp_path: Path
) -> None:
    asked = replace(request(str(channel)), cache_dir=tmp_path / "cache")
    first = solve.resolve(asked)
    assert len(list((tmp_path / "cache" / "solves").iterdir())) == 1
    assert solve.resolve(asked) == first


def test_a_channel_indexed_again_is_solved_again(channel: Path, tmp_path: Path) -> None:
    backend = Counting()
    remembering = Remembering(backend, tmp_path / "cache")
    assert versions(remembering.solve(request(str(channel), "libgreet")))["libgreet"] == "2.0.0"
    repodata = channel / "linux-64" / "repodata.json"
    index = json.loads(repodata.read_text())
    del index["packages.conda"]["libgreet-2.0.0-hd590300_0.conda"]
    repodata.write_text(json.dumps(index))
    assert versions(remembering.solve(request(str(channel), "libgreet")))["libgreet"] == "1.0.0"
    assert backend.solves == 2


def test_a_repodata_file_added_beside_the_json_is_a_change(channel: Path, tmp_path: Path) -> None:
    backend = Counting()
    remembering = Remembering(backend, tmp_path / "cache")
    remembering.solve(request(str(channel)))
    (channel / "noarch" / "repodata.json.zst").write_bytes(b"")
    remembering.solve(request(str(channel)))
    assert backend.solves == 2


def test_another_target_or_solver_version_is_solved_on_its_own(
    channel: Path, tmp_path: Path
) -> None:
    backend = Counting()
    Remembering(backend, tmp_path / "cache").solve(request(str(channel)))
    Remembering(backend, tmp_path / "cache").solve(replace(request(str(channel)), glibc="2.28"))
    Remembering(backend, tmp_path / "cache").solve(request(str(channel), "tally", "pygreet"))
    newer = Counting(version="py-rattler 999")
    Remembering(newer, tmp_path / "cache").solve(request(str(channel)))
    assert (backend.solves, newer.solves) == (3, 1)
    assert len(list((tmp_path / "cache" / "solves").iterdir())) == 3


#: the ways an entry is damaged: a replacement of its text.
DAMAGE = {
    "type": ('"build_number": 0', '"build_number": "0"'),
    "field": ('"md5": ', '"md6": '),
    "layout": ('"layout": 1', '"layout": 0'),
}


def damaged(text: str, how: str) -> str:
    if how == "truncated":
        return text[: len(text) // 2]
    if how == "shape":
        return "[]"
    return text.replace(*DAMAGE[how])


@pytest.mark.parametrize("how", ["truncated", "shape", *DAMAGE])
def test_a_damaged_entry_costs_a_solve_and_is_written_again(
    channel: Path, tmp_path: Path, how: str
) -> None:
    backend = Counting()
    remembering = Remembering(backend, tmp_path / "cache")
    first = remembering.solve(request(str(channel)))
    (entry,) = (tmp_path / "cache" / "solves").iterdir()
    text = entry.read_text()
    assert damaged(text, how) != text
    entry.write_text(damaged(text, how))
    assert remembering.solve(request(str(channel))) == first
    assert remembering.solve(request(str(channel))) == first
    assert backend.solves == 2
    assert entry.read_text() == text


def test_a_cache_that_cannot_hold_the_entry_costs_nothing(channel: Path, tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "solves").write_text("a file where the folder would be")
    backend = Counting()
    remembering = Remembering(backend, tmp_path / "cache")
    assert remembering.solve(request(str(channel))) == remembering.solve(request(str(channel)))
    assert backend.solves == 2


def test_a_channel_on_a_server_is_never_remembered(server: ChannelServer, tmp_path: Path) -> None:
    backend = Counting()
    remembering = Remembering(backend, tmp_path / "cache")
    asked = replace(request(server.url), cache_dir=tmp_path / "cache")
    assert remembering.solve(asked) == remembering.solve(asked)
    assert backend.solves == 2
    assert not (tmp_path / "cache" / "solves").exists()


def test_a_spec_that_names_its_channel_is_never_remembered(channel: Path, tmp_path: Path) -> None:
    backend = Counting()
    remembering = Remembering(backend, tmp_path / "cache")
    asked = request(str(channel), f"{channel.as_uri()}::tally")
    assert versions(remembering.solve(asked)) == versions(remembering.solve(asked))
    assert backend.solves == 2
    assert not (tmp_path / "cache" / "solves").exists()

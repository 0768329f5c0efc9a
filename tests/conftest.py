"""Fixtures for the whole suite; shared helpers live in the ``support`` package."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support import FIXTURE_CHANNEL, REALWORLD
from support.channel_server import PROXY_VARIABLES, ChannelServer, serving
from support.presses import Workspace

if TYPE_CHECKING:
    from collections.abc import Iterator

UNIT = Path(__file__).parent / "unit"


class _NoProcess(subprocess.Popen[bytes]):
    def __init__(self, args: object, *_: object, **__: object) -> None:
        message = f"a unit test started {args!r}: programs are for tests/integration"
        raise AssertionError(message)


@pytest.fixture(autouse=True)
def _unit_tests_start_no_program(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/unit is pure: gcc, patchelf, pip, venvs and condapress itself run in integration."""
    if request.node.path.is_relative_to(UNIT):
        monkeypatch.setattr(subprocess, "Popen", _NoProcess)


@pytest.fixture
def realworld() -> Path:
    """The conda-forge archives kept next to the checkout; skips the test when absent."""
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is absent: the conda-forge archive tier needs it")
    return REALWORLD


@pytest.fixture
def fixture_channel() -> Path:
    """The committed fixture channel."""
    return FIXTURE_CHANNEL


@pytest.fixture
def channel(tmp_path: Path) -> Path:
    """A copy of the fixture channel, without the recipes."""
    copy = tmp_path / "channel"
    for subdir in ("linux-64", "noarch"):
        shutil.copytree(FIXTURE_CHANNEL / subdir, copy / subdir)
    return copy


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """Presses from *tmp_path*, with temporary files in ``tmp`` and ``outside/secret`` to aim at."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("keep me")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return Workspace(tmp_path)


@pytest.fixture
def server(channel: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelServer]:
    """The channel copy, served on 127.0.0.1, which this process talks to without a proxy."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    with serving(channel) as httpd:
        yield httpd

"""Shared paths and markers for the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE_CHANNEL = REPO / "channels_fixture"
REALWORLD = REPO.parent / "shared" / "realworld"


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

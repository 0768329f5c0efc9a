"""Helpers shared by both test tiers: paths, archive and wheel writers, model factories, fakes.

``pyproject.toml`` puts ``tests/`` on the import path, so a test imports ``support`` (and its
modules) by name; ``conftest.py`` holds only pytest fixtures.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE_CHANNEL = REPO / "channels_fixture"
REALWORLD = REPO.parent / "shared" / "realworld"

"""Helpers shared by both test tiers: paths, archive and wheel writers, model factories, fakes.

- ``tests/unit``: one stage at a time, in this process, on objects from :mod:`.factories`,
  archives and wheels written by :mod:`.conda_archives` and :mod:`.wheels`, and the
  :class:`.fake_solver.FakeSolver`. No program runs there (``conftest.py`` makes
  ``subprocess.Popen`` fail).
- ``tests/integration``: the real tools: gcc/g++ and patchelf (:mod:`.native`), pip in fresh
  venvs (:mod:`.venvs`), twine, auditwheel, and whole presses through the command line
  (:mod:`.presses`, :mod:`.archive_edits`, :mod:`.channel_server`).

``pyproject.toml`` puts ``tests/`` on the import path, so a test imports ``support`` (and its
modules) by name; ``conftest.py`` holds only pytest fixtures.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE_CHANNEL = REPO / "channels_fixture"
REALWORLD = REPO.parent / "shared" / "realworld"

"""``python -m condapress``: the same as the ``condapress`` command."""

from __future__ import annotations

from condapress._cli import console

if __name__ == "__main__":
    console()

"""``python -m condapress``: the same as the ``condapress`` command."""

from __future__ import annotations

import sys

from condapress._cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The command line run in this process, on a copy of the fixture channel, and checked to leave
no trace when it refuses: what the integration tests of hostile input share.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import re
from pathlib import Path

from condapress._cli import main

LIBGREET = "libgreet-1.0.0-hd590300_0.tar.bz2"
LIBGREETPP = "libgreetpp-1.0.0-h6712182_0.conda"
PYGREET = "pygreet-1.0.0-py311h26e73d1_0.conda"
SALUTATION = "salutation-python-1.2.0-pyhd8ed1ab_0.tar.bz2"
#: What every press here asks for: pygreet with libgreetpp and libgreet merged into its wheel.
PRESS = ("pygreet", "--python", "3.11", "--fat")
UNSAFE_HINT = "hint: do not use this archive; report it to the channel it came from"


@dataclasses.dataclass(frozen=True)
class Run:
    status: int
    stdout: str
    stderr: list[str]


def press(channel: str | Path, out: Path, cache: Path, *argv: str) -> Run:
    """``condapress -c CHANNEL -o OUT --cache-dir CACHE ARGV...`` in this process."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["-c", str(channel), "-o", str(out), "--cache-dir", str(cache), *argv])
    return Run(status, stdout.getvalue(), stderr.getvalue().splitlines())


def tree(root: Path, *, skip: tuple[Path, ...] = ()) -> dict[str, tuple[int, int, bytes]]:
    """Every path under *root* (but *skip*): its mode, size and content hash."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) not in skip]
        for name in [*dirs, *files]:
            path = Path(folder, name)
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b""
            found[str(path.relative_to(root))] = (st.st_mode, st.st_size, digest)
    return found


@dataclasses.dataclass
class Workspace:
    """Presses from tmp_path and checks that a refused press changed nothing outside the cache.

    Temporary files go to ``tmp_path/tmp``; ``tmp_path/outside/secret`` is what hostile members
    aim at.
    """

    root: Path
    before: dict[str, tuple[int, int, bytes]] = dataclasses.field(default_factory=dict)

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def press(self, channel: Path, *argv: str) -> Run:
        self.before = tree(self.root, skip=(self.cache,))
        return press(channel, self.root / "out", self.cache, *(argv or PRESS))

    def refused(self, channel: Path, *lines: str, argv: tuple[str, ...] = ()) -> Run:
        """Press; the press must fail with exactly *lines* on stderr and leave no trace."""
        run = self.press(channel, *argv)
        assert_refused(run, *lines)
        self.assert_untouched()
        return run

    def assert_untouched(self) -> None:
        assert tree(self.root, skip=(self.cache,)) == self.before  # no output, no stray files
        assert (self.root / "outside" / "secret").read_text() == "keep me"


#: A line of progress, which a press prints on standard error when it is no terminal; the
#: lines themselves are tested in tests/integration/test_progress_cli.py.
PROGRESS = re.compile(r"(solve|download|unpack|patch|compress): ")


def messages(lines: list[str]) -> list[str]:
    """*lines* of standard error without the lines of progress."""
    return [line for line in lines if not PROGRESS.match(line)]


def messages_text(text: str) -> str:
    """The text of standard error without the lines of progress."""
    return "".join(f"{line}\n" for line in messages(text.splitlines()))


def assert_refused(run: Run, *lines: str) -> None:
    assert run.status == 1
    assert run.stdout == ""
    got = [line for line in messages(run.stderr) if not line.startswith("WARNING: ")]
    assert got == list(lines), got

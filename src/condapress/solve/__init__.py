"""Stage 1, resolve: turn conda match specs into the runtime closure, solved by py-rattler.

The target interpreter and platform are given to the solver as *provided* packages (``python``,
``__glibc``, ``__unix``, ``__linux``; ``__osx`` for macOS), so a solve works on channels that
hold no ``python`` record and never picks a build for another interpreter. The request is
checked here; the solving is a backend's behind :class:`_Solver`: py-rattler's (``_rattler``,
whose failures ``_messages`` explains) unless another is given. Solves on channels that are
folders on this machine are remembered in the cache folder until their repodata changes
(``_remember``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from condapress._folders import default_cache_dir
from condapress._progress import NULL_REPORTER
from condapress.errors import SpecError, printable
from condapress.model import KNOWN_SUBDIRS, Closure
from condapress.solve._rattler import RattlerSolver, spec_name
from condapress.solve._remember import Remembering

if TYPE_CHECKING:
    from collections.abc import Mapping

    from condapress._progress import Reporter
    from condapress.model import CondaRecord, SolveRequest

__all__ = ["python_packages", "resolve"]

logger = logging.getLogger(__name__)

_PYTHON_RE = re.compile(r"^(\d+)\.(\d{1,2})(\.\d+)*$")
_MACOS_RE = re.compile(r"^\d{1,2}\.\d{1,2}$")


class _Solver(Protocol):
    """What :func:`resolve` needs from a solver backend (py-rattler, or a fake in tests)."""

    def solve(self, request: SolveRequest) -> tuple[CondaRecord, ...]:
        """The records of one solution of *request* (its specs, for its python and subdir).

        :raises SolveError: the specs have no solution on the channels.
        :raises ChannelError: a channel cannot be read.
        """


def resolve(
    request: SolveRequest,
    *,
    local: Mapping[str, CondaRecord] | None = None,
    solver: _Solver | None = None,
    reporter: Reporter = NULL_REPORTER,
) -> Closure:
    """Solve *request* and return its closure.

    :param local: the record of each spec that names a local archive (a feedstock's fresh build,
        read by :func:`condapress.unpack.local_records`); its dependencies are solved on the
        channels beside the other specs.
    :param solver: the backend; unless given (a fake in tests), py-rattler's, whose solves on
        local channels are remembered in the request's cache folder (``solve._remember``).
    :param reporter: told when the solve begins and how many packages it found.
    :raises SpecError: a spec, the python version or the subdir is malformed.
    :raises SolveError: a package is unknown or the specs conflict.
    :raises ChannelError: a channel cannot be reached or read.
    """
    _validate(request)
    local = local or {}
    names = tuple(spec for spec in request.specs if spec not in local)
    roots = tuple(local[s].name if s in local else spec_name(s) for s in request.specs)
    # A local archive's own dependencies are solved on the channels, beside the other specs.
    needed = names + tuple(dep for rec in local.values() for dep in rec.depends)
    reporter.solving(request.specs, request.python, request.subdir)
    if solver is None:
        solver = Remembering(RattlerSolver(), request.cache_dir or default_cache_dir())
    solved = solver.solve(replace(request, specs=needed)) if needed else ()
    records = {rec.name: rec for rec in solved} | {rec.name: rec for rec in local.values()}
    logger.info("solved %s: %d packages", " ".join(request.specs), len(records))
    reporter.solved(len(records))
    return Closure(
        specs=request.specs,
        roots=roots,
        records=tuple(sorted(records.values(), key=lambda r: r.name)),
        python=request.python,
        subdir=request.subdir,
        channels=request.channels,
    )


def python_packages(request: SolveRequest) -> tuple[str, ...]:
    """The names of every python package on *request*'s channels for its python and subdir.

    A python package is a ``noarch: python`` one, or one whose builds depend on ``python`` and
    admit the request's version (``index --all``); ``python`` itself is not one. The solver
    chooses the newest build of each when it is pressed.

    :raises SpecError: the python version or the subdir is malformed.
    :raises ChannelError: a channel cannot be reached or read.
    """
    _validate(replace(request, specs=("python",)))
    names = RattlerSolver().python_packages(request)
    logger.info("%d python packages on %s", len(names), ", ".join(request.channels))
    return names


def _validate(request: SolveRequest) -> None:
    """Refuse a request no solver should see: no specs, a python not ``3.Y``, a bad subdir.

    :raises SpecError: with a hint that gives a value that would do.
    """
    if not request.specs:
        raise SpecError("no package to press", hint="name at least one conda spec, e.g. 'pyyaml'")
    python = _PYTHON_RE.match(request.python)
    if python is None or python[3]:
        example = f"{python[1]}.{python[2]}" if python and python[1] == "3" else "3.11"
        raise SpecError(
            f"python version '{printable(request.python)}' is not of the form X.Y",
            hint=f"pass the target interpreter as major.minor, e.g. --python {example}",
        )
    if python[1] != "3":
        raise SpecError(
            f"python {request.python} is not a target: condapress presses wheels for CPython 3",
            hint="pass a CPython 3 version, e.g. --python 3.11",
        )
    if not request.timeout > 0:
        raise SpecError(
            f"timeout {request.timeout:g} is not a number of seconds above 0",
            hint="pass the seconds a download may take, e.g. --timeout 300",
        )
    if not _MACOS_RE.match(request.macos):
        raise SpecError(
            f"macOS version '{printable(request.macos)}' is not of the form X.Y",
            hint="pass the oldest macOS the wheels are for as major.minor, e.g. --macos 11.0",
        )
    if request.subdir not in KNOWN_SUBDIRS or request.subdir == "noarch":
        raise SpecError(
            f"unknown subdir '{printable(request.subdir)}'",
            hint="use one of: " + ", ".join(s for s in KNOWN_SUBDIRS if s != "noarch"),
        )

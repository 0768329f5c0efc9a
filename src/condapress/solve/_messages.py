"""What a failed solve says: the solver's explanation in one line, and the likely cause named.

py-rattler explains a failure as a tree of lines; the ``error:`` line takes its gist, and the
whole tree goes to ``detail`` (shown with ``-v``). Two causes get a message of their own: a spec
whose builds are all for other pythons, and a channel that does not answer in time.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from condapress.errors import ChannelError, SolveError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import rattler

    from condapress.model import SolveRequest

__all__ = ["channel_error", "macos_hint", "python_mismatch", "summary", "timeout_error"]

#: The CPython 3 minor versions a build's ``python`` dependency is checked against when a solve
#: fails, to tell which interpreters the channel has builds for.
_PYTHON_MINORS = range(30)
#: A record's dependencies on python (one a line), by the dependency's name.
_PYTHON_DEPENDENCY = re.compile(r"^python(?:[\s<>=!~].*)?$", re.MULTILINE)
#: Lines of a solver explanation short enough to give in full on the ``error:`` line.
_SHORT_EXPLANATION = 4
#: How the solver says that a build needs a later macOS than the one provided.
_OSX_NEEDED = re.compile(r"__osx >=(\d+(?:\.\d+)*)")


def macos_hint(request: SolveRequest, explanation: str) -> str | None:
    """The hint for builds that need a later macOS than ``--macos``; None for other failures."""
    needs = _OSX_NEEDED.findall(explanation)
    if not request.subdir.startswith("osx-") or not needs:
        return None
    return (
        f"its builds need macOS {needs[0]} or later, more than --macos {request.macos}: pass "
        f"--macos {needs[0]} (the wheels' tags follow their binaries either way)"
    )


def summary(explanation: str) -> str:
    r"""The solver's explanation in one line: its first, unless that only announces the rest.

    >>> summary("foo 1 cannot be installed because there are no viable options:\n└─ bar is missing")
    'foo 1 cannot be installed because there are no viable options: bar is missing'
    """
    lines = [line.lstrip("│├└─ ") for line in explanation.splitlines()]
    lines = [line for line in lines if line]
    if not lines[0].endswith(":"):
        return lines[0]
    if len(lines) <= _SHORT_EXPLANATION:  # "... no viable options:" and the one reason why
        return " ".join(lines)
    return lines[0].removesuffix(":")


def python_mismatch(
    request: SolveRequest, found: Sequence[Sequence[rattler.RepoDataRecord]], explanation: str
) -> SolveError | None:
    """The error to give when a spec has builds on the channels, but none for the target python."""
    import rattler  # noqa: PLC0415
    from rattler.exceptions import InvalidMatchSpecError, InvalidVersionSpecError  # noqa: PLC0415

    records = [rec for per_channel in found for rec in per_channel]
    wanted = int(request.python.split(".")[1])
    for spec in request.specs:
        match = rattler.MatchSpec(spec)
        builds = [
            _PYTHON_DEPENDENCY.findall("\n".join(r.depends)) for r in records if match.matches(r)
        ]
        if not builds or not all(builds):  # a build without a python dependency suits any
            continue
        try:
            minors = sorted(set().union(*(_minors_accepted(b) for b in builds)))
        except (InvalidMatchSpecError, InvalidVersionSpecError):  # the solver's word stands
            return None
        if wanted in minors:
            continue
        where = f"no build of {spec!r} on {', '.join(request.channels)} is for python"
        if not minors:
            return SolveError(f"{where} 3", hint="press a version of it built for python 3")
        closest = min(minors, key=lambda m: (abs(m - wanted), -m))
        return SolveError(
            f"{where} {request.python}; its builds are for python {_minors_text(minors)}",
            hint=f"choose a python it has builds for, e.g. --python 3.{closest}",
            package=spec,
            detail=explanation,
        )
    return None


def _minors_accepted(dependencies: Sequence[str]) -> set[int]:
    """The N of the CPython 3.N whose version satisfies all these ``python`` dependencies."""
    import rattler  # noqa: PLC0415

    versions = [rattler.MatchSpec(dep).version for dep in dependencies]
    specs = [rattler.VersionSpec(v) for v in versions if v is not None]
    return {m for m in _PYTHON_MINORS if all(s.matches(rattler.Version(f"3.{m}")) for s in specs)}


def _minors_text(minors: Sequence[int]) -> str:
    """``3.10, 3.11``; a run up to the last minor version checked is ``3.8 or newer``.

    >>> _minors_text([9, 10]), _minors_text([8, *range(10, 30)])
    ('3.9, 3.10', '3.8, 3.10 or newer')
    """
    newer = _PYTHON_MINORS[-1]
    if newer not in minors:
        return ", ".join(f"3.{m}" for m in minors)
    while newer - 1 in minors:
        newer -= 1
    return ", ".join([*(f"3.{m}" for m in minors if m < newer), f"3.{newer} or newer"])


def timeout_error(where: str, timeout: float) -> ChannelError:
    """The error for channels *where* that gave no complete answer within *timeout* seconds.

    >>> print(timeout_error("conda-forge", 30))
    cannot read repodata from conda-forge: no complete answer within 30 s
    """
    return ChannelError(
        f"cannot read repodata from {where}: no complete answer within {timeout:g} s",
        hint="check your network connection and the channel URL; a slow channel needs a"
        f" larger --timeout (now {timeout:g} s)",
    )


def channel_error(exc: Exception, where: str, timeout: float) -> ChannelError:
    """The error for py-rattler's failure *exc* to read the repodata of channels *where*."""
    if "operation timed out" in str(exc):  # rattler's client gave up at the deadline
        error = timeout_error(where, timeout)
        error.detail = str(exc)
        return error
    first = str(exc).splitlines()[0]
    return ChannelError(
        f"cannot read repodata from {where}: {first}",
        hint="check the channel name, URL or folder (a local channel needs "
        "<subdir>/repodata.json and noarch/repodata.json) and your network connection",
        detail=str(exc),
    )

"""Stage 1, resolve: turn conda match specs into the runtime closure, solved by py-rattler.

The target interpreter and platform are given to the solver as *provided* packages (``python``,
``__glibc``, ``__unix``, ``__linux``; ``__osx`` for macOS), so a solve works on channels that
hold no ``python`` record and never picks a build for another interpreter. py-rattler's types
stop here: the solution is converted into :class:`~condapress.model.CondaRecord` at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from condapress._folders import default_cache_dir
from condapress.errors import ChannelError, SolveError, SpecError, printable
from condapress.model import KNOWN_SUBDIRS, Closure, CondaRecord, NoArch
from condapress.solve._aio import run_to_the_end

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import rattler
    from rattler.platform import PlatformLiteral

    from condapress.model import SolveRequest

__all__ = ["channel_url", "resolve"]

logger = logging.getLogger(__name__)

#: Build string of the provided ``python``: conda-forge's python_abi packages constrain
#: ``python 3.X.* *_cpython``, so the build must end in ``_cpython``.
_PROVIDED_PYTHON_BUILD = "provided_cpython"
_PYTHON_RE = re.compile(r"^(\d+)\.(\d{1,2})(\.\d+)*$")
_MACOS_RE = re.compile(r"^\d{1,2}\.\d{1,2}$")
#: How the solver says that a build needs a later macOS than the one provided.
_OSX_NEEDED = re.compile(r"__osx >=(\d+(?:\.\d+)*)")
#: The CPython 3 minor versions a build's ``python`` dependency is checked against when a solve
#: fails, to tell which interpreters the channel has builds for.
_PYTHON_MINORS = range(30)
#: A record's dependencies on python (one a line), by the dependency's name.
_PYTHON_DEPENDENCY = re.compile(r"^python(?:[\s<>=!~].*)?$", re.MULTILINE)
_ARCHIVE_SUFFIXES = (".conda", ".tar.bz2")
#: Lines of a solver explanation short enough to give in full on the ``error:`` line.
_SHORT_EXPLANATION = 4
_URL_RE = re.compile(r"^(https?|file)://", re.IGNORECASE)


class _Solver(Protocol):
    """What :func:`resolve` needs from a solver backend (py-rattler, or a fake in tests)."""

    def solve(self, request: SolveRequest) -> tuple[CondaRecord, ...]: ...


def channel_url(channel: str) -> str:
    """Resolve a channel as given on the command line to a name or URL py-rattler understands.

    Names (``conda-forge``) stay names; URLs stay URLs; anything that names an existing folder,
    or looks like a path, becomes an absolute ``file://`` URL.

    >>> channel_url("conda-forge")
    'conda-forge'
    >>> channel_url("https://example.org/ch")
    'https://example.org/ch'
    """
    if _URL_RE.match(channel):
        return channel
    path = Path(channel).expanduser()
    if path.is_dir() or os.sep in channel or channel.startswith("."):
        return path.resolve().as_uri()
    return channel


def resolve(
    request: SolveRequest,
    *,
    local: Mapping[str, CondaRecord] | None = None,
    solver: _Solver | None = None,
) -> Closure:
    """Solve *request* and return its closure.

    :param local: the record of each spec that names a local archive (a feedstock's fresh build,
        read by :func:`condapress.unpack.local_records`); its dependencies are solved on the
        channels beside the other specs.
    :param solver: the backend; py-rattler's unless given (a fake in tests).
    :raises SpecError: a spec, the python version or the subdir is malformed.
    :raises SolveError: a package is unknown or the specs conflict.
    :raises ChannelError: a channel cannot be reached or read.
    """
    _validate(request)
    local = local or {}
    names = tuple(spec for spec in request.specs if spec not in local)
    roots = tuple(local[s].name if s in local else _spec_name(s) for s in request.specs)
    # A local archive's own dependencies are solved on the channels, beside the other specs.
    needed = names + tuple(dep for rec in local.values() for dep in rec.depends)
    solved = (solver or _RattlerSolver()).solve(replace(request, specs=needed)) if needed else ()
    records = {rec.name: rec for rec in solved} | {rec.name: rec for rec in local.values()}
    logger.info("solved %s: %d packages", " ".join(request.specs), len(records))
    return Closure(
        specs=request.specs,
        roots=roots,
        records=tuple(sorted(records.values(), key=lambda r: r.name)),
        python=request.python,
        subdir=request.subdir,
        channels=request.channels,
    )


def _validate(request: SolveRequest) -> None:
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
            f"unknown subdir '{request.subdir}'",
            hint="use one of: " + ", ".join(s for s in KNOWN_SUBDIRS if s != "noarch"),
        )


def _spec_name(spec: str) -> str:
    import rattler  # noqa: PLC0415 - the compiled extension loads slowly; keep --help fast
    from rattler.exceptions import InvalidMatchSpecError  # noqa: PLC0415

    try:
        name = rattler.MatchSpec(spec).name
    except InvalidMatchSpecError as exc:
        first = printable(str(exc).splitlines()[0])
        raise SpecError(f"invalid match spec {spec!r}: {first}", detail=str(exc)) from exc
    if name is None:  # pragma: no cover - py-rattler requires a name unless told otherwise
        raise SpecError(f"match spec '{spec}' names no package")
    return str(name.normalized)


class _RattlerSolver:
    """The real backend: py-rattler's gateway (repodata, cache) and solver."""

    def solve(self, request: SolveRequest) -> tuple[CondaRecord, ...]:
        import rattler  # noqa: PLC0415

        cache = request.cache_dir or default_cache_dir()
        # Each request gets the whole deadline and one retry (a dropped connection); the
        # deadline around the solve below bounds them all together.
        client = rattler.Client.default_client(
            max_retries=1, timeout=max(1, math.ceil(request.timeout))
        )
        gateway = rattler.Gateway(cache_dir=cache / "repodata", client=client)
        channels = [rattler.Channel(channel_url(ch)) for ch in request.channels]
        for spec in request.specs:  # 'conda-forge::zstd' also searches conda-forge
            spec_channel = rattler.MatchSpec(spec).channel
            if spec_channel is not None and all(
                spec_channel.base_url != ch.base_url for ch in channels
            ):
                channels.append(spec_channel)
        platforms: list[PlatformLiteral] = [request.subdir, "noarch"]  # type: ignore[list-item]
        solving = self._solve(gateway, channels, platforms, request)
        try:
            solved = run_to_the_end(asyncio.wait_for(solving, timeout=request.timeout))
        except asyncio.TimeoutError:
            raise _timeout_error(", ".join(request.channels), request.timeout) from None
        return tuple(_to_record(rec) for rec in solved)

    async def _solve(
        self,
        gateway: rattler.Gateway,
        channels: Sequence[rattler.Channel],
        platforms: Sequence[PlatformLiteral],
        request: SolveRequest,
    ) -> list[rattler.RepoDataRecord]:
        import rattler  # noqa: PLC0415
        from rattler.exceptions import GatewayError, SolverError  # noqa: PLC0415

        where = ", ".join(request.channels)
        names = [_spec_name(s) for s in request.specs]
        try:
            found = await gateway.query(channels, platforms, names, recursive=False)
        except GatewayError as exc:
            raise _channel_error(exc, where, request.timeout) from exc
        names_found = {rec.name.normalized for per_channel in found for rec in per_channel}
        for name in names:
            # the target provides python and the virtual packages: no channel needs them
            if name not in names_found and name != "python" and not name.startswith("__"):
                raise SolveError(
                    f"package '{name}' is not on {where} for {request.subdir} or noarch",
                    hint="check the spelling, or add the channel that has it with -c",
                    package=name,
                )
        try:
            return await rattler.solve(
                channels,
                list(request.specs),
                gateway=gateway,
                platforms=platforms,
                virtual_packages=_provided(request),
                # A channel that holds python records must not pick another interpreter.
                constraints=[f"python {request.python}.*"],
            )
        except SolverError as exc:
            text = str(exc).removeprefix("Cannot solve the request because of: ").strip()
            raise _python_mismatch(request, found, text) or SolveError(
                f"cannot solve {' '.join(repr(s) for s in request.specs)} for python "
                f"{request.python} on {request.subdir}: {_summary(text)}",
                hint=_macos_hint(request, text)
                or "relax the spec, pick another --python, or run with -v for the solver's "
                "full explanation",
                detail=text,
            ) from exc
        except GatewayError as exc:  # pragma: no cover - query above reads the same repodata
            raise _channel_error(exc, where, request.timeout) from exc


def _macos_hint(request: SolveRequest, explanation: str) -> str | None:
    """The hint for builds that need a later macOS than ``--macos``; None for other failures."""
    needs = _OSX_NEEDED.findall(explanation)
    if not request.subdir.startswith("osx-") or not needs:
        return None
    return (
        f"its builds need macOS {needs[0]} or later, more than --macos {request.macos}: pass "
        f"--macos {needs[0]} (the wheels' tags follow their binaries either way)"
    )


def _summary(explanation: str) -> str:
    """The solver's explanation in one line: its first, unless that only announces the rest."""
    lines = [line.lstrip("│├└─ ") for line in explanation.splitlines()]
    lines = [line for line in lines if line]
    if not lines[0].endswith(":"):
        return lines[0]
    if len(lines) <= _SHORT_EXPLANATION:  # "... no viable options:" and the one reason why
        return " ".join(lines)
    return lines[0].removesuffix(":")


def _python_mismatch(
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
    """``3.10, 3.11``; a run up to the last minor version checked is ``3.8 or newer``."""
    newer = _PYTHON_MINORS[-1]
    if newer not in minors:
        return ", ".join(f"3.{m}" for m in minors)
    while newer - 1 in minors:
        newer -= 1
    return ", ".join([*(f"3.{m}" for m in minors if m < newer), f"3.{newer} or newer"])


def _timeout_error(where: str, timeout: float) -> ChannelError:
    return ChannelError(
        f"cannot read repodata from {where}: no complete answer within {timeout:g} s",
        hint="check your network connection and the channel URL; a slow channel needs a"
        f" larger --timeout (now {timeout:g} s)",
    )


def _channel_error(exc: Exception, where: str, timeout: float) -> ChannelError:
    if "operation timed out" in str(exc):  # rattler's client gave up at the deadline
        error = _timeout_error(where, timeout)
        error.detail = str(exc)
        return error
    first = str(exc).splitlines()[0]
    return ChannelError(
        f"cannot read repodata from {where}: {first}",
        hint="check the channel name, URL or folder (a local channel needs "
        "<subdir>/repodata.json and noarch/repodata.json) and your network connection",
        detail=str(exc),
    )


def _provided(request: SolveRequest) -> list[rattler.GenericVirtualPackage]:
    import rattler  # noqa: PLC0415

    def pkg(name: str, version: str, build: str = "0") -> rattler.GenericVirtualPackage:
        return rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString(build)
        )

    provided = [pkg("python", request.python, _PROVIDED_PYTHON_BUILD)]
    if request.subdir.startswith("linux-"):
        provided += [pkg("__glibc", request.glibc), pkg("__unix", "0"), pkg("__linux", "5.10")]
    elif request.subdir.startswith("osx-"):
        provided += [pkg("__osx", request.macos), pkg("__unix", "0")]
    else:
        provided += [pkg("__win", "0")]
    return provided


def _to_record(rec: rattler.RepoDataRecord) -> CondaRecord:
    noarch = (
        NoArch.PYTHON
        if rec.noarch.python
        else NoArch.GENERIC
        if rec.noarch.generic
        else NoArch.NONE
    )
    return CondaRecord(
        name=rec.name.normalized,
        version=str(rec.version),
        build=str(rec.build),
        build_number=rec.build_number,
        subdir=str(rec.subdir),
        depends=tuple(rec.depends),
        constrains=tuple(rec.constrains),
        noarch=noarch,
        license=str(rec.license) if rec.license else None,
        sha256=rec.sha256.hex() if rec.sha256 else None,
        md5=rec.md5.hex() if rec.md5 else None,
        size=rec.size,
        url=str(rec.url),
        channel=str(rec.channel or ""),
        file_name=str(rec.file_name),
        timestamp=int(rec.timestamp.timestamp() * 1000) if rec.timestamp else None,
    )

"""The py-rattler backend of :func:`condapress.solve.resolve`: repodata, solver, records.

py-rattler's types stop here: a channel as the user gave it becomes py-rattler's, and each solved
record becomes a :class:`~condapress.model.CondaRecord` at once. The target interpreter and
platform are given to the solver as *provided* packages.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from condapress._folders import default_cache_dir
from condapress.errors import SolveError, SpecError, printable
from condapress.model import CondaRecord, NoArch
from condapress.solve._messages import (
    channel_error,
    macos_hint,
    python_mismatch,
    summary,
    timeout_error,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    import rattler
    from rattler.platform import PlatformLiteral

    from condapress.model import SolveRequest

__all__ = ["RattlerSolver", "channel_url", "spec_name"]

#: Build string of the provided ``python``: conda-forge's python_abi packages constrain
#: ``python 3.X.* *_cpython``, so the build must end in ``_cpython``.
_PROVIDED_PYTHON_BUILD = "provided_cpython"
_URL_RE = re.compile(r"^(https?|file)://", re.IGNORECASE)


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


def spec_name(spec: str) -> str:
    """The normalized name of the package match spec *spec* asks for.

    >>> spec_name("PyYAML >=6")
    'pyyaml'

    :raises SpecError: ``invalid match spec '<spec>': <py-rattler's first line>``.
    """
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


class RattlerSolver:
    """The real backend: py-rattler's gateway (repodata, cache) and solver."""

    @property
    def version(self) -> str:
        """``py-rattler <version>``: a solve remembered from another version is not reused."""
        import rattler  # noqa: PLC0415

        return f"py-rattler {rattler.__version__}"

    def solve(self, request: SolveRequest) -> tuple[CondaRecord, ...]:
        """The records that satisfy *request*, read from its channels (cached in its cache dir).

        :raises SolveError: a package is on none of the channels, or the specs conflict.
        :raises ChannelError: a channel cannot be read within the request's timeout.
        """
        import asyncio  # noqa: PLC0415 - a remembered solve does without the event loop

        import rattler  # noqa: PLC0415

        from condapress.solve._aio import run_to_the_end  # noqa: PLC0415

        gateway = _gateway(request)
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
            raise timeout_error(", ".join(request.channels), request.timeout) from None
        return tuple(_to_record(rec) for rec in solved)

    def python_packages(self, request: SolveRequest) -> tuple[str, ...]:
        """The names on *request*'s channels of packages built for its python (or noarch python).

        :raises ChannelError: a channel cannot be read within the request's timeout.
        """
        import asyncio  # noqa: PLC0415

        import rattler  # noqa: PLC0415
        from rattler.exceptions import GatewayError  # noqa: PLC0415

        from condapress.solve._aio import run_to_the_end  # noqa: PLC0415

        gateway = _gateway(request)
        channels = [rattler.Channel(channel_url(ch)) for ch in request.channels]
        platforms: list[PlatformLiteral] = [request.subdir, "noarch"]  # type: ignore[list-item]
        where = ", ".join(request.channels)
        python = rattler.Version(request.python)

        async def listing() -> list[list[rattler.RepoDataRecord]]:
            names = await gateway.names(channels, platforms)
            wanted = [name.normalized for name in names]
            return await gateway.query(channels, platforms, wanted, recursive=False)

        try:
            found = run_to_the_end(asyncio.wait_for(listing(), timeout=request.timeout))
        except asyncio.TimeoutError:
            raise timeout_error(where, request.timeout) from None
        except GatewayError as exc:
            raise channel_error(exc, where, request.timeout) from exc
        return tuple(
            sorted(
                {
                    rec.name.normalized
                    for per_channel in found
                    for rec in per_channel
                    if rec.name.normalized != "python" and _for_python(rec, python)
                }
            )
        )

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
        names = [spec_name(s) for s in request.specs]
        try:
            found = await gateway.query(channels, platforms, names, recursive=False)
        except GatewayError as exc:
            raise channel_error(exc, where, request.timeout) from exc
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
            raise python_mismatch(request, found, text) or SolveError(
                f"cannot solve {' '.join(repr(s) for s in request.specs)} for python "
                f"{request.python} on {request.subdir}: {summary(text)}",
                hint=macos_hint(request, text)
                or "relax the spec or pick another --python; run with -v for the solver's "
                "full explanation",
                detail=text,
            ) from exc
        except GatewayError as exc:  # pragma: no cover - query above reads the same repodata
            raise channel_error(exc, where, request.timeout) from exc


def _gateway(request: SolveRequest) -> rattler.Gateway:
    import rattler  # noqa: PLC0415

    cache = request.cache_dir or default_cache_dir()
    # Each request gets the whole deadline and one retry (a dropped connection); the
    # deadline around the solve bounds them all together.
    client = rattler.Client.default_client(
        max_retries=1, timeout=max(1, math.ceil(request.timeout))
    )
    return rattler.Gateway(cache_dir=cache / "repodata", client=client)


def _for_python(rec: rattler.RepoDataRecord, python: rattler.Version) -> bool:
    """Whether *rec* is noarch python, or depends on a python that *python* is."""
    import rattler  # noqa: PLC0415

    if rec.noarch.python:
        return True
    for dep in rec.depends:
        spec = rattler.MatchSpec(dep)
        if spec_name(dep) == "python":
            return spec.version is None or rattler.VersionSpec(spec.version).matches(python)
    return False


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

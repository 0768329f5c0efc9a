"""The options every command that solves takes, and the request they make."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from condapress.errors import OutputError, printable
from condapress.model import DOWNLOAD_TIMEOUT, KNOWN_SUBDIRS, Runtime

if TYPE_CHECKING:
    from condapress.model import PlanOptions, SolveRequest


def host_subdir() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "64", "amd64": "64", "aarch64": "aarch64", "arm64": "aarch64"}.get(
        machine, machine
    )
    system = {"linux": "linux", "darwin": "osx", "windows": "win"}.get(
        platform.system().lower(), "linux"
    )
    if system == "osx" and arch == "aarch64":
        arch = "arm64"
    return f"{system}-{arch}"


def add_solve_options(parser: argparse.ArgumentParser, *, pythons: bool = False) -> None:
    """The options of every command that solves; with *pythons*, ``--python`` may repeat."""
    parser.add_argument(
        "specs",
        nargs="*",
        metavar="SPEC",
        help="conda match spec, e.g. 'pyarrow=0.14', 'numpy >=1.26', 'conda-forge::zstd', or "
        "the path of a local .conda/.tar.bz2 (a fresh feedstock build), whose dependencies are "
        "solved on the channels; may be left out when the configuration gives specs",
    )
    parser.add_argument(
        "-c",
        "--channel",
        dest="channels",
        action="append",
        metavar="CH",
        help="channel name (conda-forge), URL (https, http, file) or local folder; repeat for "
        "several, first has priority (default: conda-forge)",
    )
    host = _host_python()
    if pythons:
        parser.add_argument(
            "--python",
            action="append",
            metavar="X.Y",
            help="target CPython version, given to the solver as a provided package; repeat "
            f"for several, each pressed in turn (default: {host})",
        )
    else:
        parser.add_argument(
            "--python",
            default=host,
            metavar="X.Y",
            help="target CPython version, given to the solver as a provided package (default: "
            f"{host})",
        )
    parser.add_argument(
        "--subdir",
        default=host_subdir(),
        metavar="SUBDIR",
        help=f"conda subdir to solve for (default: {host_subdir()}); one of "
        + ", ".join(s for s in KNOWN_SUBDIRS if s != "noarch"),
    )
    parser.add_argument(
        "--glibc",
        default="2.17",
        metavar="X.Y",
        help="glibc the target systems have; builds that need a newer one are not chosen "
        "(default: 2.17, the manylinux2014 baseline)",
    )
    parser.add_argument(
        "--macos",
        default="11.0",
        metavar="X.Y",
        help="macOS the target systems have (osx-* subdirs); builds that need a newer one are "
        "not chosen (default: 11.0, the first macOS on Apple silicon)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="where repodata, downloaded packages and the solves of local channels are cached"
        " (default: the user cache folder)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DOWNLOAD_TIMEOUT,
        metavar="SECONDS",
        help="give up on a download that takes longer, all its tries included: the channels' "
        "repodata, or one archive; a connection silent for 60 s is tried again sooner "
        f"(default: {DOWNLOAD_TIMEOUT:g})",
    )
    parser.add_argument(
        "--fat",
        action="store_true",
        help="merge every native library of the closure into the root wheel (default: one "
        "wheel per native conda package)",
    )
    parser.add_argument(
        "--runtime",
        choices=get_args(Runtime),
        default="system",
        help="compiler runtime (libstdc++, libgcc_s, libgomp): 'system' relies on the target's "
        "copy and lets its symbol versions bound the tag; 'bundle' grafts conda's copy into the "
        "wheel (default: system)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="SONAME-GLOB",
        help="do not bundle the libraries of these names (e.g. 'libcuda.so.*'): another wheel or "
        "the target system provides them; the binaries keep needing them by name, and the "
        "platform tag does not vouch for them (repeatable; linux-* subdirs only)",
    )
    parser.add_argument(
        "--rename",
        action="append",
        default=[],
        type=_pair,
        metavar="CONDA=PYPI",
        help="write the python dependency CONDA as PYPI in Requires-Dist (repeatable)",
    )
    parser.add_argument(
        "--add-requires",
        action="append",
        default=[],
        metavar="REQUIREMENT",
        help="add a PEP 508 Requires-Dist line to the wheel of every requested package, e.g. "
        "'numpy>=1.26' (repeatable)",
    )
    parser.add_argument(
        "--strip",
        action="store_true",
        help="remove the debug sections of the binaries the wheels carry, with strip (binutils) "
        "from PATH; the press says how many bytes that saved (linux-* subdirs only)",
    )


def _pair(text: str) -> tuple[str, str]:
    conda, _, pypi = text.partition("=")
    return conda, pypi


def plan_options(args: argparse.Namespace) -> PlanOptions:
    """The plan options of the command line."""
    from condapress.model import PlanOptions  # noqa: PLC0415

    return PlanOptions(
        fat=args.fat,
        runtime=args.runtime,
        exclude=tuple(args.exclude),
        rename=tuple(args.rename),
        add_requires=tuple(args.add_requires),
        strip=args.strip,
    )


def add_max_file_size(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-file-size",
        type=mebibytes,
        metavar="MIB",
        help="the most MiB PyPI takes in one file of the project: pass the limit PyPI raised "
        "it to (default: PyPI's default, 100)",
    )


def mebibytes(text: str) -> int:
    return int(_above_zero(text, "MiB") * (1 << 20))


def seconds(text: str) -> float:
    return _above_zero(text, "seconds")


def _above_zero(text: str, unit: str) -> float:
    try:
        value = float(text)
    except ValueError:
        msg = f"not a number of {unit}: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0 < value < float("inf"):
        msg = f"must be more than 0 {unit}, not {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"must be 1 or more, not {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def pythons_of(args: argparse.Namespace) -> list[str]:
    """The pythons of a command that presses for each (``--python`` repeated).

    The request's python becomes the first.
    """
    pythons: list[str] = list(dict.fromkeys(args.python or [_host_python()]))
    args.python = pythons[0]
    return pythons


def _host_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def solve_request(args: argparse.Namespace) -> SolveRequest:
    from condapress.model import SolveRequest  # noqa: PLC0415

    return SolveRequest(
        specs=tuple(args.specs or ()),
        channels=tuple(args.channels or ("conda-forge",)),
        python=args.python,
        subdir=args.subdir,
        glibc=args.glibc,
        macos=args.macos,
        cache_dir=args.cache_dir,
        timeout=args.timeout,
    )


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # also when the folder is not one
            tmp.unlink()
        raise OutputError(
            f"cannot write {printable(str(path))}: {(exc.strerror or str(exc)).lower()}",
            hint="choose a folder you can write to",
            path=str(path),
        ) from exc

"""The ``condapress`` command: parses arguments, prints results, turns errors into exit codes.

This is the only module that prints or exits. Each subcommand is a ``_configure_*`` /
``_execute_*`` pair; heavy imports stay inside the ``_execute_*`` functions so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, get_args

from condapress import __version__
from condapress.errors import CondapressError, OutputError, printable
from condapress.model import DOWNLOAD_TIMEOUT, KNOWN_SUBDIRS, Runtime

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from condapress.solve import SolveRequest

__all__ = ["main"]

_DESCRIPTION = """\
Press conda packages into wheels that pip installs and PyPI accepts.

condapress resolves a conda spec's runtime closure on conda channels, decides which packages
become Requires-Dist lines and which native libraries go into the wheel, relocates the ELF files
to a wheel-relative layout, tags the wheel from its binaries and audits it.
"""

_EPILOG = """\
examples:
  condapress pygreet -c channels_fixture --python 3.11 --fat
  condapress pyarrow=0.14 --fat -o dist/
  condapress plan pyyaml -c conda-forge --python 3.11
  condapress plan pygreet -c channels_fixture --fat --json
  condapress plan pygreet -c channels_fixture --graph plan.dot
  condapress audit wheelhouse/*.whl

Run 'condapress COMMAND --help' for the options of a command.
"""


def _host_subdir() -> str:
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


def _add_solve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC",
        help="conda match spec, e.g. 'pyarrow=0.14', 'numpy >=1.26', 'conda-forge::zstd', or "
        "the path of a local .conda/.tar.bz2 (a fresh feedstock build), whose dependencies are "
        "solved on the channels",
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
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    parser.add_argument(
        "--python",
        default=host,
        metavar="X.Y",
        help=f"target CPython version, given to the solver as a provided package (default: {host})",
    )
    parser.add_argument(
        "--subdir",
        default=_host_subdir(),
        metavar="SUBDIR",
        help=f"conda subdir to solve for (default: {_host_subdir()}); one of "
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
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="where repodata and downloaded packages are cached (default: the user cache folder)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
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


def _configure_plan(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="resolve specs and show what each conda package becomes",
        description="Resolve SPEC on the channels and show, for every package of the closure, "
        "its class (root, python, native, system), why, and what it becomes: merged into a "
        "wheel, a wheel of its own, a Requires-Dist line, or dropped. Nothing is written "
        "except the --graph file.",
    )
    _add_solve_options(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the plan as versioned JSON (schema: condapress/data/plan-schema.json)",
    )
    parser.add_argument(
        "--graph", type=Path, metavar="FILE.dot", help="also write the plan graph as Graphviz DOT"
    )
    parser.set_defaults(execute=_execute_plan)


def _execute_plan(args: argparse.Namespace) -> int:
    from condapress import _folders  # noqa: PLC0415
    from condapress._core import make_plan  # noqa: PLC0415
    from condapress.model import PlanOptions  # noqa: PLC0415
    from condapress.plan._render import plan_document, plan_dot, plan_table  # noqa: PLC0415

    if args.graph is not None:  # before the solve: a graph that cannot be written is no plan
        _folders.check_output_file(args.graph)
    the_plan = make_plan(_solve_request(args), PlanOptions(fat=args.fat, runtime=args.runtime))
    if args.graph is not None:
        _write_atomically(args.graph, plan_dot(the_plan))
    if args.json:
        print(json.dumps(plan_document(the_plan), indent=2))
    else:
        print(plan_table(the_plan), end="")
    return 0


def _configure_press(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "press",
        help="press SPEC's closure into wheels (the default command)",
        description="Resolve SPEC on the channels, plan the wheels, then unpack, relocate, tag "
        "and write them. 'condapress SPEC...' is short for 'condapress press SPEC...'. Prints "
        "one line per wheel: path, tags, size and the conda packages inside. No wheel is "
        "written unless every wheel of the plan could be built.",
    )
    _add_solve_options(parser)
    parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=Path("wheelhouse"),
        metavar="DIR",
        help="where to write the wheels, made if needed and checked before any work "
        "(default: ./wheelhouse)",
    )
    parser.add_argument(
        "--compression-level",
        type=int,
        choices=range(10),
        default=6,
        metavar="0-9",
        help="deflate level of the wheel's zip members; 0 stores them (default: 6)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=_positive,
        default=os.cpu_count() or 1,
        metavar="N",
        help="threads for compression and ELF patching; the wheels are byte for byte the same "
        f"for any N (default: the machine's cores, {os.cpu_count() or 1})",
    )
    parser.add_argument(
        "--plat",
        metavar="TAG",
        help="tag the platform wheels TAG (e.g. manylinux_2_28_x86_64 or manylinux2014): "
        "fails, saying why, when the binaries cannot honour it (default: the most compatible "
        "tag they honour)",
    )
    parser.add_argument(
        "--no-audit",
        dest="audit",
        action="store_false",
        help="write the wheels even when their audit finds errors (see 'condapress audit')",
    )
    parser.add_argument(
        "--allow-overlap",
        action="store_true",
        help="when packages merged into one wheel ship different files at the same path, keep "
        "the file of the first package in the plan's order (with a warning) instead of failing",
    )
    parser.set_defaults(execute=_execute_press)


def _execute_press(args: argparse.Namespace) -> int:
    from condapress._core import PressOptions, press  # noqa: PLC0415
    from condapress.model import PlanOptions  # noqa: PLC0415

    result = press(
        _solve_request(args),
        PressOptions(
            plan=PlanOptions(fat=args.fat, runtime=args.runtime),
            output_dir=args.output_dir,
            compression_level=args.compression_level,
            audit=args.audit,
            plat=args.plat,
            jobs=args.jobs,
            allow_overlap=args.allow_overlap,
        ),
    )
    for wheel in result.wheels:
        tags = wheel.path.name.removesuffix(".whl").split("-", 2)[2]  # as the file name has them
        print(f"{wheel.path}  {tags}  {wheel.size / 1024:.0f} KiB  {' + '.join(wheel.members)}")
    return 0


def _configure_audit(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check any wheel for what pip, PyPI or a user would trip on",
        description="Report, for each WHEEL (any wheel, not only condapress's): the tags it "
        "claims and the most compatible manylinux policy its binaries satisfy; every DT_NEEDED "
        "and where it resolves; the highest GLIBC/GLIBCXX/CXXABI/GCC versions each library "
        "needs; RPATH problems; build-prefix strings left in files; exported std:: symbols (the "
        "C++ interposition hazard); RECORD and METADATA integrity; and, for a wheel condapress "
        "pressed, whether every path a build-prefix placeholder named is found at run time. "
        "Each finding has a level "
        "and a hint. The exit status is 1 when any finding is an error.",
    )
    parser.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL", help="a .whl file")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a versioned JSON document (schema: condapress/data/audit-schema.json)",
    )
    parser.set_defaults(execute=_execute_audit)


def _execute_audit(args: argparse.Namespace) -> int:
    from condapress import audit  # noqa: PLC0415

    reports = [audit.audit_wheel(path) for path in args.wheels]
    if args.json:
        print(json.dumps(audit.audit_document(reports), indent=2))
    else:
        print("\n\n".join(audit.audit_text(report) for report in reports))
    return 0 if all(report.ok for report in reports) else 1


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        msg = f"not a number of seconds: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0 < value < float("inf"):
        msg = f"must be more than 0 seconds, not {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"must be 1 or more, not {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _solve_request(args: argparse.Namespace) -> SolveRequest:
    from condapress.solve import SolveRequest  # noqa: PLC0415

    return SolveRequest(
        specs=tuple(args.specs),
        channels=tuple(args.channels or ("conda-forge",)),
        python=args.python,
        subdir=args.subdir,
        glibc=args.glibc,
        cache_dir=args.cache_dir,
        timeout=args.timeout,
    )


def _write_atomically(path: Path, text: str) -> None:
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


def _build_parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "condapress",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_verbosity(parser, "")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    configure: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
        _configure_press,
        _configure_plan,
        _configure_audit,
    )
    for configure_one in configure:
        configure_one(subparsers)
    for subparser in subparsers.choices.values():
        # also after the command: counted apart, since a subcommand's value would replace
        # the main parser's
        _add_verbosity(subparser, "_after")
    return parser


def _add_verbosity(parser: argparse.ArgumentParser, suffix: str) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        dest=f"verbose{suffix}",
        action="count",
        default=0,
        help="say more: the details behind an error, progress (-vv for debug output)",
    )
    parser.add_argument(
        "-q", "--quiet", dest=f"quiet{suffix}", action="count", default=0, help="say less"
    )


_COMMANDS = ("press", "plan", "audit")
_GLOBAL_FLAGS = ("-h", "--help", "--version", "-v", "--verbose", "-q", "--quiet", "-vv", "-qq")


def _default_to_press(argv: list[str]) -> list[str]:
    """``condapress SPEC...`` means ``condapress press SPEC...``."""
    for index, arg in enumerate(argv):
        if arg in _GLOBAL_FLAGS:
            continue
        if arg not in _COMMANDS:
            return [*argv[:index], "press", *argv[index:]]
        break
    return argv


#: The exit status when the output's reader has gone: that of a command killed by SIGPIPE.
_PIPE_CLOSED = 128 + signal.SIGPIPE


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` cleans up on the way out."""


def _terminate(_signum: int, _frame: object) -> None:
    raise _Terminated


def console() -> NoReturn:
    """The ``condapress`` console script (and ``python -m condapress``)."""
    try:
        status = main()
        sys.stdout.flush()  # the last of the output may meet the closed pipe only now
    except BrokenPipeError:
        status = _closed_pipe()
    sys.stderr.flush()
    if status in (130, 143):
        # After an interrupt, py-rattler's runtime may still be winding down the cancelled
        # work, and a thread of it that wants the GIL during interpreter teardown aborts the
        # process: leave without teardown, once the output is out.
        logging.shutdown()
        os._exit(status)
    sys.exit(status)


def _closed_pipe() -> int:
    """Stop quietly when whoever read the output has gone (``condapress audit ... | head``)."""
    # Whatever is still buffered goes nowhere, rather than into a second BrokenPipeError at exit.
    with contextlib.suppress(OSError, ValueError):  # ValueError: stdout has no file descriptor
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return _PIPE_CLOSED


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line *argv* (default: ``sys.argv[1:]``) and return the exit status."""
    parser = _build_parser(prog)
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_default_to_press(arguments))
    verbose = args.verbose + getattr(args, "verbose_after", 0)
    level = logging.WARNING - 10 * verbose + 10 * (args.quiet + getattr(args, "quiet_after", 0))
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s: %(message)s")
    execute: Callable[[argparse.Namespace], int] | None = getattr(args, "execute", None)
    if execute is None:
        parser.print_help()
        return 2
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return execute(args)
    except CondapressError as exc:
        print(f"error: {printable(exc.message)}", file=sys.stderr)
        if exc.detail and verbose:
            print(exc.detail.rstrip(), file=sys.stderr)
        print(f"hint: {printable(exc.hint)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    except _Terminated:
        print("error: terminated; nothing was written", file=sys.stderr)
        return 143
    except BrokenPipeError:  # the reader of the output has gone: nothing more to say
        return _PIPE_CLOSED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

"""The ``condapress`` command: parses arguments, prints results, turns errors into exit codes.

This package is the only place that prints or exits. Each subcommand is a module with a
``configure_parser`` / ``execute`` pair (:mod:`condapress._cli._press`, ``_plan``, ``_audit``,
``_check``, ...);
heavy imports stay inside ``execute`` so that ``--help`` is fast. :func:`main` holds the one
error handler.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import sys
import threading
from typing import TYPE_CHECKING, NoReturn

from condapress._cli import _audit, _check, _config, _index, _plan, _press, _upload
from condapress.errors import CondapressError, printable

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


__all__ = ["main"]

_DESCRIPTION = """\
Press conda packages into wheels that pip installs and PyPI accepts.

condapress resolves a conda spec's runtime closure on conda channels, decides which packages
become Requires-Dist lines and which native libraries go into the wheel, relocates the binaries
(ELF, Mach-O, PE) to a wheel-relative layout, tags the wheel from its binaries, audits it and
checks it against PyPI's rules.

press, plan and index read their options' defaults from [tool.condapress] in ./pyproject.toml,
or ./condapress.toml, or --config FILE (keys: the long options without dashes); the command line
wins. -v and -q go before or after the command.
"""

_EPILOG = """\
examples:
  condapress pygreet -c channels_fixture --python 3.11 --fat
  condapress pyarrow=0.14 --fat -o dist/
  condapress pygreet salutation-python -c channels_fixture --smoke "import pygreet"
  condapress plan pyyaml -c conda-forge --python 3.11
  condapress plan pygreet -c channels_fixture --fat --json
  condapress plan pygreet -c channels_fixture --graph plan.dot
  condapress audit wheelhouse/*.whl
  condapress check wheelhouse/*.whl
  TWINE_PASSWORD=pypi-... condapress upload wheelhouse/*.whl
  condapress index pygreet pyshout -c channels_fixture --python 3.11 --python 3.12 -o index/
  condapress index --all -c channels_fixture --python 3.12 -o index/
  condapress pygreet -c channels_fixture --python 3.11 --python 3.12 --json

Run 'condapress COMMAND --help' for the options of a command.
"""


class _Version(argparse.Action):
    """``--version``, which looks the version up only when asked (importlib.metadata is slow)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str) -> None:  # noqa: A002
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        import condapress  # noqa: PLC0415 - the package, for its version

        print(f"{parser.prog} {condapress.__version__}")
        parser.exit()


def _build_parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "condapress",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    _add_verbosity(parser, "")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in (_press, _plan, _audit, _check, _upload, _index):
        command.configure_parser(subparsers)
    for name, subparser in subparsers.choices.items():
        # also after the command: counted apart, since a subcommand's value would replace
        # the main parser's
        _add_verbosity(subparser, "_after")
        if name in _config.COMMANDS:
            _config.add_config_option(subparser, name)
            _config.register(subparser, name)
            _config.suppress_defaults(subparser)
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


_COMMANDS = ("press", "plan", "audit", "check", "upload", "index")
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


#: The clause of a hint that asks for -v (and the "or"/"," before it).
_VERBOSE_CLAUSE = re.compile(r"(?:[,;] ?)?(?:or )?run (?:again )?with -v for [^;]*")


def _hint(hint: str, *, verbose: bool) -> str:
    """*hint*, without its "run with -v for ..." clause when -v was given already.

    >>> _hint("no wheel was written; run with -v for the output", verbose=True)
    'no wheel was written'
    >>> _hint("run again with -v for details", verbose=True)
    'the lines above say more'
    """
    if not verbose:
        return hint
    return _VERBOSE_CLAUSE.sub("", hint).strip(" ;,") or "the lines above say more"


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
        if hasattr(args, "config_command"):
            _config.apply_config(args)
            if not args.specs and not getattr(args, "all", False):
                args.config_parser.error(
                    "the following arguments are required: SPEC (or specs in the configuration)"
                )
        return execute(args)
    except CondapressError as exc:
        print(f"error: {printable(exc.message)}", file=sys.stderr)
        if exc.detail and verbose:
            print(exc.detail.rstrip(), file=sys.stderr)
        print(f"hint: {printable(_hint(exc.hint, verbose=verbose > 0))}", file=sys.stderr)
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

"""The configuration file: ``[tool.condapress]`` of pyproject.toml, or condapress.toml.

Every option of the commands that solve (``press``, ``plan``, ``index``) has a key: its long
name without the dashes (``--output-dir`` is ``output-dir``, ``-c/--channel`` is ``channels``,
``--no-audit`` is ``audit = false``). Keys at the top level apply to every command that has the
option; a ``press``, ``plan`` or ``index`` table holds keys for that command alone. The command
line wins: an option given there replaces the key's value (a list too). Which file is read:
``--config FILE``, else ``./condapress.toml``, else ``./pyproject.toml`` when it has a
``[tool.condapress]`` table. Every problem of the file is named in one error.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from condapress.errors import ConfigError, listing, printable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["add_config_option", "apply_config", "register", "suppress_defaults"]

#: The commands whose options the configuration sets: a table of each may hold its own keys.
COMMANDS = ("press", "plan", "index")
#: Destinations that are no option of the configuration.
_NOT_KEYS = frozenset(("help", "config", "verbose_after", "quiet_after", "version"))
#: Where the defaults wait while the command line is parsed (see :func:`suppress_defaults`).
_DEFAULTS = "config_defaults"


def add_config_option(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="read the options' defaults from FILE: a condapress.toml, or a pyproject.toml's "
        "[tool.condapress] table (default: ./condapress.toml, else ./pyproject.toml if it has "
        "that table); options given here win",
    )
    parser.set_defaults(config_command=command, config_parser=parser)


def suppress_defaults(parser: argparse.ArgumentParser) -> None:
    """Keep *parser*'s defaults aside, so that the parsed arguments are those given alone."""
    defaults = {}
    for action in parser._actions:  # noqa: SLF001 - argparse has no public list of them
        if action.dest not in _NOT_KEYS and action.default is not argparse.SUPPRESS:
            defaults[action.dest] = action.default
            action.default = argparse.SUPPRESS
    parser.set_defaults(**{_DEFAULTS: (defaults, _keys(parser))})


def apply_config(args: argparse.Namespace) -> None:
    """Fill in every option *args* lacks: from the configuration file, else its default.

    :raises ConfigError: the file cannot be read, is no TOML, or has keys or values that are
        wrong (all named).
    """
    defaults, keys = getattr(args, _DEFAULTS)
    found = _find(args.config)
    values = {} if found is None else _values(*found, args.config_command, keys)
    for dest, default in defaults.items():
        if not hasattr(args, dest):
            setattr(args, dest, values.get(dest, default))
    if found is not None and isinstance(args.python, tuple):
        pythons = ", ".join(args.python)
        raise ConfigError(
            f"condapress {args.config_command} takes one python, and "
            f"{printable(str(found[0]))} gives several ({pythons})",
            hint=f"pass --python X.Y, or set python in the {found[2]}{args.config_command} table",
            path=str(found[0]),
        )


def _keys(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        a.dest.replace("_", "-"): a
        for a in parser._actions  # noqa: SLF001
        if a.dest not in _NOT_KEYS and a.dest != _DEFAULTS
    }


def _find(given: Path | None) -> tuple[Path, dict[str, Any], str] | None:
    """The file to read, its table, and how its keys are named; None when there is none."""
    if given is not None:
        table = _read(given)
        if given.name == "pyproject.toml" or "tool" in table:
            return given, _tool_table(table), "tool.condapress."
        return given, table, ""
    if Path("condapress.toml").is_file():
        return Path("condapress.toml"), _read(Path("condapress.toml")), ""
    if Path("pyproject.toml").is_file():
        table = _read(Path("pyproject.toml"))
        if "condapress" in table.get("tool", {}):
            return Path("pyproject.toml"), _tool_table(table), "tool.condapress."
    return None


def _tool_table(table: Mapping[str, Any]) -> dict[str, Any]:
    tool = table.get("tool", {})
    found = tool.get("condapress", {}) if isinstance(tool, dict) else {}
    return found if isinstance(found, dict) else {}


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(
            f"cannot read the configuration {printable(str(path))}: "
            f"{(exc.strerror or str(exc)).lower()}",
            hint="give the path of a condapress.toml or pyproject.toml with --config",
            path=str(path),
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"the configuration {printable(str(path))} is not valid TOML: {exc}",
            hint="fix the file's syntax (https://toml.io)",
            path=str(path),
        ) from exc


def _values(
    path: Path,
    table: Mapping[str, Any],
    prefix: str,
    command: str,
    keys: Mapping[str, argparse.Action],
) -> dict[str, Any]:
    """The destinations *table* sets for *command*: its own table's keys over the shared ones.

    Every key is checked, also those of the other commands' tables.
    """
    problems: list[str] = []
    known = {key: action for name in reversed(COMMANDS) for key, action in _ACTIONS[name].items()}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in COMMANDS:
            continue
        if key not in known:
            problems.append(_unknown(prefix + key, key, known))
            continue
        action = keys.get(key, known[key])  # as this command reads it, when it has it
        _convert(action, prefix + key, value, values, problems)
    values = {dest: value for dest, value in values.items() if dest in _dests(keys)}
    for name in COMMANDS:
        own = table.get(name, {})
        if not isinstance(own, dict):
            problems.append(f"{prefix}{name} must be a table, not {_shown(own)}")
            continue
        theirs: dict[str, Any] = {}
        for key, value in own.items():
            where = f"{prefix}{name}.{key}"
            if key not in _ACTIONS[name]:
                problems.append(_unknown(where, key, _ACTIONS[name]))
            else:
                _convert(_ACTIONS[name][key], where, value, theirs, problems)
        if name == command:
            values |= theirs
    if problems:
        raise ConfigError(
            f"invalid configuration in {printable(str(path))}: {listing(problems, '; ')}",
            hint=f"each key is a long option of 'condapress {command} --help' without its "
            "dashes; docs/cli.md lists them under Configuration",
            path=str(path),
        )
    return values


def _dests(keys: Mapping[str, argparse.Action]) -> set[str]:
    return {action.dest for action in keys.values()}


#: The options of each command by key, filled in by the parser (:func:`register`).
_ACTIONS: dict[str, dict[str, argparse.Action]] = {}


def register(parser: argparse.ArgumentParser, command: str) -> None:
    """Record *command*'s keys: a shared key must be an option of one of the commands."""
    _ACTIONS[command] = _keys(parser)


def _unknown(where: str, key: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f"{where} is not a key" + (f" (did you mean {close[0]}?)" if close else "")


def _shown(value: object) -> str:
    return json.dumps(value, default=str)


def _convert(
    action: argparse.Action,
    where: str,
    value: object,
    values: dict[str, Any],
    problems: list[str],
) -> None:
    """Put the value of *where* into *values* as the option *action* would; else a problem."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):  # noqa: SLF001
        if not isinstance(value, bool):
            problems.append(f"{where} must be true or false, not {_shown(value)}")
            return
        values[action.dest] = value
    elif action.nargs == "?":  # --smoke [CODE]: true, false or the code
        if not isinstance(value, (bool, str)):
            problems.append(f"{where} must be true, false or python code, not {_shown(value)}")
            return
        values[action.dest] = action.const if value is True else (value or None)
    elif isinstance(action, argparse._AppendAction) or action.nargs in ("+", "*"):  # noqa: SLF001
        if (converted := _many(action, where, value, problems)) is not None:
            values[action.dest] = converted
    elif action.dest == "python" and isinstance(value, list):
        # a list serves press and index; plan takes one, and refuses several when it uses them
        if not all(isinstance(v, str) for v in value):
            problems.append(f"{where} must be a string or a list of strings, not {_shown(value)}")
            return
        values[action.dest] = value[0] if len(value) == 1 else tuple(value)
    elif (one := _one(action, where, value, problems)) is not _BAD:
        values[action.dest] = one


def _many(
    action: argparse.Action, where: str, value: object, problems: list[str]
) -> list[object] | None:
    """The values of a repeatable option, each converted; None after a problem."""
    if action.dest == "rename" and isinstance(value, dict):  # {conda = "pypi"}
        value = [f"{conda}={pypi}" for conda, pypi in value.items()]
    if isinstance(value, str) and action.dest == "python":
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where} must be a list of strings, not {_shown(value)}")
        return None
    converted = [_one(action, where, v, problems) for v in value]
    return None if _BAD in converted else converted


#: A value that could not be converted (its problem is recorded).
_BAD = object()
#: The option types whose values are numbers in the file.
_NUMBERS = frozenset(("int", "positive", "seconds", "mebibytes"))


def _one(action: argparse.Action, where: str, value: object, problems: list[str]) -> object:
    convert = action.type
    name = getattr(convert, "__name__", "")
    numeric = name in _NUMBERS
    if numeric:
        integer = name in ("int", "positive")
        if isinstance(value, bool) or not isinstance(value, (int, float) if not integer else int):
            expected = "an integer" if integer else "a number"
            problems.append(f"{where} must be {expected}, not {_shown(value)}")
            return _BAD
    elif not isinstance(value, str):
        problems.append(f"{where} must be a string, not {_shown(value)}")
        return _BAD
    try:
        result = convert(str(value)) if callable(convert) else value
    except (argparse.ArgumentTypeError, ValueError) as exc:
        problems.append(f"{where}: {exc}")
        return _BAD
    if action.choices is not None and result not in action.choices:
        choices = ", ".join(str(c) for c in action.choices)
        if isinstance(action.choices, range):
            choices = f"{action.choices.start} to {action.choices.stop - 1}"
        problems.append(f"{where} must be one of {choices}, not {_shown(value)}")
        return _BAD
    return result

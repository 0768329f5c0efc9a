"""The audit's data-path findings: whether each placeholder site of a wheel finds its data.

A pressed wheel records in ``<dist-info>/conda-data-paths.json`` every file that held the build
prefix, the paths under the prefix it named, and the environment variables its launchers and
import hook set. Each path is judged with that record, the wheel's own files and condapress's
table of relocatable packages; the verdicts are grouped into findings (docs/wheels.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from condapress import _datapaths
from condapress.audit._integrity import finding
from condapress.errors import listing
from condapress.model import FileMode

if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Set as AbstractSet

    from condapress._datapaths import KnownPackage
    from condapress.model import DataPaths, EnvSetting, Finding

__all__ = ["Verdict", "data_path_findings", "judge"]

_RELATIVE = (
    "the placeholder became the prefix folder relative to the file, which the package resolves "
    "against the file's own folder"
)


class Verdict(enum.Enum):
    """What becomes of one path a placeholder site names; the value is the finding code."""

    #: a variable points the package there, or the table knows it is found without one.
    COVERED = "data-path-covered"
    #: the conda package does not ship it either.
    UNSHIPPED = "data-path-unshipped"
    #: the table knows that nothing can point the package there.
    DEGRADED = "data-path-degraded"
    #: the prefix itself: whether the package builds paths from it at run time is unknown.
    PREFIX = "data-path-prefix"
    #: the wheel has the data, but nothing points the package to it.
    UNREACHABLE = "data-path-unreachable"
    #: the wheel does not have it, and nothing is known about it.
    ABSENT = "data-path-absent"


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict on one path, with what explains it."""

    #: what the path's data-path finding is, or that it is covered.
    verdict: Verdict
    #: the variable, the table's path or the site's own path that the verdict rests on.
    key: str
    #: the variable's target, or the table's reason ("" when there is none).
    detail: str = ""
    #: whether *key* is an environment variable.
    variable: bool = False


def judge(
    path: str,
    record: DataPaths,
    carried: AbstractSet[str],
    known: KnownPackage | None,
    mode: FileMode = FileMode.BINARY,
) -> Judgement:
    """The verdict on *path* under the conda prefix, named by a file of a package.

    :param carried: every file and folder of the wheel.
    :param known: what condapress's table says about that package, if anything.
    :param mode: how the file held the placeholder.
    """
    # conda has one prefix: a variable covers the path wherever its wheel put the data
    covering = sorted(
        (s for s in record.environment if _datapaths.under(path, s.covers)),
        key=lambda s: -len(s.covers),
    )
    if covering:
        setting = covering[0]
        if setting.path is None:
            return Judgement(Verdict.UNSHIPPED, setting.name, variable=True)
        return Judgement(Verdict.COVERED, setting.name, setting.path, variable=True)
    if known is not None and known.relative and mode is FileMode.BINARY:
        return Judgement(Verdict.COVERED, "", _RELATIVE)
    if known is not None:
        notes = [(Verdict.COVERED, *note) for note in known.found]
        notes += [(Verdict.DEGRADED, *note) for note in known.unreachable]
        for verdict, folder, reason in sorted(notes, key=lambda note: -len(note[1])):
            if _datapaths.under_pattern(path, folder):
                return Judgement(verdict, folder, reason)
    if path == ".":
        return Judgement(Verdict.PREFIX, path)
    if _datapaths.wheel_path(record.prefix, path) in carried:
        return Judgement(Verdict.UNREACHABLE, path)
    return Judgement(Verdict.ABSENT, path)


def data_path_findings(text: str | None, names: Iterable[str]) -> list[Finding]:
    """The findings about the data paths recorded in *text*, the wheel's record file.

    :param names: the wheel's members. A wheel without a record gets no finding.
    """
    record = None if text is None else _datapaths.read_record(text)
    if record is None:
        return []
    files = set(names)
    carried = files | {f.rsplit("/", i)[0] for f in files for i in range(1, f.count("/") + 1)}
    # one finding per verdict and reason: (files, paths) as ordered sets
    groups: dict[tuple[str, str, Judgement], tuple[dict[str, None], dict[str, None]]] = {}
    for site in record.sites:
        if site.file not in files:
            continue
        for path in site.paths:
            judged = judge(path, record, carried, _datapaths.known(site.package), site.mode)
            sites, paths = groups.setdefault((judged.verdict.value, site.package, judged), ({}, {}))
            sites[site.file] = paths[path] = None
    findings = [
        _finding(judged, package, list(sites), sorted(paths), record.prefix)
        for (_, package, judged), (sites, paths) in sorted(
            groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2].key)
        )
    ]
    findings = [*_missing_variables(record.environment, record.prefix, carried), *findings]
    return sorted(findings, key=lambda f: f.level.rank)


def _finding(
    judged: Judgement, package: str, sites: list[str], paths: list[str], prefix: str
) -> Finding:
    verb = "names" if len(sites) == 1 else "name"
    names = f"{listing(sites)} {verb} {listing(paths)} under the conda prefix"
    key, detail, verdict = judged.key, judged.detail, judged.verdict
    if verdict is Verdict.COVERED and judged.variable:
        message = f"{names}: found through {key} ({detail})"
    elif verdict is Verdict.COVERED:
        message = f"{names}: {detail}"
    elif verdict is Verdict.UNSHIPPED:
        message = f"{names}, which {package} does not ship either ({key} is left unset)"
    elif verdict is Verdict.DEGRADED:
        message = f"{names}, which no environment variable can point to: {detail}"
    elif verdict is Verdict.PREFIX:
        message = f"{listing(sites)} {verb} the conda prefix itself"
    elif verdict is Verdict.UNREACHABLE:
        where = _datapaths.wheel_path(prefix, key)
        message = f"{names}; the wheel has {where}, but no environment variable points there"
    else:
        message = f"{names}, which the wheel does not have"
    return finding(verdict.value, message, sites[0], package=package, datapath=key)


def _missing_variables(
    environment: Iterable[EnvSetting], prefix: str, carried: AbstractSet[str]
) -> list[Finding]:
    return [
        finding(
            "data-variable-missing",
            f"{s.name} points {s.package} at {s.path}, which the wheel does not have",
            s.path,
            name=s.name,
        )
        for s in environment
        if s.path is not None and s.prefix == prefix and s.path not in carried
    ]

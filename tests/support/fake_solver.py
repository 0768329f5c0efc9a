"""A solver backend for :func:`condapress.solve.resolve` that answers from a list of records.

It implements the ``_Solver`` protocol of :mod:`condapress.solve`: each spec's package, then each
dependency's, by name (the first record of a name wins; versions and builds are not compared).
It keeps every request it was given, so a test can check what ``resolve`` asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from condapress.errors import SolveError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from condapress.model import CondaRecord, SolveRequest

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
#: what the target provides: the interpreter and the virtual packages.
_PROVIDED = ("python",)


@dataclass
class FakeSolver:
    """Solves by name over *records*; raises *error* instead when one is given."""

    records: Sequence[CondaRecord] = ()
    error: Exception | None = None
    requests: list[SolveRequest] = field(default_factory=list)

    def solve(self, request: SolveRequest) -> tuple[CondaRecord, ...]:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        by_name: dict[str, CondaRecord] = {}
        for rec in self.records:
            by_name.setdefault(rec.name, rec)
        solved: dict[str, CondaRecord] = {}
        wanted = [_name(spec) for spec in request.specs]
        while wanted:
            name = wanted.pop(0)
            if name in solved or name in _PROVIDED or name.startswith("__"):
                continue
            if name not in by_name:
                raise SolveError(f"package '{name}' is not on the fake channel", package=name)
            solved[name] = by_name[name]
            wanted += [_name(dep) for dep in by_name[name].depends]
        return tuple(solved.values())


def _name(spec: str) -> str:
    match = _NAME.match(spec.strip())
    assert match is not None, spec
    return match[0].lower()

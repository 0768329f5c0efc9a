"""Translate conda versions and version constraints into PEP 440 with conda's meaning.

py-rattler parses each constraint first (what conda rejects, condapress rejects) and spells each
single clause canonically (``=1.2`` -> ``1.2.*``, ``1.2`` -> ``==1.2``, ``>1.2.*`` -> ``>=1.2``).
Meaning is compared as sets of versions, pre-releases included: pip's preference for final
releases is installer policy (PEP 440, "Handling of pre-releases"), which conda does not have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import rattler
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from rattler.exceptions import InvalidVersionError, InvalidVersionSpecError

from condapress.errors import SpecError

__all__ = ["Translation", "pep440_version", "translate_version_spec"]

# The conda versions that PEP 440 reads as conda does, once conda's own folding is applied (case,
# and '_' or '-' read as '.'): a release, then optionally a pre-release tag glued to the last
# number, a '.postN' component and a dev tag.
_PORTABLE = re.compile(r"(?:\d+!)?\d+(?:\.\d+)*(?:(?:a|b|rc)\d*)?(?:\.post\d*)?(?:\.?dev\d*)?")
_OPERATORS = ("==", "!=", ">=", "<=", "~=", ">", "<")  # two-character operators first
_TOKEN = re.compile(r"[(),|]|[^(),|]+")

_CONSTRAINT_HINT = "write it the way conda does, for example '>=1.2,<2.0a0', '1.2.*' or '1.2|1.4'"
_DECLARER_HINT = "press another build of the package that declares this dependency"
_PORTABLE_FORMS = (
    "conda and PEP 440 order versions alike only when they are numbers joined by dots,"
    " optionally followed by aN, bN, rcN, .postN or devN"
)


@dataclass(frozen=True, slots=True)
class Translation:
    """A conda version constraint rewritten as a PEP 440 specifier, with the reasons for changes."""

    specifier: str
    """PEP 440 specifier set as :class:`~packaging.specifiers.SpecifierSet` prints it; ``""`` is
    any version."""
    notes: tuple[str, ...]
    """Why the specifier differs from a literal reading of the conda text, in source order."""
    widened: bool
    """True when the specifier may admit versions or builds that the conda constraint refuses
    (setting aside the ordering differences listed under :func:`pep440_version`)."""


def pep440_version(conda_version: str) -> str:
    """Return the PEP 440 spelling of a conda package version.

    Accepted are the versions conda and PEP 440 order alike: dot-separated numbers with an
    optional epoch, an ``aN``/``bN``/``rcN`` tag glued to the last number, ``.postN`` and a
    ``devN`` tag. Conda folds case and reads ``_`` and ``-`` as ``.``, so ``1.0_1`` is ``1.0.1``;
    the result is in PEP 440's normal form (``1.0dev`` gives ``1.0.dev0``). Anything else raises
    :class:`SpecError` instead of becoming a version that sorts elsewhere: conda sorts ``1.1.1w``
    *below* ``1.1.1`` and ``1.0+cuda`` below ``1.0`` (PEP 440 has no such letters, and sorts
    local labels above), ``1.0post1`` above ``1.0.1``, and ``alpha`` or ``c`` apart from ``a``
    and ``rc``.

    Two differences remain. Conda pads with zeros only between dots, so it sorts ``1.0a0``
    before ``1.0.0a0`` where PEP 440 finds them equal (tagged versions whose releases differ by
    trailing zeros). And conda reads a separate ``.devN``/``.postN`` as a new ``0`` component:
    ``2.0.dev0`` sorts above ``2.0a0`` and ``1.post1`` above ``1.0.1`` (PEP 440: below).

    >>> pep440_version("1.0.0a0"), pep440_version("1.0_1"), pep440_version("1!2.0dev")
    ('1.0.0a0', '1.0.1', '1!2.0.dev0')
    """
    return str(_to_pep440(conda_version, None))


def translate_version_spec(version: str | None, build: str | None = None) -> Translation:
    """Translate the version and build parts of a conda match spec into a PEP 440 specifier.

    :param version: the version constraint as conda or py-rattler's ``MatchSpec`` spells it,
        for example ``">=1.2,<2.0a0"``, ``"1.2.*"`` or ``"1.2|1.4"``; ``None`` means any.
    :param build: the build-string constraint (``"py310*"``); PEP 440 cannot express it, so it
        is dropped with a note and the result is marked widened.
    :raises SpecError: when conda rejects the constraint, or a version in it has no PEP 440 form.

    A bare ``1.2`` is the exact ``==1.2`` (conda and PEP 440 both equate it with ``1.2.0``);
    ``1.2.*`` and ``=1.2`` admit ``1.2`` and everything starting ``1.2.``. Conda's ``<2`` admits
    pre-releases of 2 and ``>1.2`` admits post-releases of 1.2, which PEP 440's ``<``/``>``
    refuse, so they become ``!=2,<=2`` and ``!=1.2,>=1.2``; ``<2.0a0`` stays as it is. PEP 440
    has no ``|``: the branches are replaced by the tightest range that contains them all.

    >>> translate_version_spec(">=1.2,<2.0a0").specifier
    '<2.0a0,>=1.2'
    >>> translate_version_spec("1.2|1.4").notes
    ("widened '1.2|1.4' to '<=1.4,>=1.2' (PEP 440 has no 'or'; the pins became a range)",)
    """
    part = _Part()
    if version is not None:
        try:
            rattler.VersionSpec(version)
        except InvalidVersionSpecError as exc:
            raise SpecError(
                f"invalid conda version constraint {version!r}",
                hint=_CONSTRAINT_HINT,
                detail=str(exc),
            ) from exc
        part = _Parser(version).parse()
    notes, widened = part.notes, part.widened
    if build is not None and build != "*":
        notes += (f"dropped build-string constraint {build!r} (PEP 440 has no build strings)",)
        widened = True
    return Translation(_canonical(part.clauses), tuple(dict.fromkeys(notes)), widened)


def _to_pep440(conda_version: str, constraint: str | None) -> Version:
    where = "" if constraint is None else f" in constraint {constraint!r}"
    try:
        rattler.Version(conda_version)
    except InvalidVersionError as exc:
        raise SpecError(
            f"invalid conda version {conda_version!r}{where}",
            hint="conda versions are numbers and letters joined by dots, for example '1.2.3'",
            detail=str(exc),
        ) from exc
    folded = conda_version.lower().replace("_", ".").replace("-", ".")
    if not _PORTABLE.fullmatch(folded):
        action = _DECLARER_HINT if constraint else "press a version of the package in that form"
        raise SpecError(
            f"cannot translate conda version {conda_version!r}{where} to PEP 440",
            hint=f"{_PORTABLE_FORMS}; {action}",
        )
    return Version(folded)


def _canonical(clauses: tuple[str, ...]) -> str:
    return str(SpecifierSet(",".join(clauses)))


@dataclass(frozen=True, slots=True)
class _Bound:
    """One end of a range: PEP 440 ``clauses`` that admit exactly the versions beyond ``key``."""

    key: Version
    inclusive: bool
    clauses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Part:
    """A translated (sub)constraint, with the range that contains it for widening ``|``."""

    clauses: tuple[str, ...] = ()
    lower: _Bound | None = None
    upper: _Bound | None = None
    excluded: frozenset[str] = field(default_factory=frozenset)
    widened: bool = False
    notes: tuple[str, ...] = ()


def _lower_order(bound: _Bound) -> tuple[Version, bool]:
    return bound.key, not bound.inclusive


def _upper_order(bound: _Bound) -> tuple[Version, bool]:
    return bound.key, bound.inclusive


def _below(release: Version) -> _Bound:
    # PEP 440 "Exclusive ordered comparison": '<2' also refuses 2's pre- and dev-releases, so it
    # is exactly "below 2.dev0", the smallest version of release 2.
    return _Bound(Version(f"{release}.dev0"), inclusive=False, clauses=(f"<{release}",))


def _bump(version: Version, length: int) -> Version:
    """Return the release after ``version``'s first ``length`` numbers (1.2.3, 2 -> 1.3)."""
    numbers = [*version.release[: length - 1], version.release[length - 1] + 1]
    epoch = f"{version.epoch}!" if version.epoch else ""
    return Version(epoch + ".".join(map(str, numbers)))


def _atom(source: str, context: str) -> _Part:
    canonical = str(rattler.VersionSpec(source))
    if canonical == "*":
        return _Part()
    op = next((op for op in _OPERATORS if canonical.startswith(op)), "")
    text = canonical.removeprefix(op)
    version = _to_pep440(text.removesuffix(".*"), context)
    pep = str(version)
    if text.endswith(".*"):
        return _prefix(op, version, context)
    if op in {">", "<"}:
        return _exclusive(op, version, source)
    at_least = _Bound(version, inclusive=True, clauses=(f">={pep}",))
    if op == "~=" and len(version.release) == 1:
        # py-rattler reads '~=1' as '>=1'; PEP 440 rejects '~=' with a single number.
        note = f"wrote {source!r} as '>={pep}' (PEP 440 needs two numbers after '~=')"
        return _Part(at_least.clauses, lower=at_least, notes=(note,))
    at_most = _Bound(version, inclusive=True, clauses=(f"<={pep}",))
    return {
        "==": _Part((f"=={pep}",), at_least, at_most),
        "!=": _Part((f"!={pep}",), excluded=frozenset({f"!={pep}"})),
        ">=": _Part(at_least.clauses, lower=at_least),
        "<=": _Part(at_most.clauses, upper=at_most),
        "~=": _Part((f"~={pep}",), at_least, _below(_bump(version, len(version.release) - 1))),
    }[op]


def _prefix(op: str, version: Version, context: str) -> _Part:
    pep = str(version)
    if pep != version.base_version:  # for '!=1.2a0.*' too: packaging rejects '!=1.2a0.*'
        raise SpecError(
            f"cannot translate conda version constraint {context!r} to PEP 440: PEP 440"
            " allows '.*' only after release numbers",
            hint=_DECLARER_HINT,
        )
    if op == "!=":
        return _Part((f"!={pep}.*",), excluded=frozenset({f"!={pep}.*"}))
    # Conda's '1.2.*' admits 1.2's pre- and dev-releases too; 1.2.dev0 is the smallest of them.
    lower = _Bound(Version(f"{pep}.dev0"), inclusive=True, clauses=(f">={pep}.dev0",))
    return _Part((f"=={pep}.*",), lower, _below(_bump(version, len(version.release))))


def _exclusive(op: str, version: Version, source: str) -> _Part:
    pep = str(version)
    # PEP 440 "Exclusive ordered comparison": '>V' refuses V's post-releases and '<V' refuses
    # V's pre-releases unless V is one itself. Conda admits both, so spell the bound out.
    kind, faithful = (
        ("post", version.is_postrelease) if op == ">" else ("pre", version.is_prerelease)
    )
    clauses = (f"{op}{pep}",) if faithful else (f"{op}={pep}", f"!={pep}")
    bound = _Bound(version, inclusive=False, clauses=clauses)
    notes: tuple[str, ...] = ()
    if not faithful:
        notes = (
            (
                f"wrote {source!r} as {_canonical(clauses)!r} (PEP 440's '{op}{pep}' would"
                f" also exclude {kind}-releases of {pep}, which conda admits)"
            ),
        )
    if op == ">":
        return _Part(clauses, lower=bound, notes=notes)
    return _Part(clauses, upper=bound, notes=notes)


def _all_of(parts: list[_Part]) -> _Part:
    if len(parts) == 1:
        return parts[0]
    lowers = [part.lower for part in parts if part.lower is not None]
    uppers = [part.upper for part in parts if part.upper is not None]
    return _Part(
        clauses=tuple(clause for part in parts for clause in part.clauses),
        lower=max(lowers, key=_lower_order) if lowers else None,
        upper=min(uppers, key=_upper_order) if uppers else None,
        excluded=frozenset().union(*(part.excluded for part in parts)),
        widened=any(part.widened for part in parts),
        notes=tuple(note for part in parts for note in part.notes),
    )


def _pinned(lower: _Bound | None, upper: _Bound | None) -> Version | None:
    """Return the only version between ``lower`` and ``upper``, if they meet at one point."""
    if lower and upper and lower.inclusive and upper.inclusive and lower.key == upper.key:
        return lower.key
    return None


def _any_of(parts: list[_Part], source: str) -> _Part:
    if len({SpecifierSet(",".join(part.clauses)) for part in parts}) == 1:
        return parts[0]  # the same set each time ('1.2|1.2.0'): PEP 440 equates those too
    if any(not part.clauses and not part.widened for part in parts):
        return _Part()  # one branch admits every version, so the union is exact
    # The hull: the lowest lower bound, the highest upper bound, and only the exclusions that
    # every branch shares. Branch notes are dropped because the hull replaces their clauses.
    lowers = [part.lower for part in parts if part.lower is not None]
    uppers = [part.upper for part in parts if part.upper is not None]
    lower = min(lowers, key=_lower_order) if len(lowers) == len(parts) else None
    upper = max(uppers, key=_upper_order) if len(uppers) == len(parts) else None
    excluded = frozenset.intersection(*(part.excluded for part in parts))
    pin = _pinned(lower, upper)
    if pin is not None:
        clauses: tuple[str, ...] = (f"=={pin}", *sorted(excluded))
    else:
        clauses = (*(lower.clauses if lower else ()), *(upper.clauses if upper else ()))
        clauses += tuple(sorted(excluded))
    why = "PEP 440 has no 'or'"
    if pin is None and all(_pinned(part.lower, part.upper) for part in parts):
        why += "; the pins became a range"
    result = repr(_canonical(clauses)) if clauses else "any version"
    note = f"widened {source!r} to {result} ({why})"
    return _Part(clauses, lower, upper, excluded, widened=True, notes=(note,))


class _Parser:
    """Recursive descent over '|' (loosest), ',' and parentheses, as py-rattler groups them."""

    def __init__(self, text: str) -> None:
        self.text = text
        found = [(m.group().strip(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        self.tokens = [token for token in found if token[0]] + [("", len(text), len(text))]
        self.index = 0

    def parse(self) -> _Part:
        return self._any_of()

    def _peek(self) -> str:
        return self.tokens[self.index][0]

    def _any_of(self) -> _Part:
        start = self.tokens[self.index][1]
        parts = [self._all_of()]
        while self._peek() == "|":
            self.index += 1
            parts.append(self._all_of())
        return _any_of(parts, self.text[start : self.tokens[self.index - 1][2]].strip())

    def _all_of(self) -> _Part:
        parts = [self._term()]
        while self._peek() == ",":
            self.index += 1
            parts.append(self._term())
        return _all_of(parts)

    def _term(self) -> _Part:
        symbol = self._peek()
        self.index += 1
        if symbol == "(":
            part = self._any_of()
            self.index += 1  # the closing parenthesis; py-rattler has checked the nesting
            return part
        return _atom(symbol, self.text)

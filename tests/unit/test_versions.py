from __future__ import annotations

import re

import pytest
import rattler
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from condapress._versions import Translation, pep440_version, translate_version_spec
from condapress.errors import SpecError

PORTABLE_HINT = (
    "conda and PEP 440 order versions alike only when they are numbers joined by dots,"
    " optionally followed by aN, bN, rcN, .postN or devN; "
)
DECLARER_HINT = "press another build of the package that declares this dependency"
CONSTRAINT_HINT = "write it the way conda does, for example '>=1.2,<2.0a0', '1.2.*' or '1.2|1.4'"
OR_NOTE = "PEP 440 has no 'or'"


def lt_note(conda: str, pep: str, version: str) -> str:
    return (
        f"wrote '{conda}' as '{pep}' (PEP 440's '<{version}' would also exclude pre-releases"
        f" of {version}, which conda admits)"
    )


GT_NOTE = (
    "wrote '>1.2' as '!=1.2,>=1.2' (PEP 440's '>1.2' would also exclude post-releases of 1.2,"
    " which conda admits)"
)


# --- examples -------------------------------------------------------------------------------

EXACT = [
    # (conda text, PEP 440 specifier, notes)
    (None, "", ()),
    ("*", "", ()),
    ("*,>=1", ">=1", ()),
    # A bare version in a match spec is an exact pin for py-rattler ('pkg 1.2' -> '==1.2'), and
    # 1.2 == 1.2.0 on both sides.
    ("1.2", "==1.2", ()),
    ("==1.2.3", "==1.2.3", ()),
    ("1.2.0", "==1.2.0", ()),
    # The fuzzy forms, including the one MatchSpec('pkg=1.2') produces.
    ("1.2.*", "==1.2.*", ()),
    ("=1.2", "==1.2.*", ()),
    ("1.2*", "==1.2.*", ()),
    ("=1", "==1.*", ()),
    ("1!2.*", "==1!2.*", ()),
    # py-rattler drops a '.*' after '==', and reads '>1.2.*' as '>=1.2'.
    ("==1.2.*", "==1.2", ()),
    (">1.2.*", ">=1.2", ()),
    (">=1.2", ">=1.2", ()),
    ("<=1.2", "<=1.2", ()),
    ("!=1.3", "!=1.3", ()),
    ("!=1.2.*", "!=1.2.*", ()),
    ("~=1.2.3", "~=1.2.3", ()),
    ("~=1.2a0", "~=1.2a0", ()),
    (">=1.2,<2.0a0", "<2.0a0,>=1.2", ()),
    (">=1.2,<2.0.dev0", "<2.0.dev0,>=1.2", ()),
    (">1.2.post1", ">1.2.post1", ()),
    ("1.2.*,!=1.2.1", "!=1.2.1,==1.2.*", ()),
    ("1.2 , 1.4", "==1.2,==1.4", ()),
    ("1.2|1.2.0", "==1.2", ()),
    ("1.2|*", "", ()),
    ("1!2.0", "==1!2.0", ()),
    ("1.0_1", "==1.0.1", ()),
    ("1.0dev", "==1.0.dev0", ()),
    ("1.0RC1", "==1.0rc1", ()),
    (">=1.2,<2", "!=2,<=2,>=1.2", (lt_note("<2", "!=2,<=2", "2"),)),
    (">1.2", "!=1.2,>=1.2", (GT_NOTE,)),
    ("~=1", ">=1", ("wrote '~=1' as '>=1' (PEP 440 needs two numbers after '~=')",)),
    ("<2,<2", "!=2,<=2", (lt_note("<2", "!=2,<=2", "2"),)),
]

WIDENED = [
    (
        "1.2|1.4",
        "<=1.4,>=1.2",
        f"widened '1.2|1.4' to '<=1.4,>=1.2' ({OR_NOTE}; the pins became a range)",
    ),
    (
        "1.2 | 1.4",
        "<=1.4,>=1.2",
        f"widened '1.2 | 1.4' to '<=1.4,>=1.2' ({OR_NOTE}; the pins became a range)",
    ),
    (">=1,<2|>=3", ">=1", f"widened '>=1,<2|>=3' to '>=1' ({OR_NOTE})"),
    ("(>=1,<2)|>=3", ">=1", f"widened '(>=1,<2)|>=3' to '>=1' ({OR_NOTE})"),
    (">=1,(<2|>=3)", ">=1", f"widened '<2|>=3' to any version ({OR_NOTE})"),
    ("<1|>=3", "", f"widened '<1|>=3' to any version ({OR_NOTE})"),
    # A '.*' branch spans its release's pre-releases up to (not including) the next release.
    ("1.2.*|1.4.*", "<1.5,>=1.2.dev0", f"widened '1.2.*|1.4.*' to '<1.5,>=1.2.dev0' ({OR_NOTE})"),
    ("~=1.2.3|1.5", "<=1.5,>=1.2.3", f"widened '~=1.2.3|1.5' to '<=1.5,>=1.2.3' ({OR_NOTE})"),
    # Conda's '<2' admits 2.0rc1, so the hull keeps the spelled-out form.
    ("<2|1.2.*", "!=2,<=2", f"widened '<2|1.2.*' to '!=2,<=2' ({OR_NOTE})"),
    ("<2.0a0|>1.5", "", f"widened '<2.0a0|>1.5' to any version ({OR_NOTE})"),
    # ',' binds tighter than '|': this is '2|(3,>1)'.
    ("2|3,>1", "<=3,>=2", f"widened '2|3,>1' to '<=3,>=2' ({OR_NOTE}; the pins became a range)"),
    (
        "(2|3),!=2.5",
        "!=2.5,<=3,>=2",
        f"widened '2|3' to '<=3,>=2' ({OR_NOTE}; the pins became a range)",
    ),
    # An exclusion survives only when every branch has it.
    (
        "!=1.5,>=1|!=1.5,>=2",
        "!=1.5,>=1",
        f"widened '!=1.5,>=1|!=1.5,>=2' to '!=1.5,>=1' ({OR_NOTE})",
    ),
    ("!=1.5,>=1|>=2", ">=1", f"widened '!=1.5,>=1|>=2' to '>=1' ({OR_NOTE})"),
    ("1.2,!=1.3|1.2.0", "==1.2", f"widened '1.2,!=1.3|1.2.0' to '==1.2' ({OR_NOTE})"),
]


@pytest.mark.parametrize(("conda", "pep", "notes"), EXACT)
def test_exact_translation(conda: str | None, pep: str, notes: tuple[str, ...]) -> None:
    assert translate_version_spec(conda) == Translation(pep, notes, widened=False)


@pytest.mark.parametrize(("conda", "pep", "note"), WIDENED)
def test_or_is_widened_to_a_range(conda: str, pep: str, note: str) -> None:
    assert translate_version_spec(conda) == Translation(pep, (note,), widened=True)


def test_build_string_is_dropped_with_a_note() -> None:
    assert translate_version_spec("1.2", "py310*") == Translation(
        "==1.2",
        ("dropped build-string constraint 'py310*' (PEP 440 has no build strings)",),
        widened=True,
    )
    assert translate_version_spec(None, "*") == Translation("", (), widened=False)


@pytest.mark.parametrize(
    ("match_spec", "pep", "widened"),
    [
        ("pkg=1.2", "==1.2.*", False),
        ("pkg 1.2", "==1.2", False),
        ("pkg 1.2.*", "==1.2.*", False),
        ("pkg >=1.2,<2.0a0", "<2.0a0,>=1.2", False),
        ("pkg", "", False),
        ("pkg 1.2 py310*", "==1.2", True),
        ("pkg=1.2=py310", "==1.2", True),
        ("pkg * *_cp310", "", True),
    ],
)
def test_match_spec_parts(match_spec: str, pep: str, *, widened: bool) -> None:
    spec = rattler.MatchSpec(match_spec)
    version = None if spec.version is None else str(spec.version)
    assert translate_version_spec(version, spec.build).specifier == pep
    assert translate_version_spec(version, spec.build).widened is widened


def test_upper_bound_below_prereleases() -> None:
    # conda-forge's '<2.0a0' means "below any 2.0 pre-release"; PEP 440 reads it the same way.
    pep = SpecifierSet(translate_version_spec(">=1.2,<2.0a0").specifier, prereleases=True)
    assert [v for v in ("1.2", "1.99", "1.99.99rc1", "2.0a0", "2.0rc1", "2.0") if v in pep] == [
        "1.2",
        "1.99",
        "1.99.99rc1",
    ]


@pytest.mark.parametrize(
    ("conda", "pep"),
    [
        ("1.2.3", "1.2.3"),
        ("0.2.5", "0.2.5"),
        ("1.0.0a0", "1.0.0a0"),
        ("2024.7.4", "2024.7.4"),
        ("1!2.0", "1!2.0"),
        ("1.0_1", "1.0.1"),
        ("1.0-1", "1.0.1"),
        ("01.2", "1.2"),
        ("1.0RC1", "1.0rc1"),
        ("1.0a", "1.0a0"),
        ("1.0dev", "1.0.dev0"),
        ("1.0rc1dev0", "1.0rc1.dev0"),
        ("1.2.post1", "1.2.post1"),
        ("1.2.3.dev4", "1.2.3.dev4"),
    ],
)
def test_pep440_version(conda: str, pep: str) -> None:
    assert pep440_version(conda) == pep


# conda sorts all of these differently from what PEP 440 would read into them.
@pytest.mark.parametrize("conda", ["1.1.1w", "9e", "1.0+cuda", "1.0post1", "1.0alpha1", "1.0.rc1"])
def test_pep440_version_refuses_versions_conda_orders_otherwise(conda: str) -> None:
    with pytest.raises(SpecError) as info:
        pep440_version(conda)
    assert info.value.message == f"cannot translate conda version '{conda}' to PEP 440"
    assert info.value.hint == PORTABLE_HINT + "press a version of the package in that form"


def test_pep440_version_refuses_what_conda_refuses() -> None:
    with pytest.raises(SpecError) as info:
        pep440_version("1..2")
    assert info.value.message == "invalid conda version '1..2'"
    assert (
        info.value.hint
        == "conda versions are numbers and letters joined by dots, for example '1.2.3'"
    )


@pytest.mark.parametrize("conda", [">=", "1.2,,", ">>1", "", " 1.2", ">= 1.2", "(1.2", "1.2*.1"])
def test_malformed_constraint(conda: str) -> None:
    with pytest.raises(SpecError) as info:
        translate_version_spec(conda)
    assert info.value.message == f"invalid conda version constraint {conda!r}"
    assert info.value.hint == CONSTRAINT_HINT
    assert info.value.detail


def test_constraint_with_untranslatable_version() -> None:
    with pytest.raises(SpecError) as info:
        translate_version_spec(">=1.1.1w,<1.1.2a0")
    assert info.value.message == (
        "cannot translate conda version '1.1.1w' in constraint '>=1.1.1w,<1.1.2a0' to PEP 440"
    )
    assert info.value.hint == PORTABLE_HINT + DECLARER_HINT


def test_prefix_after_a_prerelease() -> None:
    with pytest.raises(SpecError) as info:
        translate_version_spec("1.2a0.*")
    assert info.value.message == (
        "cannot translate conda version constraint '1.2a0.*' to PEP 440: PEP 440 allows '.*'"
        " only after release numbers"
    )
    assert info.value.hint == DECLARER_HINT


# --- properties: py-rattler is the oracle ----------------------------------------------------

TAGS = ["", "", "a0", "rc1", "dev0"]  # untagged twice as often
releases = st.lists(st.integers(0, 3) | st.integers(0, 20), min_size=1, max_size=4).map(
    lambda numbers: ".".join(map(str, numbers))
)
versions = st.builds(str.__add__, releases, st.sampled_from(TAGS))
atoms = st.one_of(
    st.builds(str.__add__, st.sampled_from(["", "==", "!=", ">=", ">", "<", "<=", "~="]), versions),
    # Fuzzy forms take a release only: '1.2a0.*' has no PEP 440 form (see above).
    st.builds(
        str.__add__, st.sampled_from(["=", "!=", ">=", "<", "~="]), releases.map(lambda r: r + ".*")
    ),
    st.builds(str.__add__, st.sampled_from(["=", ""]), releases),
    releases.map(lambda r: r + "*"),
    st.just("*"),
)
constraints = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(",".join),
        st.lists(inner, min_size=2, max_size=3).map("|".join),
        inner.map(lambda text: f"({text})"),
    ),
    max_leaves=6,
)
_VERSION = re.compile(r"(\d+(?:\.\d+)*)([a-z]+\d*)?")


def orders_differ(a: str, b: str) -> bool:
    """Whether conda and PEP 440 may order ``a`` and ``b`` (from ``versions``) differently.

    Conda compares release numbers component by component and only pads with zeros component by
    component, so a tag glued to the last number is weighed against the padding: '1a0' < '1.0a0'
    and '1rc1' < '1.0a0' for conda, while PEP 440 pads the release first ('1a0' == '1.0a0',
    '1rc1' > '1.0a0'). Pairs whose releases differ only by trailing zeros, in length, and that
    both carry a tag, are the one class where the two disagree (see pep440_version).
    """
    (ra, ta), (rb, tb) = split(a), split(b)
    return bool(ta and tb) and ra != rb and Version(ra) == Version(rb)


def split(version: str) -> tuple[str, str | None]:
    match = _VERSION.fullmatch(version)
    assert match is not None
    return match[1], match[2]


def spec_versions(text: str) -> list[str]:
    return [m.group() for m in _VERSION.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(text=constraints, candidate=versions)
def test_translation_agrees_with_rattler(text: str, candidate: str) -> None:
    assume(not any(orders_differ(candidate, v) for v in spec_versions(text)))
    translation = translate_version_spec(text)
    conda = rattler.VersionSpec(text).matches(rattler.Version(candidate))
    pep = SpecifierSet(translation.specifier, prereleases=True).contains(pep440_version(candidate))
    if translation.widened:
        assert pep or not conda
    else:
        assert pep == conda


@settings(max_examples=300, deadline=None)
@given(a=versions, b=versions)
def test_versions_order_alike(a: str, b: str) -> None:
    assume(not orders_differ(a, b))
    conda_a, conda_b = rattler.Version(a), rattler.Version(b)
    pep_a, pep_b = Version(pep440_version(a)), Version(pep440_version(b))
    assert (conda_a < conda_b, conda_a == conda_b) == (pep_a < pep_b, pep_a == pep_b)


def test_trailing_zero_prereleases_are_the_known_difference() -> None:
    # The class orders_differ() leaves out, pinned down so a change on either side shows up.
    assert rattler.Version("1a0") < rattler.Version("1.0a0") < rattler.Version("1.0")
    assert Version("1a0") == Version("1.0a0")
    assert rattler.Version("1rc1") < rattler.Version("1.0a0")
    assert Version("1rc1") > Version("1.0a0")
    assert orders_differ("1rc1", "1.0a0")
    assert not orders_differ("1rc1", "1.0")
    assert not orders_differ("1.0rc1", "1.0a0")
    assert not rattler.VersionSpec("==1.0a0").matches(rattler.Version("1a0"))
    assert "1a0" in SpecifierSet(translate_version_spec("==1.0a0").specifier, prereleases=True)

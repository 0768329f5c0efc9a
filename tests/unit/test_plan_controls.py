"""--exclude, --rename, --add-requires and --strip in the plan: checked, applied, recorded."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import pytest

from condapress.errors import SpecError
from condapress.model import Control, PlanOptions
from condapress.plan import plan
from condapress.plan._render import plan_document, plan_table
from support.factories import closure, package_facts, record

PYGREET = (
    record("libgreet", "1.0.0", "h0_0"),
    record("pygreet", "1.0.0", "py311h0_0", "libgreet", "salutation-python >=1.2", "python"),
    record("salutation-python", "1.2.0", "pyh0_0", "python >=3.8"),
)
# pygreet's own METADATA names salutation, as salutation-python's own METADATA does
FACTS = {
    "pygreet": package_facts("pygreet", "pygreet", requires_dist=("salutation>=1.1",)),
    "salutation-python": package_facts("salutation-python", "salutation"),
    "libgreet": package_facts("libgreet"),
}


def test_a_rename_renames_the_requirement_and_the_own_metadata_s_line() -> None:
    the_plan = plan(
        closure(PYGREET, "pygreet"),
        FACTS,
        PlanOptions(fat=True, rename=(("salutation-python", "salutation-ng"), ("nope", "x"))),
    )
    assert the_plan.wheels[0].requires_dist == ("salutation-ng>=1.2",)
    decision = the_plan.decision("salutation-python")
    assert (decision.pypi_name, decision.name_source, decision.name_verified) == (
        "salutation-ng",
        "rename",
        True,
    )
    assert decision.notes[0] == "named salutation-ng by --rename"
    assert the_plan.controls == (
        Control(
            "rename",
            "salutation-python=salutation-ng",
            "the Requires-Dist name of conda package salutation-python",
        ),
        Control("rename", "nope=x", "unused: no python dependency of this closure is named nope"),
    )


def test_added_requirements_go_to_the_wheel_of_each_requested_package() -> None:
    the_plan = plan(
        closure(PYGREET, "pygreet"),
        FACTS,
        PlanOptions(fat=True, add_requires=("numpy >=1.26", "rich; python_version<'3.12'")),
    )
    assert the_plan.wheels[0].requires_dist == (
        "numpy>=1.26",
        'rich; python_version < "3.12"',
        "salutation>=1.2",
    )
    assert [c.reason for c in the_plan.controls] == [
        "added to the Requires-Dist of pygreet",
        "added to the Requires-Dist of pygreet",
    ]


def test_exclude_and_strip_are_recorded_for_the_press_and_shown() -> None:
    the_plan = plan(
        closure(PYGREET, "pygreet"),
        FACTS,
        PlanOptions(fat=True, exclude=("libcuda.so.*",), strip=True),
    )
    assert (the_plan.exclude, the_plan.strip) == (("libcuda.so.*",), True)
    assert plan_table(the_plan).splitlines()[-2:] == [
        (
            "--exclude libcuda.so.*: libraries of these names are not bundled: another wheel or "
            "the target system provides them; the binaries keep needing them by that name, and "
            "the platform tag does not vouch for them"
        ),
        "--strip: the debug sections of every binary the wheels carry are removed (strip)",
    ]
    document = plan_document(the_plan)
    schema = json.loads(files("condapress").joinpath("data/plan-schema.json").read_text())
    jsonschema.validate(document, schema)
    assert [c["option"] for c in document["controls"]] == ["exclude", "strip"]


def test_every_invalid_control_is_named_in_one_error() -> None:
    with pytest.raises(SpecError) as refused:
        plan(
            closure(PYGREET, "pygreet"),
            FACTS,
            PlanOptions(
                exclude=("lib/libx.so",),
                rename=(("salutation-python", "not a name"), ("x", ""), ("x", "y"), ("x", "z")),
                add_requires=("numpy >>1", "pkg @ https://example.org/pkg.whl"),
            ),
        )
    assert refused.value.message == (
        "invalid --exclude, --rename or --add-requires: --exclude 'lib/libx.so' is not a library "
        "name pattern (a file name, '*' and '?' allowed); '--rename salutation-python=not a "
        "name': 'not a name' is not a valid distribution name; '--rename x=' is not CONDA=PYPI "
        "(a conda name, '=', a PyPI name); '--rename x=z': x is renamed twice; --add-requires "
        "'numpy >>1' is not a PEP 508 requirement; --add-requires "
        "'pkg @ https://example.org/pkg.whl' is a direct reference, which PyPI refuses"
    )
    assert refused.value.hint == (
        "fix the values (see 'condapress press --help'); names and requirements are written as "
        "in pyproject.toml"
    )


@pytest.mark.parametrize(
    ("rename", "why"),
    [
        ("pygreet", "pygreet is requested: its wheel's name is its own"),
        ("libgreet", "libgreet is a native package, never a Requires-Dist"),
    ],
)
def test_only_python_dependencies_are_renamed(rename: str, why: str) -> None:
    with pytest.raises(SpecError) as refused:
        plan(closure(PYGREET, "pygreet"), FACTS, PlanOptions(rename=((rename, "other"),)))
    assert refused.value.message == f"--rename applies to python dependencies only: {why}"
    assert refused.value.hint == "leave those packages out of --rename"


@pytest.mark.parametrize(
    ("options", "given"),
    [
        (PlanOptions(strip=True), "--strip applies"),
        (PlanOptions(exclude=("libz.*",), strip=True), "--exclude and --strip apply"),
    ],
)
@pytest.mark.parametrize("subdir", ["osx-arm64", "win-64"])
def test_exclude_and_strip_are_refused_for_macos_and_windows(
    options: PlanOptions, given: str, subdir: str
) -> None:
    with pytest.raises(SpecError) as refused:
        plan(closure(PYGREET, "pygreet", subdir=subdir), FACTS, options)
    assert refused.value.message == (
        f"{given} to linux-* wheels only (ELF binaries), not to {subdir}"
    )
    options_given = given.rsplit(" ", 1)[0]
    assert refused.value.hint == (
        f"press {subdir} without {options_given}: macOS and Windows binaries keep their debug "
        "information outside them, and their wheels bundle every library they load"
    )

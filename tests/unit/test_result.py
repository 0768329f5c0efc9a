"""The ``press --json`` document, from a real plan, wheel, audit and check, against its schema."""

from __future__ import annotations

import dataclasses
import json
from importlib.resources import files
from typing import TYPE_CHECKING

import jsonschema
import pytest

from condapress import plan
from condapress._result import PRESS_SCHEMA_VERSION, press_document
from condapress.assemble import build_wheel
from condapress.audit import audit_wheel, check_wheel
from condapress.model import NoArch, PlanOptions, PressResult
from support.factories import closure, package_facts, record
from support.staged import pygreet

if TYPE_CHECKING:
    from pathlib import Path

SCHEMA = json.loads(files("condapress").joinpath("data/press-schema.json").read_text())


def result(tmp_path: Path, *, audited: bool = True) -> PressResult:
    records = (
        record("pygreet", "1.0.0", "py311h0_0", "libgreet", "salutation-python", "python"),
        record("libgreet", "1.0.0", "h0_0"),
        record("salutation-python", "1.2.0", "pyh0_0", "python", noarch=NoArch.PYTHON),
    )
    facts = {
        "pygreet": package_facts("pygreet", "pygreet"),
        "salutation-python": package_facts("salutation-python", "salutation"),
    }
    the_plan = plan.plan(closure(records, "pygreet"), facts, PlanOptions(fat=True))
    built = build_wheel(pygreet(tmp_path), tmp_path / "out")
    built = dataclasses.replace(built, members=("pygreet", "libgreet"))
    return PressResult(
        plan=the_plan,
        wheels=(built,),
        audits=(audit_wheel(built.path),) if audited else (),
        checks=(check_wheel(built.path),) if audited else (),
    )


def test_the_document_validates_and_says_what_was_made(tmp_path: Path) -> None:
    made = result(tmp_path)
    document = press_document([made, result(tmp_path / "again", audited=False)])
    jsonschema.validate(document, SCHEMA)
    assert document["version"] == PRESS_SCHEMA_VERSION == 1
    first = document["presses"][0]
    assert {k: first[k] for k in ("specs", "python", "subdir", "fat", "runtime")} == {
        "specs": ["pygreet"],
        "python": "3.11",
        "subdir": "linux-64",
        "fat": True,
        "runtime": "system",
    }
    assert [(p["name"], p["class"], p["becomes"]) for p in first["packages"]] == [
        ("libgreet", "native", "merged"),
        ("pygreet", "root", "wheel"),
        ("salutation-python", "python", "requirement"),
    ]
    [wheel] = made.wheels
    [entry] = first["wheels"]
    assert {k: v for k, v in entry.items() if k not in ("audit", "check")} == {
        "path": str(wheel.path),
        "filename": wheel.path.name,
        "name": "pygreet",
        "version": "1.0.0",
        "tags": list(wheel.tags),
        "size": wheel.size,
        "sha256": wheel.sha256,
        "members": ["pygreet", "libgreet"],
        "stripped": None,
    }
    # the stand-in binaries are no ELF files the audit can read: it says so, as an error
    assert entry["audit"]["ok"] is False
    assert {f["code"] for f in entry["audit"]["findings"]} >= {"bad-elf"}
    assert entry["check"] == {"ok": True, "findings": []}
    assert document["presses"][1]["wheels"][0]["audit"] is None
    assert document["presses"][1]["wheels"][0]["check"] is None
    json.dumps(document)  # plain JSON types only


def test_the_schema_refuses_what_the_document_never_holds(tmp_path: Path) -> None:
    document = press_document([result(tmp_path, audited=False)])
    document["presses"][0]["wheels"][0]["sha256"] = "not a digest"
    with pytest.raises(jsonschema.ValidationError) as refused:
        jsonschema.validate(document, SCHEMA)
    assert refused.value.message == "'not a digest' does not match '^[0-9a-f]{64}$'"

"""``condapress press --json``: the document alone on standard output, errors as ever."""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from typing import TYPE_CHECKING

import jsonschema

from support.presses import assert_refused, press

if TYPE_CHECKING:
    from pathlib import Path

SCHEMA = json.loads(files("condapress").joinpath("data/press-schema.json").read_text())
ARGV = ("pygreet", "salutation-python", "--python", "3.11", "--subdir", "linux-64", "--json")


def test_the_document_is_all_that_is_printed(channel: Path, tmp_path: Path) -> None:
    run = press(channel, tmp_path / "out", tmp_path / "cache", *ARGV)
    assert run.status == 0, run.stderr
    document = json.loads(run.stdout)
    jsonschema.validate(document, SCHEMA)
    [pressed] = document["presses"]
    assert (pressed["specs"], pressed["python"], pressed["fat"]) == (
        ["pygreet", "salutation-python"],
        "3.11",
        False,
    )
    landed = sorted((tmp_path / "out").iterdir())
    assert sorted(w["path"] for w in pressed["wheels"]) == [str(p) for p in landed]
    for wheel in pressed["wheels"]:
        data = (tmp_path / "out" / wheel["filename"]).read_bytes()
        assert (wheel["size"], wheel["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
        assert wheel["audit"]["ok"] is wheel["check"]["ok"] is True
    by_name = {w["name"]: w for w in pressed["wheels"]}
    assert sorted(by_name) == ["libgreet-conda", "libgreetpp-conda", "pygreet", "salutation"]
    assert by_name["pygreet"]["members"] == ["pygreet"]
    warned = {f["code"] for f in by_name["libgreetpp-conda"]["audit"]["findings"]}
    assert "exported-std-symbols" in warned


def test_without_audit_and_check_they_are_null(channel: Path, tmp_path: Path) -> None:
    run = press(channel, tmp_path / "out", tmp_path / "cache", *ARGV, "--no-audit", "--no-check")
    document = json.loads(run.stdout)
    jsonschema.validate(document, SCHEMA)
    assert {(w["audit"], w["check"]) for w in document["presses"][0]["wheels"]} == {(None, None)}


def test_an_error_is_two_lines_on_standard_error_and_no_document(
    channel: Path, tmp_path: Path
) -> None:
    run = press(channel, tmp_path / "out", tmp_path / "cache", "nosuchthing", "--json", "-q")
    assert_refused(
        run,
        f"error: package 'nosuchthing' is not on {channel} for linux-64 or noarch",
        "hint: check the spelling, or add the channel that has it with -c",
    )

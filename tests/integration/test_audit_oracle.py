"""audit against auditwheel: on pressed fixture wheels and on PyPI's pyarrow and numpy.

``auditwheel show`` runs in the background for every wheel while our audits run, so the
slowest oracle (pyarrow, about half a minute) bounds the module's time. The PyPI half skips when
pip cannot download the wheels.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import jsonschema
import pytest
from packaging.utils import parse_wheel_filename

from condapress._cli import main
from condapress.audit import audit_document, audit_wheel
from condapress.model import AuditReport, Level
from support import FIXTURE_CHANNEL

if TYPE_CHECKING:
    from collections.abc import Iterator

PYPI = ("pyarrow", "numpy")


@dataclass
class Oracle:
    """``auditwheel show --json`` of one wheel, running in the background."""

    process: subprocess.Popen[bytes]
    output: IO[bytes]
    _result: dict[str, Any] | None = field(default=None)

    def result(self) -> dict[str, Any]:
        if self._result is None:
            self.process.wait(timeout=300)
            self.output.seek(0)
            self._result = json.loads(self.output.read())
            self.output.close()
        return self._result


@dataclass
class Audited:
    pressed: list[Path]
    pypi: list[Path]
    pypi_skip: str | None
    oracles: dict[Path, Oracle]
    reports: dict[Path, AuditReport] = field(default_factory=dict)

    def report(self, wheel: Path) -> AuditReport:
        if wheel not in self.reports:
            self.reports[wheel] = audit_wheel(wheel)
        return self.reports[wheel]


def _auditwheel() -> list[str]:
    script = Path(sys.executable).parent / "auditwheel"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "auditwheel"]


def _download(dest: Path) -> str | None:
    """Download the PyPI wheels into *dest*; the reason it failed, or None."""
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    argv += ["--python-version", "3.11", "--platform", "manylinux2014_x86_64"]
    argv += ["--disable-pip-version-check", "-q", "-d", str(dest), *PYPI]
    try:
        subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
    except subprocess.CalledProcessError as exc:
        return f"pip cannot download {' and '.join(PYPI)}: {exc.stderr.strip()[-300:]}"
    except subprocess.TimeoutExpired:
        return f"pip took more than 5 minutes to download {' and '.join(PYPI)}"
    return None


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    out = tmp_path_factory.mktemp("wheels")
    cache = tmp_path_factory.mktemp("cache")
    argv = ["pygreet", "salutation-python", "tally", "-c", str(FIXTURE_CHANNEL)]
    assert (
        main([*argv, "--python", "3.11", "--fat", "-o", str(out), "--cache-dir", str(cache)]) == 0
    )
    pressed = sorted(out.glob("*.whl"))
    downloads = tmp_path_factory.mktemp("pypi")
    reason = _download(downloads)
    pypi = [] if reason else sorted(downloads.glob("*.whl"))
    oracles = {}
    for wheel in [*pypi, *pressed]:  # the big ones first: they take longest
        output = (downloads / f"{wheel.name}.json").open("w+b")
        process = subprocess.Popen(
            [*_auditwheel(), "show", "--json", str(wheel)],
            stdout=output,
            stderr=subprocess.DEVNULL,
        )
        oracles[wheel] = Oracle(process, output)
    yield Audited(pressed, pypi, reason, oracles)
    for oracle in oracles.values():
        if oracle.process.poll() is None:
            oracle.process.kill()
            oracle.process.wait()
        oracle.output.close()


def _by_name(wheels: list[Path], name: str) -> Path:
    found = [w for w in wheels if parse_wheel_filename(w.name)[0] == name]
    assert len(found) == 1, wheels
    return found[0]


def _platforms(wheel: Path) -> set[str]:
    return {tag.platform for tag in parse_wheel_filename(wheel.name)[3]}


def test_pressed_wheels_have_no_errors(audited: Audited) -> None:
    assert len(audited.pressed) == 3
    for wheel in audited.pressed:
        report = audited.report(wheel)
        errors = [f for f in report.findings if f.level is Level.ERROR]
        assert report.ok, errors
        assert report.libraries or report.verdict.tag == "any"
        assert all(where != "missing" for lib in report.libraries for _, where in lib.needed)


def test_pressed_verdicts_are_the_wheel_names_and_auditwheel_s(audited: Audited) -> None:
    for wheel in audited.pressed:
        report = audited.report(wheel)
        assert _platforms(wheel) == {report.verdict.tag, *report.verdict.aliases}
        theirs = audited.oracles[wheel].result()
        if report.verdict.tag == "any":
            assert "does not look like a platform wheel" in theirs["error"]
        else:
            assert theirs["overall_tag"] == report.verdict.tag, report.verdict.limits


def test_split_wheels_have_no_errors(tmp_path: Path) -> None:
    # Without --fat, pygreet needs libgreetpp from the libgreetpp-conda wheel it requires: a
    # warning, and the tag the press gave it holds.
    argv = ["pygreet", "-c", str(FIXTURE_CHANNEL), "--python", "3.11", "-o", str(tmp_path / "o")]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 0
    wheels = sorted((tmp_path / "o").glob("*.whl"))
    assert len(wheels) == 3  # pygreet, libgreetpp-conda, libgreet-conda
    for wheel in wheels:
        report = audit_wheel(wheel)
        assert report.ok, report.findings
        if wheel.name.startswith("pygreet-"):
            continue
        assert _platforms(wheel) == {report.verdict.tag, *report.verdict.aliases}
    pygreet = audit_wheel(_by_name(wheels, "pygreet"))
    assert {"library-from-other-wheel", "tag-from-required-wheels"} <= {
        f.code for f in pygreet.findings
    }
    # Its own binaries allow manylinux_2_24; it is tagged like libgreetpp-conda, which it needs.
    assert pygreet.verdict.tag == "manylinux_2_24_x86_64"
    libgreetpp = _by_name(wheels, "libgreetpp-conda")
    assert _platforms(_by_name(wheels, "pygreet")) == _platforms(libgreetpp)


def test_pygreet_reports_libgreetpp_with_weak_std_symbols(audited: Audited) -> None:
    report = audited.report(_by_name(audited.pressed, "pygreet"))
    libraries = {Path(lib.path).name.split("-")[0]: lib for lib in report.libraries}
    assert libraries["libgreetpp"].exported_weak_std > 0
    assert libraries["libgreet"].exported_weak_std == 0
    assert libraries["libgreet"].exported_global_std == 0
    warned = {f.path for f in report.findings if f.code == "exported-std-symbols"}
    assert libraries["libgreetpp"].path in warned
    assert libraries["libgreet"].path not in warned
    # pygreet's libraries reach each other through RPATH, and libstdc++ is the system's.
    needed = dict(libraries["libgreetpp"].needed)
    assert needed["libstdc++.so.6"] == "system"
    assert next(where for name, where in needed.items() if name.startswith("libgreet-")) == "wheel"
    assert not any(f.code == "unreachable-library" for f in report.findings)


def test_the_document_of_every_pressed_wheel_validates(audited: Audited) -> None:
    document = audit_document([audited.report(wheel) for wheel in audited.pressed])
    schema = json.loads(files("condapress").joinpath("data/audit-schema.json").read_text())
    jsonschema.validate(document, schema)


@pytest.mark.parametrize("name", PYPI)
def test_pypi_verdicts_are_auditwheel_s(audited: Audited, name: str) -> None:
    if audited.pypi_skip is not None:
        pytest.skip(audited.pypi_skip)
    wheel = _by_name(audited.pypi, name)
    report = audited.report(wheel)
    assert report.libraries
    assert report.verdict.tag == audited.oracles[wheel].result()["overall_tag"]
    assert report.verdict.tag in _platforms(wheel)
    # What auditwheel repair grafted (numpy.libs) or what the wheel ships itself (pyarrow's
    # libarrow) is found through the RPATH of the files that need it.
    assert not [f for f in report.findings if f.code in {"unreachable-library", "missing-library"}]

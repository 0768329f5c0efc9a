"""The plan's steps one by one: classification, tables, grouping and each kind of decision."""

from __future__ import annotations

import pytest

from condapress import plan as plan_module
from condapress.model import (
    Closure,
    CondaRecord,
    NoArch,
    PackageFacts,
    PlanOptions,
)
from condapress.plan._classify import classify
from condapress.plan._decide import decide
from condapress.plan._group import group
from condapress.plan._tables import pypi_names, system_packages


def rec(name: str, build: str, *depends: str, noarch: NoArch = NoArch.NONE) -> CondaRecord:
    return CondaRecord(name, "1.0", build, 0, "linux-64", depends, noarch=noarch)


SITE = PackageFacts("x", has_site_packages=True)
NO_SITE = PackageFacts("x", has_site_packages=False)


PROVIDED = "system: provided by the target interpreter or platform"
NOT_READ = "(archive not read: not checked against paths.json)"


@pytest.mark.parametrize(
    ("record", "facts", "runtime", "expected"),
    [
        (rec("python_abi", "4_cp311"), None, "system", PROVIDED),
        (rec("__glibc", "0"), None, "system", PROVIDED),
        (
            rec("libgcc-ng", "h1_0"),
            None,
            "system",
            "system: compiler runtime: the target system's copy is used (--runtime system)",
        ),
        (
            rec("libgcc-ng", "h1_0"),
            None,
            "bundle",
            "native: compiler runtime, bundled under mangled names (--runtime bundle)",
        ),
        (rec("six", "pyh1_0", noarch=NoArch.PYTHON), NO_SITE, "system", "python: noarch: python"),
        (
            rec("odd", "h1_0"),
            SITE,
            "system",
            "python: installs files under site-packages (paths.json)",
        ),
        (
            rec("zlib", "h1_0"),
            None,
            "system",
            "native: no python dependency and no python files",
        ),
        (
            rec("tool", "h1_0", "python >=3.8"),
            NO_SITE,
            "system",
            "native: depends on python, but installs nothing under site-packages (paths.json)",
        ),
        (
            rec("ext", "py311h1_0"),
            None,
            "system",
            f"python: python build string 'py311h1_0' {NOT_READ}",
        ),
        (
            rec("abi", "h1_0", "python_abi 3.11.* *_cp311"),
            None,
            "system",
            f"python: depends on python_abi {NOT_READ}",
        ),
    ],
)
def test_each_class_comes_with_its_reason(
    record: CondaRecord, facts: PackageFacts | None, runtime: str, expected: str
) -> None:
    classified = classify(record, facts, PlanOptions(runtime=runtime))  # type: ignore[arg-type]
    assert f"{classified.node_class.value}: {classified.reason}" == expected


def test_the_tables_match_names_and_prefixes() -> None:
    system = system_packages()
    assert [system.provides(n) for n in ("pip", "__cuda", "sysroot_linux-64", "pipx")] == [
        True,
        True,
        True,
        False,
    ]
    assert not system.provides("libstdcxx-ng")
    assert "libstdcxx-ng" in system.runtime
    assert (pypi_names().get("ruamel_yaml"), pypi_names().get("ruamel.yaml")) == (
        "ruamel.yaml",
        None,
    )


# app (python, the root) -> libapp (native) -> libgcc-ng (runtime); app -> six (python) -> helper
# (python, needed only by six); six -> libonly (native, needed only by six); python_abi (system).
RECORDS = (
    rec("app", "py311h1_0", "python_abi 3.11.* *_cp311", "libapp >=1", "six >=1.0"),
    rec("libapp", "h1_0", "libgcc-ng >=12"),
    rec("libgcc-ng", "h1_0"),
    rec("six", "pyh1_0", "helper", "libonly", noarch=NoArch.PYTHON),
    rec("helper", "pyh1_0", noarch=NoArch.PYTHON),
    rec("libonly", "h1_0"),
    rec("python_abi", "4_cp311"),
)
CLOSURE = Closure(
    specs=("app",),
    roots=("app",),
    records=tuple(sorted(RECORDS, key=lambda r: r.name)),
    python="3.11",
    subdir="linux-64",
    channels=("here",),
)
FACTS = {"app": PackageFacts("app", has_site_packages=True, dist_info_name="App")}


def decisions(options: PlanOptions) -> dict[str, tuple[object, ...]]:
    ctx = plan_module._context(CLOSURE, FACTS, options)  # noqa: SLF001
    wheels = group(ctx)
    out: dict[str, tuple[object, ...]] = {}
    for record in RECORDS:
        d = decide(record, ctx, wheels)
        out[record.name] = (d.node_class.value, d.becomes.value, d.wheels, d.requirement, *d.notes)
    return out


def test_every_outcome_of_a_split_plan_with_the_runtime_bundled() -> None:
    assert decisions(PlanOptions(fat=False, runtime="bundle")) == {
        "app": ("root", "wheel", ("App",), None),
        "libapp": ("native", "wheel", ("libapp-conda",), None),
        "libgcc-ng": ("native", "merged", ("libapp-conda",), None),
        "six": ("python", "requirement", (), "six>=1.0"),
        "helper": (
            "python",
            "dropped",
            (),
            None,
            "needed only by six; pip installs it through their own requirements",
        ),
        "libonly": (
            "native",
            "dropped",
            (),
            None,
            (
                "needed only by six: a python dependency brings its own copy from PyPI, the "
                "target system provides what a system package needs"
            ),
        ),
        "python_abi": ("system", "dropped", (), None),
    }


def test_a_fat_wheel_takes_the_natives_its_root_reaches() -> None:
    ctx = plan_module._context(CLOSURE, FACTS, PlanOptions(fat=True))  # noqa: SLF001
    wheels = group(ctx)
    assert dict(wheels.members) == {"App": ("app", "libapp")}
    assert dict(wheels.owners) == {"app": ("App",), "libapp": ("App",)}
    assert wheels.requirements["App"].lines == ("six>=1.0",)
    assert decisions(PlanOptions(fat=True))["libgcc-ng"] == ("system", "dropped", (), None)

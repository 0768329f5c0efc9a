"""The plan stage is pure: closures are built here, no solver, no archive."""

from __future__ import annotations

from dataclasses import replace

import pytest

from condapress.model import (
    Becomes,
    CondaRecord,
    NoArch,
    NodeClass,
    PackageFacts,
    PlanOptions,
)
from condapress.plan import plan
from support.factories import closure, package_facts, record

SYSTEM = (
    record("_libgcc_mutex", "0.1", "conda_forge"),
    record("_openmp_mutex", "4.5", "2_gnu", "_libgcc_mutex 0.1 conda_forge", "libgomp >=7.5.0"),
    record("libgomp", "13.2.0", "h807b86a_5", "_libgcc_mutex 0.1 conda_forge"),
    record(
        "libgcc-ng", "13.2.0", "h807b86a_5", "_libgcc_mutex 0.1 conda_forge", "_openmp_mutex >=4.5"
    ),
    record("libstdcxx-ng", "13.2.0", "h7e041cc_5", "libgcc-ng 13.2.0 h807b86a_5"),
    record("python_abi", "3.11", "4_cp311"),
)

PYGREET = (
    *SYSTEM,
    record("libgreet", "1.0.0", "h1234567_0", "libgcc-ng >=12"),
    record(
        "libgreetpp",
        "1.0.0",
        "h7654321_0",
        "libgreet >=1.0.0,<2.0a0",
        "libgcc-ng >=12",
        "libstdcxx-ng >=12",
    ),
    record(
        "pygreet",
        "1.0.0",
        "py311habcdef0_0",
        "libgcc-ng >=12",
        "libstdcxx-ng >=12",
        "libgreetpp >=1.0.0,<2.0a0",
        "python >=3.11,<3.12.0a0",
        "python_abi 3.11.* *_cp311",
        "salutation-python >=1.2",
    ),
    record("salutation-python", "1.2.0", "pyhd8ed1ab_0", "python >=3.8", noarch=NoArch.PYTHON),
)


def summary(
    specs: tuple[str, ...], fat: bool, **kw: str
) -> dict[str, tuple[str, str, tuple[str, ...], str | None]]:
    the_plan = plan(closure(PYGREET, *specs), FACTS, PlanOptions(fat=fat, **kw))  # type: ignore[arg-type]
    return {
        d.record.name: (d.node_class.value, d.becomes.value, d.wheels, d.requirement)
        for d in the_plan.decisions
    }


FACTS = {
    "pygreet": package_facts("pygreet", "pygreet"),
    "salutation-python": package_facts("salutation-python", "salutation"),
    "libgreet": package_facts("libgreet"),
    "libgreetpp": package_facts("libgreetpp"),
}


def test_fat_plan_merges_natives_and_drops_system() -> None:
    assert summary(("pygreet",), fat=True) == {
        "_libgcc_mutex": ("system", "dropped", (), None),
        "_openmp_mutex": ("system", "dropped", (), None),
        "libgcc-ng": ("system", "dropped", (), None),
        "libgomp": ("system", "dropped", (), None),
        "libgreet": ("native", "merged", ("pygreet",), None),
        "libgreetpp": ("native", "merged", ("pygreet",), None),
        "libstdcxx-ng": ("system", "dropped", (), None),
        "pygreet": ("root", "wheel", ("pygreet",), None),
        "python_abi": ("system", "dropped", (), None),
        "salutation-python": ("python", "requirement", (), "salutation>=1.2"),
    }


def test_split_plan_gives_each_native_its_own_wheel_pinned_exactly() -> None:
    the_plan = plan(closure(PYGREET, "pygreet"), FACTS, PlanOptions(fat=False))
    assert {(w.distribution, w.members, w.requires_dist) for w in the_plan.wheels} == {
        ("pygreet", ("pygreet",), ("libgreetpp-conda==1.0.0", "salutation>=1.2")),
        ("libgreetpp-conda", ("libgreetpp",), ("libgreet-conda==1.0.0",)),
        ("libgreet-conda", ("libgreet",), ()),
    }
    assert the_plan.decision("libgreet").becomes is Becomes.WHEEL


def test_bundle_runtime_merges_the_compiler_runtime() -> None:
    got = summary(("pygreet",), fat=True, runtime="bundle")
    assert got["libstdcxx-ng"] == ("native", "merged", ("pygreet",), None)
    assert got["libgcc-ng"] == ("native", "merged", ("pygreet",), None)
    # only the _openmp_mutex marker needs libgomp here; nothing in the wheel links it
    assert got["libgomp"] == ("native", "dropped", (), None)
    assert got["_openmp_mutex"] == ("system", "dropped", (), None)


def test_split_bundle_grafts_the_runtime_into_each_wheel_that_reaches_it() -> None:
    the_plan = plan(closure(PYGREET, "pygreet"), FACTS, PlanOptions(runtime="bundle"))
    assert {(w.distribution, w.members, w.requires_dist) for w in the_plan.wheels} == {
        (
            "pygreet",
            ("pygreet", "libgcc-ng", "libstdcxx-ng"),
            ("libgreetpp-conda==1.0.0", "salutation>=1.2"),
        ),
        (
            "libgreetpp-conda",
            ("libgreetpp", "libgcc-ng", "libstdcxx-ng"),
            ("libgreet-conda==1.0.0",),
        ),
        ("libgreet-conda", ("libgreet", "libgcc-ng"), ()),
    }
    decision = the_plan.decision("libstdcxx-ng")
    assert (decision.becomes, decision.wheels) == (Becomes.MERGED, ("pygreet", "libgreetpp-conda"))


def test_native_root_gets_a_name_that_cannot_mean_something_else_on_pypi() -> None:
    the_plan = plan(closure(PYGREET, "libgreetpp"), FACTS, PlanOptions(fat=True))
    assert [(w.distribution, w.members) for w in the_plan.wheels] == [
        ("libgreetpp-conda", ("libgreetpp", "libgreet"))
    ]


def test_native_reached_only_through_a_python_dependency_is_dropped() -> None:
    records = (
        *SYSTEM,
        record("yaml", "0.2.5", "h7f98852_2", "libgcc-ng >=9.4.0"),
        record(
            "pyyaml",
            "6.0.1",
            "py311h2372a71_1",
            "python_abi 3.11.* *_cp311",
            "yaml >=0.2.5,<0.3.0a0",
        ),
        record("tool", "1.0", "py_0", "python", "pyyaml >=6"),
    )
    facts = {"tool": package_facts("tool", "tool")}
    the_plan = plan(closure(records, "tool"), facts, PlanOptions(fat=True))
    yaml = the_plan.decision("yaml")
    assert (yaml.node_class, yaml.becomes) == (NodeClass.NATIVE, Becomes.DROPPED)
    assert yaml.notes == (
        (
            "needed only by pyyaml: a python dependency brings its own copy from PyPI, "
            "the target system provides what a system package needs"
        ),
    )
    pyyaml = the_plan.decision("pyyaml")
    assert pyyaml.requirement == "PyYAML>=6"
    assert (pyyaml.name_source, pyyaml.name_verified) == ("table", False)
    assert pyyaml.reason == (
        "depends on python_abi (archive not read: not checked against paths.json)"
    )


def test_package_that_depends_on_python_but_has_no_python_files_is_native() -> None:
    records = (
        *SYSTEM,
        record("libarrow", "16.0", "h1_0", "python >=3.11", "libstdcxx-ng >=12"),
        record("pyarrow", "16.0", "py311h2_0", "libarrow 16.0 h1_0", "python_abi 3.11.* *_cp311"),
    )
    facts = {
        "libarrow": package_facts("libarrow"),
        "pyarrow": package_facts("pyarrow", "pyarrow"),
    }
    the_plan = plan(closure(records, "pyarrow"), facts, PlanOptions(fat=True))
    arrow = the_plan.decision("libarrow")
    assert (arrow.node_class, arrow.becomes, arrow.wheels) == (
        NodeClass.NATIVE,
        Becomes.MERGED,
        ("pyarrow",),
    )
    assert (
        arrow.reason == "depends on python, but installs nothing under site-packages (paths.json)"
    )


def test_unknown_python_dependency_is_marked_unverified() -> None:
    records = (
        *SYSTEM,
        record("msgpack-python", "1.0.8", "py311h1_0", "python_abi 3.11.* *_cp311"),
        record("obscure-thing", "2.1", "pyhd_0", "python >=3.8", noarch=NoArch.PYTHON),
        record(
            "app",
            "1.0",
            "py311h3_0",
            "python_abi 3.11.* *_cp311",
            "msgpack-python 1.0.*",
            "obscure-thing >=2|<1",
        ),
    )
    the_plan = plan(closure(records, "app"), {}, PlanOptions(fat=True))
    msgpack = the_plan.decision("msgpack-python")
    assert (msgpack.requirement, msgpack.name_source, msgpack.name_verified) == (
        "msgpack==1.0.*",
        "table",
        False,
    )
    obscure = the_plan.decision("obscure-thing")
    assert (obscure.pypi_name, obscure.name_source, obscure.name_verified) == (
        "obscure-thing",
        "conda-name",
        False,
    )
    assert obscure.requirement == "obscure-thing"
    assert obscure.notes == ("widened '>=2|<1' to any version (PEP 440 has no 'or')",)


@pytest.mark.parametrize(
    "name",
    [
        "python_abi",
        "_libgcc_mutex",
        "__glibc",
        "ld_impl_linux-64",
        "sysroot_linux-64",
        "kernel-headers_linux-64",
        "pip",
    ],
)
def test_system_names_never_become_requirements(name: str) -> None:
    records = (
        record(name, "1.0", "0"),
        record("app", "1.0", "py311h3_0", "python_abi 3.11.* *_cp311", f"{name} >=1"),
    )
    the_plan = plan(closure(records, "app"), {}, PlanOptions(fat=True))
    decision = the_plan.decision(name)
    assert (decision.node_class, decision.becomes) == (NodeClass.SYSTEM, Becomes.DROPPED)
    assert the_plan.wheels[0].requires_dist == ()


# -- Requires-Dist: the package's own METADATA merged with conda's dependencies ----------------

RUAMEL = (
    *SYSTEM,
    record("ruamel.yaml.clib", "0.2.8", "py311h2372a71_0", "python_abi 3.11.* *_cp311"),
    record(
        "ruamel.yaml",
        "0.18.6",
        "py311h2372a71_0",
        "python_abi 3.11.* *_cp311",
        "ruamel.yaml.clib >=0.1.2",
    ),
)
RUAMEL_OWN = (
    (
        'ruamel.yaml.clib >=0.2.7 ; platform_python_implementation=="CPython" and '
        'python_version<"3.13"'
    ),
    "ryd ; extra == 'docs'",
    "mercurial >5.7 ; extra == 'docs'",
    "ruamel.yaml.jinja2 >=0.2 ; extra == 'jinja2'",
)


def own(name: str, *requires: str, dist_info_name: str | None = None) -> PackageFacts:
    """Facts of a package whose own METADATA has these Requires-Dist lines."""
    return package_facts(name, dist_info_name or name, requires_dist=requires)


def test_own_markers_and_extras_stay_and_conda_narrows_the_lines_that_apply() -> None:
    facts = {
        "ruamel.yaml": own("ruamel.yaml", *RUAMEL_OWN),
        "ruamel.yaml.clib": own("ruamel.yaml.clib"),
    }
    the_plan = plan(closure(RUAMEL, "ruamel.yaml"), facts, PlanOptions(fat=True))
    assert the_plan.wheels[0].requires_dist == (
        'mercurial>5.7; extra == "docs"',
        (
            'ruamel.yaml.clib>=0.2.7; platform_python_implementation == "CPython" and '
            'python_version < "3.13"'
        ),
        'ruamel.yaml.jinja2>=0.2; extra == "jinja2"',
        'ryd; extra == "docs"',
    )
    clib = the_plan.decision("ruamel.yaml.clib")
    assert clib.requirement == the_plan.wheels[0].requires_dist[1]
    assert clib.notes == ()


def test_a_line_for_another_platform_keeps_its_marker_though_conda_resolved_it() -> None:
    # conda-forge's generic click build depends on colorama on every platform
    records = (
        record("colorama", "0.4.6", "pyhd8ed1ab_0", "python >=3.7", noarch=NoArch.PYTHON),
        record("click", "8.1.7", "win_pyh7428d3b_0", "colorama", noarch=NoArch.PYTHON),
    )
    own_lines = (
        'colorama ; platform_system == "Windows"',
        'importlib-metadata ; python_version < "3.8"',
    )
    facts = {"click": own("click", *own_lines), "colorama": own("colorama")}
    the_plan = plan(closure(records, "click"), facts, PlanOptions(fat=True))
    assert the_plan.wheels[0].requires_dist == (
        'colorama; platform_system == "Windows"',
        'importlib-metadata; python_version < "3.8"',
    )
    colorama = the_plan.decision("colorama")
    assert colorama.requirement == 'colorama; platform_system == "Windows"'
    assert colorama.notes == (
        (
            """'colorama; platform_system == "Windows"' does not apply to the target: """
            "kept as the package's own METADATA has it"
        ),
    )


def test_a_line_for_the_target_gets_conda_constraint_on_windows() -> None:
    records = (
        record("colorama", "0.4.6", "pyhd8ed1ab_0", "python >=3.7", noarch=NoArch.PYTHON),
        record("click", "8.1.7", "win_pyh7428d3b_0", "colorama >=0.4", noarch=NoArch.PYTHON),
    )
    facts = {"click": own("click", 'colorama ; platform_system == "Windows"')}
    windows = closure(records, "click", subdir="win-64", channels=("conda-forge",))
    the_plan = plan(windows, facts, PlanOptions(fat=True))
    assert the_plan.wheels[0].requires_dist == ('colorama>=0.4; platform_system == "Windows"',)


def test_conda_wins_where_the_closure_left_the_own_specifier() -> None:
    records = (
        record("attrs", "23.2.0", "pyh71513ae_0", "python >=3.7", noarch=NoArch.PYTHON),
        record("tool", "1.0", "pyhd8ed1ab_0", "attrs >=22", noarch=NoArch.PYTHON),
    )
    facts = {"tool": own("tool", "attrs<23")}
    the_plan = plan(closure(records, "tool"), facts, PlanOptions(fat=True))
    assert the_plan.wheels[0].requires_dist == ("attrs>=22",)
    assert the_plan.decision("attrs").notes == (
        (
            "the closure holds 23.2.0, outside '<23' of the package's own METADATA: conda's "
            "constraint replaces it"
        ),
    )


def test_lines_per_python_and_conda_only_dependencies() -> None:
    records = (
        record("numpy", "1.26.4", "py311h64a7726_0", "python_abi 3.11.* *_cp311"),
        record("setuptools", "69.0", "pyhd8ed1ab_0", "python >=3.8", noarch=NoArch.PYTHON),
        record(
            "tool",
            "1.0",
            "py311h1_0",
            "python_abi 3.11.* *_cp311",
            "numpy >=1.23.5,<2.0a0",
            "setuptools",
        ),
    )
    facts = {
        "tool": own(
            "tool",
            'numpy>=1.22; python_version<"3.11"',
            'numpy>=1.23.2; python_version>="3.11"',
            "not a requirement !",
            "pkg @ https://example.org/pkg.whl",
        ),
        "numpy": own("numpy"),
    }
    the_plan = plan(closure(records, "tool"), facts, PlanOptions(fat=True))
    assert the_plan.wheels[0].requires_dist == (
        'numpy<2.0a0,>=1.23.5; python_version >= "3.11"',
        'numpy>=1.22; python_version < "3.11"',
        "setuptools",
    )
    numpy = the_plan.decision("numpy")
    assert numpy.requirement == 'numpy<2.0a0,>=1.23.5; python_version >= "3.11"'
    assert numpy.notes[-1] == """also Requires-Dist: numpy>=1.22; python_version < "3.11\""""
    assert the_plan.decision("tool").notes == (
        (
            "left out Requires-Dist 'not a requirement !' of its own METADATA: not a PEP 508 "
            "requirement"
        ),
        (
            "left out Requires-Dist 'pkg @ https://example.org/pkg.whl' of its own METADATA: PyPI "
            "refuses direct references"
        ),
    )


def test_split_pin_and_own_line_merge_into_the_pin() -> None:
    facts = {**FACTS, "pygreet": own("pygreet", "salutation>=1.2")}
    the_plan = plan(closure(PYGREET, "pygreet", "salutation-python"), facts, PlanOptions(fat=False))
    assert the_plan.wheels[0].requires_dist == ("libgreetpp-conda==1.0.0", "salutation==1.2.0")


def test_a_package_without_own_requirements_gets_conda_lines_only() -> None:
    facts = {**FACTS, "pygreet": own("pygreet")}
    the_plan = plan(closure(PYGREET, "pygreet"), facts, PlanOptions(fat=True))
    # its own METADATA names no salutation: conda's dependency is added all the same
    assert the_plan.wheels[0].requires_dist == ("salutation>=1.2",)


def test_macos_libcxx_is_grafted_where_a_binary_needs_it_whatever_the_runtime_policy() -> None:
    def osx(name: str, build: str, *depends: str) -> CondaRecord:
        return CondaRecord(name, "1.0", build, 0, "osx-arm64", depends)

    records = (
        osx("libcxx", "h0_0"),
        osx("lz4-c", "h1_0", "libcxx >=14"),
        osx("brotli-python", "py311h2_0", "libcxx >=15", "python >=3.11,<3.12.0a0"),
    )
    facts = {"brotli-python": PackageFacts("brotli-python", has_site_packages=True)}
    the_closure = replace(closure(records, "brotli-python", "lz4-c"), subdir="osx-arm64")
    the_plan = plan(the_closure, facts, PlanOptions(runtime="system"))
    libcxx = the_plan.decision("libcxx")
    assert (libcxx.node_class, libcxx.becomes, libcxx.reason) == (
        NodeClass.NATIVE,
        Becomes.MERGED,
        "compiler runtime of macOS builds: bundled where a binary needs it",
    )
    assert libcxx.wheels == ("Brotli", "lz4-c-conda")
    assert the_plan.grafted == frozenset({"libcxx"})
    # on Linux, a package of that name is an ordinary native library
    linux = plan(closure(tuple(replace(r, subdir="linux-64") for r in records), "lz4-c"))
    assert linux.grafted == frozenset()
    assert linux.decision("libcxx").becomes is Becomes.WHEEL


def test_dependency_graph_walks_as_networkx_does() -> None:
    """networkx (kept for ``--graph``) is the oracle of the plan's own graph walk."""
    import networkx as nx

    from condapress.plan import build_graph

    records = (
        *PYGREET,
        record("liba", "1", "0", "libc", "libb", "libc >=1", "liba"),
        record("libb", "1", "0", "libc", "libd"),
        record("libc", "1", "0", "libb"),
        record("libd", "1", "0"),
    )
    graph = build_graph(closure(records, "pygreet"))
    oracle: nx.DiGraph[str] = nx.DiGraph()
    oracle.add_nodes_from(rec.name for rec in records)
    oracle.add_edges_from(graph.edges())
    assert sorted(graph.edges()) == sorted(oracle.edges())
    assert dict(graph.out_edges("liba")) == {"libc": "libc >=1", "libb": "libb"}
    for name in graph:
        assert list(graph.successors(name)) == list(oracle.successors(name))
        assert sorted(graph.predecessors(name)) == sorted(oracle.predecessors(name))
        for within in (lambda _: True, lambda n: n.startswith("lib")):
            kept = oracle.subgraph(n for n in oracle if n == name or within(n))
            assert graph.preorder(name, within) == list(nx.dfs_preorder_nodes(kept, name))

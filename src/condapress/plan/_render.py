"""Render a plan for people (a table), for programs (versioned JSON) and for Graphviz (DOT)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from condapress.model import Becomes, NodeClass

if TYPE_CHECKING:
    from condapress.model import PackageDecision, WheelPlan

__all__ = ["PLAN_SCHEMA_VERSION", "plan_document", "plan_dot", "plan_table"]

#: Bumped on every incompatible change of the ``plan --json`` document.
PLAN_SCHEMA_VERSION = 1

_COLOURS = {
    NodeClass.ROOT: "gold",
    NodeClass.PYTHON: "lightblue",
    NodeClass.NATIVE: "palegreen",
    NodeClass.SYSTEM: "lightgrey",
}


def _becomes_text(dec: PackageDecision) -> str:
    match dec.becomes:
        case Becomes.MERGED:
            return "merged into " + ", ".join(dec.wheels)
        case Becomes.WHEEL:
            return "wheel " + ", ".join(dec.wheels)
        case Becomes.REQUIREMENT:
            mark = "" if dec.name_verified else f" (name unverified: from {dec.name_source})"
            return f"Requires-Dist: {dec.requirement}{mark}"
        case Becomes.DROPPED:
            return "dropped"


def plan_table(plan: WheelPlan) -> str:
    """The plan as a plain-text table, one package a line, then the wheels."""
    closure = plan.closure
    head = (
        f"plan for {' '.join(closure.specs)}: python {closure.python}, {closure.subdir}, "
        f"{'fat' if plan.fat else 'split'}, runtime {plan.runtime}"
    )
    rows = [("package", "class", "becomes", "why")]
    rows += [
        (
            dec.record.dist,
            dec.node_class.value,
            _becomes_text(dec),
            "; ".join((dec.reason, *dec.notes)),
        )
        for dec in plan.decisions
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [head, ""]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    ]
    lines.append("")
    for wheel in plan.wheels:
        lines.append(f"wheel {wheel.distribution} {wheel.version}: {' + '.join(wheel.members)}")
        lines.extend(f"  Requires-Dist: {req}" for req in wheel.requires_dist)
    if plan.controls:
        lines.append("")
    for control in plan.controls:
        value = f" {control.value}" if control.value else ""
        lines.append(f"--{control.option}{value}: {control.reason}")
    return "\n".join(lines).rstrip() + "\n"


def plan_document(plan: WheelPlan) -> dict[str, Any]:
    """The plan as the versioned JSON document described by ``data/plan-schema.json``."""
    closure = plan.closure
    return {
        "version": PLAN_SCHEMA_VERSION,
        "specs": list(closure.specs),
        "python": closure.python,
        "subdir": closure.subdir,
        "channels": list(closure.channels),
        "fat": plan.fat,
        "runtime": plan.runtime,
        "packages": [
            {
                "name": dec.record.name,
                "version": dec.record.version,
                "build": dec.record.build,
                "channel": dec.record.channel,
                "class": dec.node_class.value,
                "reason": dec.reason,
                "becomes": dec.becomes.value,
                "wheels": list(dec.wheels),
                "requirement": dec.requirement,
                "pypi_name": dec.pypi_name,
                "name_source": dec.name_source,
                "name_verified": dec.name_verified,
                "notes": list(dec.notes),
                "depends": sorted(b for a, b in plan.edges if a == dec.record.name),
            }
            for dec in plan.decisions
        ],
        "wheels": [
            {
                "distribution": wheel.distribution,
                "version": wheel.version,
                "members": list(wheel.members),
                "requires_dist": list(wheel.requires_dist),
                "wheel_dependencies": list(wheel.wheel_dependencies),
            }
            for wheel in plan.wheels
        ],
        "controls": [
            {"option": c.option, "value": c.value, "reason": c.reason} for c in plan.controls
        ],
    }


def plan_dot(plan: WheelPlan) -> str:
    """The plan graph in Graphviz DOT: nodes coloured by class, dropped nodes dashed."""
    import networkx as nx  # noqa: PLC0415
    from networkx.drawing.nx_pydot import to_pydot  # noqa: PLC0415

    graph: nx.DiGraph[str] = nx.DiGraph(name="condapress_plan")
    for dec in plan.decisions:
        graph.add_node(
            dec.record.name,
            label=f'"{dec.record.dist}\\n{dec.node_class.value}: {dec.becomes.value}"',
            style='"filled,dashed"' if dec.becomes is Becomes.DROPPED else "filled",
            fillcolor=_COLOURS[dec.node_class],
            shape="box",
        )
    graph.add_edges_from(plan.edges)
    return str(to_pydot(graph).to_string())

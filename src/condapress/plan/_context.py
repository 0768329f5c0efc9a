"""What every step of one plan reads, gathered once by :func:`condapress.plan.plan`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from condapress.model import NodeClass

if TYPE_CHECKING:
    from collections.abc import Mapping

    from condapress.model import CondaRecord, NameSource, PackageFacts, PlanOptions
    from condapress.plan._classify import Classified
    from condapress.plan._graph import DependencyGraph

__all__ = ["PlanContext"]


@dataclass(frozen=True, slots=True)
class PlanContext:
    """The closure as the plan sees it: its graph, every package's class and name, the options."""

    #: the dependency graph (:func:`condapress.plan.build_graph`); each node holds its ``record``.
    graph: DependencyGraph
    #: every package's class and why, by conda name.
    classes: Mapping[str, Classified]
    #: every package's PyPI name and where that name came from, by conda name.
    names: Mapping[str, tuple[str, NameSource]]
    #: what the archives read say, by conda name (see :func:`condapress.plan.facts_wanted`).
    facts: Mapping[str, PackageFacts]
    #: the requested packages, in the order asked.
    roots: tuple[str, ...]
    #: fat or split, the compiler-runtime policy and the name of a native's wheel.
    options: PlanOptions
    #: the compiler runtime under ``--runtime bundle``: grafted into each wheel whose binaries
    #: need it, never a wheel of its own (such a wheel would hold only what its users need).
    runtime: frozenset[str]
    #: the PEP 508 marker environment of the target.
    environment: Mapping[str, str]
    #: the PyPI name each package renamed by ``--rename`` had before, by conda name.
    renamed_from: Mapping[str, str] = field(default_factory=dict)

    def record(self, name: str) -> CondaRecord:
        """The record of package *name*."""
        return self.graph.records[name]

    def is_native(self, name: str) -> bool:
        """Whether *name* is a native package that is not a root (one a root's wheel may take)."""
        return self.classes[name].node_class is NodeClass.NATIVE and name not in self.roots

    def needed_by(self, name: str) -> str:
        """The packages that depend on *name*, in words."""
        return ", ".join(sorted(self.graph.predecessors(name))) or "nothing in the closure"

"""Give every package of a closure its class (python, native or system) and the reason why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from condapress.model import NoArch, NodeClass
from condapress.plan._tables import system_packages

if TYPE_CHECKING:
    from condapress.model import CondaRecord, PackageFacts, PlanOptions

__all__ = ["Classified", "classify", "python_hint"]

# conda-build names python builds py310h..., pyh..., py_0 (old noarch); a hint, never proof.
_PYTHON_BUILD_RE = re.compile(r"^py(\d+|h|_)")


@dataclass(frozen=True, slots=True)
class Classified:
    """The class one package got, and why, in words."""

    #: PYTHON, NATIVE or SYSTEM (ROOT is the decision's, not the class's).
    node_class: NodeClass
    #: why, e.g. ``noarch: python`` or ``provided by the target interpreter or platform``.
    reason: str


def classify(rec: CondaRecord, facts: PackageFacts | None, options: PlanOptions) -> Classified:
    """The class of package *rec*, from its name, record and (if read) its archive's paths.

    :param facts: what its archive says; None when it was not read (see ``facts_wanted``).
    :param options: ``runtime`` decides whether the compiler runtime is system or native.
    """
    tables = system_packages()
    if tables.provides(rec.name):
        return Classified(NodeClass.SYSTEM, "provided by the target interpreter or platform")
    if rec.subdir.startswith("osx-") and rec.name in tables.runtime_osx:
        # Conda's macOS builds load it by @rpath (conda-forge's libc++ is newer than the one
        # in /usr/lib, and its builds rely on that): no macOS has it, whatever --runtime says.
        return Classified(
            NodeClass.NATIVE, "compiler runtime of macOS builds: bundled where a binary needs it"
        )
    if rec.name in tables.runtime:
        if options.runtime == "system":
            return Classified(
                NodeClass.SYSTEM,
                "compiler runtime: the target system's copy is used (--runtime system)",
            )
        return Classified(
            NodeClass.NATIVE, "compiler runtime, bundled under mangled names (--runtime bundle)"
        )
    if rec.noarch is NoArch.PYTHON:
        return Classified(NodeClass.PYTHON, "noarch: python")
    seen = facts.has_site_packages if facts is not None else None
    if seen is True:
        return Classified(NodeClass.PYTHON, "installs files under site-packages (paths.json)")
    hint = python_hint(rec)
    if hint is None:
        return Classified(NodeClass.NATIVE, "no python dependency and no python files")
    if seen is False:
        return Classified(
            NodeClass.NATIVE, f"{hint}, but installs nothing under site-packages (paths.json)"
        )
    return Classified(
        NodeClass.PYTHON, f"{hint} (archive not read: not checked against paths.json)"
    )


def python_hint(rec: CondaRecord) -> str | None:
    """Why *rec* looks like a python package from its record alone; None when it does not.

    >>> from condapress.model import CondaRecord
    >>> python_hint(CondaRecord("six", "1.16.0", "pyhd8ed1ab_0", 0, "noarch", ()))
    "python build string 'pyhd8ed1ab_0'"
    >>> python_hint(CondaRecord("zlib", "1.3", "h4ab18f5_0", 0, "linux-64", ())) is None
    True
    """
    for dep in rec.depends:
        name = dep.split(maxsplit=1)[0]
        if name in ("python", "python_abi"):
            return f"depends on {name}"
    if _PYTHON_BUILD_RE.match(rec.build):
        return f"python build string '{rec.build}'"
    return None

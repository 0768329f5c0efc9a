"""The package-data tables the plan reads: the system packages and the conda -> PyPI names.

Both are JSON in ``condapress/data`` (data, not code), read once and kept as frozen dataclasses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["PypiNames", "SystemPackages", "pypi_names", "system_packages"]


@dataclass(frozen=True, slots=True)
class SystemPackages:
    """The conda packages the target interpreter or platform provides (``system_packages.json``).

    >>> table = system_packages()
    >>> table.provides("python_abi"), table.provides("__glibc"), table.provides("libgcc-ng")
    (True, True, False)
    >>> "libgcc-ng" in table.runtime
    True
    """

    #: packages provided under their exact name: ``python``, ``pip``, ``_libgcc_mutex``...
    names: frozenset[str]
    #: name prefixes of provided packages: ``__`` (virtual packages), ``sysroot_``...
    prefixes: tuple[str, ...]
    #: the compiler runtime (``libgcc-ng``, ``libstdcxx-ng``, ``libgomp``...): provided by the
    #: target under ``--runtime system``, bundled under ``--runtime bundle``.
    runtime: frozenset[str]
    #: the C++ and OpenMP runtime of conda's macOS builds (``libcxx``, ``llvm-openmp``): no
    #: macOS has the copy they need, so they are bundled where a binary needs them.
    runtime_osx: frozenset[str] = frozenset()

    def provides(self, name: str) -> bool:
        """Whether the target always provides conda package *name* (the runtime aside)."""
        return name in self.names or name.startswith(self.prefixes)


@dataclass(frozen=True, slots=True)
class PypiNames:
    """conda names whose PyPI distribution is named otherwise (``conda_to_pypi.json``).

    >>> pypi_names().get("pyyaml"), pypi_names().get("numpy")
    ('PyYAML', None)
    """

    #: conda name -> PyPI name.
    names: Mapping[str, str]

    def get(self, conda_name: str) -> str | None:
        """The PyPI name the table gives conda package *conda_name*; None when it has none."""
        return self.names.get(conda_name)


@cache
def system_packages() -> SystemPackages:
    """The table of system packages, read once from the package data."""
    data = _read("system_packages.json")
    return SystemPackages(
        names=frozenset(data["names"]),
        prefixes=tuple(data["prefixes"]),
        runtime=frozenset(data["runtime"]),
        runtime_osx=frozenset(data["runtime_osx"]),
    )


@cache
def pypi_names() -> PypiNames:
    """The table of conda -> PyPI names, read once from the package data."""
    return PypiNames(names=MappingProxyType(dict(_read("conda_to_pypi.json")["names"])))


def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (resources.files("condapress") / "data" / name).read_text(encoding="utf-8")
    )
    return data

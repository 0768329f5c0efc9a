"""condapress: press conda packages into wheels that pip installs and PyPI accepts.

The command line is the main interface; the same pipeline is a library::

    from pathlib import Path
    from condapress import PressOptions, SolveRequest, press
    from condapress.model import PlanOptions

    result = press(
        SolveRequest(specs=("pygreet",), channels=("channels_fixture",), python="3.11"),
        PressOptions(plan=PlanOptions(fat=True), output_dir=Path("wheelhouse")),
    )
    for wheel in result.wheels:
        print(wheel.path, wheel.tags)

Every failure a user can cause is a :class:`CondapressError` with a ``message`` and a ``hint``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from condapress.errors import CondapressError

if TYPE_CHECKING:
    from condapress._core import make_plan, press
    from condapress.model import PressOptions, PressResult, SolveRequest, WheelPlan

__all__ = [
    "CondapressError",
    "PressOptions",
    "PressResult",
    "SolveRequest",
    "WheelPlan",
    "__version__",
    "make_plan",
    "press",
]

# Loaded on first use: the pipeline imports py-rattler and pyelftools, which 'condapress --help'
# and 'condapress --version' do not need.
_LAZY = {
    "PressOptions": "condapress.model",
    "make_plan": "condapress._core",
    "press": "condapress._core",
    "PressResult": "condapress.model",
    "WheelPlan": "condapress.model",
    "SolveRequest": "condapress.model",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whatever the named module defines
    if name == "__version__":
        return _version()
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'condapress' has no attribute {name!r}")


def _version() -> str:
    # importlib.metadata takes longer to import than 'condapress plan' takes to solve
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("condapress")
    except PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
        return "0.0.0"


def __dir__() -> list[str]:
    return __all__

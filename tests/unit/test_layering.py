"""The layout's rules, read from the source: stages import no other stage, no bare base error,
a docstring on every public function of a stage package's entry module.

docs/architecture.md states these rules; these tests keep them true as code is added.
"""

from __future__ import annotations

import ast
from pathlib import Path

import condapress

SRC = Path(condapress.__file__).parent

#: The stages of the press, each a package (or module) of its own; docs/architecture.md.
STAGES = ("solve", "plan", "unpack", "relocate", "retag", "assemble", "audit", "smoke")


def _stage_of(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def _imported_top_names(tree: ast.Module) -> set[str]:
    """The first name under ``condapress.`` of every absolute import of *tree*."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "condapress":
                continue
            if len(parts) > 1:
                names.add(parts[1])
            else:
                names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "condapress" and len(parts) > 1:
                    names.add(parts[1])
    return names


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_stage_imports_another_stage() -> None:
    crossings = [
        f"{path.relative_to(SRC)} imports condapress.{name}"
        for path in _sources()
        if _stage_of(path) in STAGES
        for name in sorted(_imported_top_names(ast.parse(path.read_text())))
        if name in STAGES and name != _stage_of(path)
    ]
    assert crossings == []


def _raises_base_error(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Raise)
        and isinstance(node.exc, ast.Call)
        and isinstance(node.exc.func, ast.Name)
        and node.exc.func.id == "CondapressError"
    )


def test_no_code_raises_the_bare_base_error() -> None:
    raising = [
        f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}"
        for path in _sources()
        for node in ast.walk(ast.parse(path.read_text()))
        if _raises_base_error(node)
    ]
    assert raising == []


def _entry_module(stage: str) -> Path:
    package = SRC / stage / "__init__.py"
    return package if package.exists() else SRC / f"{stage}.py"


def test_every_public_function_of_a_stage_entry_module_has_a_docstring() -> None:
    undocumented = [
        f"{_entry_module(stage).relative_to(SRC)}:{node.name}"
        for stage in STAGES
        for node in ast.parse(_entry_module(stage).read_text()).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
        and not ast.get_docstring(node)
    ]
    assert undocumented == []


def test_the_rules_see_every_stage() -> None:
    """The three tests above read real files: every stage named exists where they look."""
    missing = [
        stage
        for stage in STAGES
        if not (SRC / stage / "__init__.py").exists() and not (SRC / f"{stage}.py").exists()
    ]
    assert missing == []

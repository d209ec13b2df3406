"""The house's layering, read from the source: no import cycle inside the engine, the engine
imports no adapter nor any front end, and the domain imports only itself and the stdlib.

Every module under ``bot/`` and ``strategies/`` is parsed with ``ast`` (nothing is imported);
every import counts, at module level, in functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "strategies")
ENGINE_MUST_NOT_IMPORT = ("bot.adapters", "bot.compose", "bot.cli", "bot.devnet", "bot.backtest")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imported(module: str, source: str, *, is_package: bool = False) -> Iterator[str]:
    """Every module ``module`` names in an import statement, resolved to a full dotted name."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one.
                submodule = f"{source}.{alias.name}"
                yield submodule if submodule in MODULES else source


def _graph() -> dict[str, set[str]]:
    return {
        name: set(_imported(name, path.read_text(), is_package=path.name == "__init__.py"))
        for name, path in MODULES.items()
    }


GRAPH = _graph()


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _cycles(nodes: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v] & nodes):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in GRAPH[v]:
                found.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_every_kind_of_import():
    """The parser itself: relative, function-level and TYPE_CHECKING imports all count."""
    source = """
from typing import TYPE_CHECKING
from bot.engine import guards
from . import journal
from ..domain.position import Position
if TYPE_CHECKING:
    from bot.engine.executor import Executor

def later():
    import bot.adapters.dryrun
"""
    assert set(_imported("bot.engine.example", source)) == {
        "typing",
        "bot.engine.guards",
        "bot.engine.journal",
        "bot.domain.position",
        "bot.engine.executor",
        "bot.adapters.dryrun",
    }
    assert "bot.engine.steps.base" in GRAPH["bot.engine.steps.outbound"]
    assert "bot.engine.executor" in GRAPH["bot.engine.controller"]


def test_no_import_cycle_among_engine_modules():
    engine = {m for m in GRAPH if _in(m, "bot.engine")}
    assert _cycles(engine) == []


def test_the_executor_and_its_steps_import_each_other_only_one_way():
    """What a step sees (``BatchRun``) lives apart from the executor that builds it."""
    steps = {m for m in GRAPH if _in(m, "bot.engine.steps")}
    assert all("bot.engine.executor" not in GRAPH[m] for m in steps | {"bot.engine.batch_run"})


def _engine_violations() -> list[tuple[str, str]]:
    return sorted(
        (m, target)
        for m, targets in GRAPH.items()
        if _in(m, "bot.engine")
        for target in targets
        if any(_in(target, banned) for banned in ENGINE_MUST_NOT_IMPORT)
    )


def test_the_engine_imports_no_adapter_and_no_front_end():
    assert _engine_violations() == []


def _domain_violations() -> list[tuple[str, str]]:
    stdlib = sys.stdlib_module_names | {"__future__"}
    return sorted(
        (m, target)
        for m, targets in GRAPH.items()
        if _in(m, "bot.domain")
        for target in targets
        if not _in(target, "bot.domain") and target.partition(".")[0] not in stdlib
    )


def test_the_domain_imports_only_itself_and_the_stdlib():
    assert _domain_violations() == []


# ---- step names stay inside the steps package -------------------------------------------------------

STEPS_PACKAGE = "bot.engine.steps"
READERS_OF_STEPS = ("bot.engine", "bot.demo", "bot.cli")
# The same word for another thing: a plan's batch kind and a settings key, not the step.
FALSE_FRIENDS = {("bot.engine.planner", "repay_idle")}


def _step_names() -> set[str]:
    """Read from the package's own source, so this test does not need to import it."""
    names = set()
    for path in (ROOT / "bot" / "engine" / "steps").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.Assign)
                        and [getattr(t, "id", None) for t in stmt.targets] == ["name"]
                        and isinstance(stmt.value, ast.Constant)
                        and stmt.value.value
                    ):
                        names.add(stmt.value.value)
    return names


def test_no_module_outside_the_steps_package_names_a_step():
    names = _step_names()
    assert len(names) == 11  # the CEX legs, verify and the atomic DEX deleverage
    named = sorted(
        (module, node.value)
        for module, path in MODULES.items()
        if any(_in(module, p) for p in READERS_OF_STEPS) and not _in(module, STEPS_PACKAGE)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names and (module, node.value) not in FALSE_FRIENDS
    )
    assert named == []

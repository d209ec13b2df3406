"""The test tree's layout: shared doubles, harnesses and fixtures live in ``tests/support``; no
test module or conftest imports another test module, and ``tests/support`` imports none."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in ``path``; relative imports as their dotted form."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "." * node.level + (node.module or "")))
    return found


def _offences(path: Path) -> list[str]:
    where = path.relative_to(TESTS.parent)
    return [
        f"{where}:{line} imports {module}"
        for line, module in _imported_modules(path)
        if module.startswith(".") or (module.startswith("tests.") and not module.startswith("tests.support"))
    ]


def test_tests_import_shared_code_only_from_tests_support():
    offences = [o for path in sorted(TESTS.rglob("*.py")) for o in _offences(path)]
    assert offences == []


def test_the_root_conftest_loads_the_shared_fixtures_from_tests_support():
    tree = ast.parse((TESTS / "conftest.py").read_text())
    plugins = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytest_plugins" for t in node.targets)
    )
    names = ast.literal_eval(plugins)
    assert names and all(name.startswith("tests.support.") for name in names)
    assert all((TESTS.parent / (name.replace(".", "/") + ".py")).is_file() for name in names)


def test_the_layout_check_sees_relative_and_cross_test_imports(tmp_path):
    bad = tmp_path / "test_bad.py"
    bad.write_text("from .conftest import helper\nimport tests.unit.test_x\nfrom tests.support.fakes import E18\n")
    found = [module for _, module in _imported_modules(bad)]
    assert found == [".conftest", "tests.unit.test_x", "tests.support.fakes"]

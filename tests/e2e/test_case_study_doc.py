"""The case study's tables are what the engine computes today: its generator
(``python -m bot.backtest.case_study``) run again gives the page's tables row for row, so an
engine change that moves the February 2026 numbers cannot leave the page stale.

Run it alone with ``.venv/bin/python -m pytest -m slow tests/e2e/test_case_study_doc.py``.
"""

from __future__ import annotations

import re

import pytest

from bot.backtest import case_study
from bot.backtest.sweep import run_sweep
from tests.support.devnet import ROOT

PAGE = ROOT / "docs" / "case-study-feb-2026.md"


def _tables(markdown: str) -> dict[str, list[str]]:
    """Each ``#### heading``'s table, as its lines."""
    return {m[1]: m[2].splitlines() for m in re.finditer(r"^#### (.+?)\n\n((?:\|.*\n)+)", markdown, re.M)}


@pytest.mark.slow
@pytest.mark.timeout(900)  # 12 backtests of the fund's position
def test_the_case_study_page_shows_what_its_generator_computes() -> None:
    tasks = case_study.tasks()

    generated = _tables(case_study.markdown(run_sweep(tasks, progress=False), tasks))

    page = _tables(PAGE.read_text())
    assert list(generated) == list(case_study.DEPTHS)
    for label, rows in generated.items():
        assert page[label] == rows, (
            f"docs/case-study-feb-2026.md, {label}: regenerate with python -m bot.backtest.case_study"
        )
    base = {row.split(" | ")[0].lstrip("| "): row for row in generated[case_study.RISK_BUDGET_DEPTH]}
    assert {"hindsight", "risk_budget ε 0.5 %", "risk_budget ε 1 %", "risk_budget ε 5 %"} <= set(base)
    assert all(" | no | " in base[name] for name in base if name.startswith("risk_budget"))  # never liquidated

"""What a backtest shows a person: the inputs it assumed, what protection cost apart from the
market's move, and a report whose axes, table and batch list can be read."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.backtest.data import SHIPPED_DIR, Candles
from bot.backtest.present import cell
from bot.backtest.report import HF_AXIS_BOTTOM, clipped_hf, hf_axis_top, price_axis
from bot.cli import app

WINDOW = str(SHIPPED_DIR / "eth_usd_5m_2022-11-08.csv")


def invoke(*args: str):
    return CliRunner().invoke(app, ["backtest", *args])


@pytest.fixture(scope="module")
def run() -> dict:
    result = invoke("--prices", WINDOW, "--collateral", "1000", "--json", "--set", "depth_usd_1pct=5000000")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_json_holds_the_inputs(run: dict):
    inputs = run["inputs"]
    assert list(run)[-1] == "inputs"
    assert inputs["pair"] == "ETH/USDT"
    assert inputs["position"] == {
        "collateral": "1000",
        "collateral_reserve": "WETH",
        "debt": "941494.758621",
        "debt_reserve": "USDT",
        "price": "1644.78",
        "health_factor": "1.4500",
        "liquidation_threshold_bps": 8300,
        "liquidation_bonus_bps": 10500,
    }
    assert inputs["policy"] == {"name": "threshold", "params": {"trigger_hf": "1.4", "target_hf": "1.6"}}
    assert inputs["limits"]["hf_floor"] == "1.10" and inputs["limits"]["max_slippage_bps"] == 100
    assert inputs["market_model"]["depth_usd_1pct"] == 5_000_000.0
    assert inputs["market_model"]["crash_depth_factor"] == 0.4
    assert inputs["simulation"]["deposit_delay_s"] == 300 and inputs["simulation"]["rounding"] == "v3.5"


def test_protection_cost_is_fees_gas_and_execution_apart_from_the_market(run: dict):
    by_name = {row["policy"]: row for row in run["policies"]}
    for row in run["policies"]:
        fees, gas, execution = (Decimal(row[k]) for k in ("fees_usd", "gas_usd", "execution_cost_usd"))
        protection = Decimal(row["protection_cost_usd"])
        assert protection == fees + gas + execution
        # equity vs holding splits into the market's move, the protection and the penalty (± rounding).
        split = Decimal(row["market_drift_usd"]) - protection - Decimal(row["liquidation_penalty_usd"])
        assert abs(Decimal(row["equity_vs_hold_usd"]) - split) <= Decimal("0.02")
    threshold, hold = by_name["threshold"], by_name["do-nothing"]
    assert Decimal(threshold["execution_cost_usd"]) > 0  # the book takes something below the market
    assert Decimal(threshold["protection_cost_usd"]) < Decimal(hold["liquidation_penalty_usd"])
    assert hold["protection_cost_usd"] == "0.00" and hold["liquidated"] is True


def test_the_table_shows_inputs_and_readable_cells():
    result = invoke("--prices", WINDOW, "--collateral", "1000")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "position: 1,000 WETH against 941,494.758621 USDT at 1,644.78 (HF 1.4500" in " ".join(text.split())
    assert "policy: threshold (trigger_hf=1.4, target_hf=1.6)" in text
    assert "None" not in text and "False" not in text and "True" not in text
    assert "protection cost" in text and "equity vs" in text
    assert "hindsight (the least sale that survives the whole path): " in text  # a line, not a column


def test_cells_read_as_words_and_grouped_numbers():
    assert [cell("liquidated", True), cell("liquidated", False), cell("avg_fill_price", None)] == ["yes", "no", "—"]
    assert cell("final_equity_usd", "1234567.50") == "1,234,567.50"
    assert cell("batches", 1200) == "1,200"
    assert cell("first_liquidation", "2022-11-09T21:15:00Z") == "2022-11-09T21:15:00Z"


def test_the_hf_axis_stops_above_the_target_and_lines_run_along_its_edges():
    top = hf_axis_top(1.6, 1.45, 1.4)
    assert top == pytest.approx(2.4)
    assert hf_axis_top(1.6, 3.0, 1.4) == 3.0  # the start HF stays visible
    hf = np.array([1.2, 5_000.0, np.nan, 0.5])  # sell-all's debt gone: huge, then none
    assert clipped_hf(hf, top).tolist() == [1.2, pytest.approx(2.4), pytest.approx(2.4), HF_AXIS_BOTTOM]


def test_the_price_axis_ignores_a_liquidation_price_falling_to_zero():
    ts = np.arange(4, dtype=np.int64) * 60
    p = np.array([1000.0, 990.0, 980.0, 1010.0])
    candles = Candles(ts, p, p + 5, p - 5, p, np.ones(4))
    built = [(None, {"liq": np.array([800.0, 700.0, 0.0, np.nan])})]
    lo, hi = price_axis(candles, built)
    assert 650 < lo < 700 and 1015 < hi < 1030


def test_the_report_lists_batches_inputs_and_a_readable_table(tmp_path: Path):
    folder = tmp_path / "r"
    result = invoke("--prices", WINDOW, "--collateral", "1000", "--report", str(folder))
    assert result.exit_code == 0, result.output
    page = (folder / "report.html").read_text()
    tables = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    tables = tables[: tables.index("<div>") if "<div>" in tables else len(tables)]
    assert "Inputs" in tables and "position: 1,000 WETH against 941,494.758621 USDT" in tables
    assert "<td class='l'>liquidation penalty $</td>" in tables and "liquidation_penalty_usd" not in tables
    assert ">None<" not in tables and ">False<" not in tables and ">True<" not in tables
    assert "<h3>threshold (10)</h3>" in tables
    assert "<td>2022-11-06T23:05:00Z</td><td>62.952600</td>" in tables  # the first batch: time, withdrawn
    assert "<td>1.4000</td><td>1.4609</td>" in tables  # HF before → after
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["batches"]["threshold"][0] == {
        "time": "2022-11-06T23:05:00Z",
        "withdrawn": "62.952600",
        "sold": "62.952600",
        "avg_price": "1586.86",
        "decision_price": "1588.49",
        "repaid_usd": "99797.07",
        "hf_before": "1.4000",
        "hf_after": "1.4609",
        "in_flight": 0,  # batches in flight when it started (engine.max_in_flight 1: none)
    }
    assert summary["inputs"]["policy"]["name"] == "threshold"
    assert re.search(r'"yaxis2":\{[^}]*"range":\[0\.8,2\.4', page.replace(" ", ""))  # the HF panel clipped

"""`delever backtest` on the command line: the JSON contract, byte-identical reruns, sweeps,
reports, and one-line exit-2 errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.backtest.data import SHIPPED_DIR
from bot.cli import app

WINDOW = str(SHIPPED_DIR / "eth_usd_5m_2022-11-08.csv")
KEYS = [
    "policy",
    "liquidated",
    "liquidations",
    "liquidation_penalty_usd",
    "min_health_factor",
    "collateral_sold",
    "debt_repaid",
    "avg_fill_price",
    "arrival_price",
    "shortfall_usd",
    "shortfall_bps",
    "fees_usd",
    "gas_usd",
    "final_equity_usd",
    "equity_vs_hold_usd",
]


def invoke(*args: str):
    return CliRunner().invoke(app, ["backtest", *args])


def test_backtest_json_lists_the_policy_beside_the_baselines():
    result = invoke("--prices", WINDOW, "--collateral", "1000", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out)[:4] == ["start", "end", "bars", "policies"]
    assert (out["start"], out["end"], out["bars"]) == ("2022-11-05T00:00:00Z", "2022-11-12T23:55:00Z", 2304)
    assert [p["policy"] for p in out["policies"]] == ["threshold", "do-nothing", "sell-all", "one-shot", "hindsight"]
    for row in out["policies"]:
        assert list(row)[: len(KEYS)] == KEYS
        assert row["min_health_factor"].count(".") == 1 and len(row["min_health_factor"].split(".")[1]) == 4
        assert len(row["final_equity_usd"].split(".")[1]) == 2
    hold = out["policies"][1]
    assert hold["liquidated"] is True and hold["collateral_sold"] == "0.000000"


def test_backtest_rerun_gives_byte_identical_json():
    args = (
        "--prices",
        WINDOW,
        "--policy",
        "ladder",
        "--collateral",
        "2500",
        "--start-hf",
        "1.5",
        "--json",
        "--set",
        "depth_usd_1pct=5000000",
    )
    assert invoke(*args).stdout == invoke(*args).stdout


def test_backtest_sweep_runs_every_grid_point():
    result = invoke(
        "--prices", WINDOW, "--json", "--workers", "1", "--set", "trigger_hf=1.3,1.5", "--set", "target_hf=1.7"
    )
    assert result.exit_code == 0, result.output
    sweep = json.loads(result.stdout)["sweep"]
    assert [p["params"] for p in sweep] == [
        {"target_hf": "1.7", "trigger_hf": "1.3"},
        {"target_hf": "1.7", "trigger_hf": "1.5"},
    ]
    assert all(len(p["policies"]) == 5 for p in sweep)


def test_backtest_report_writes_html_and_png(tmp_path: Path):
    result = invoke("--prices", WINDOW, "--report", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r" / "report.html").read_text()
    assert 'src="plotly.min.js"' in html and "liquidation price" in html
    assert (tmp_path / "r" / "plotly.min.js").stat().st_size > 1_000_000
    assert (tmp_path / "r" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "threshold" in result.stdout  # the table still prints


@pytest.mark.parametrize(
    "args",
    [
        ("--pair", "ETH/USDT", "--prices", WINDOW),
        (),
        ("--prices", WINDOW, "--start-hf", "0.9"),
        ("--prices", WINDOW, "--collateral", "abc"),
        ("--prices", WINDOW, "--policy", "nosuch"),
        ("--prices", WINDOW, "--set", "trigger_hf=0.5"),
        ("--prices", WINDOW, "--set", "depth_usd_1pct=-1"),
        ("--prices", WINDOW, "--set", "novalue"),
        ("--prices", "/no/such/file.csv"),
        ("--pair", "ETH/USDT", "--since", "2010-01-01", "--until", "2010-02-01"),
        ("--pair", "ETH/USDT", "--since", "yesterday", "--until", "2010-02-01"),
    ],
)
def test_backtest_bad_input_is_one_line_and_exit_2(args):
    result = CliRunner().invoke(app, ["backtest", *args])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("delever: error:")


def test_backtest_rejects_candles_with_ohlc_out_of_order(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n0,100,101,99,100,1\n60,100,99,98,100,1\n")
    result = CliRunner().invoke(app, ["backtest", "--prices", str(bad)])
    assert result.exit_code == 2
    assert "OHLC out of order" in result.stderr


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "delever.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("slippage", "expected"),
    [  # (ETH sold, average fill, batches)
        (10, ("43.540500", "1292.04", 14)),  # thin slices, many batches
        (150, ("47.342700", "1289.08", 5)),
    ],
)
def test_backtest_config_limits_reach_the_executor(tmp_path: Path, slippage, expected):
    cfg = _config(
        tmp_path,
        # The median fall for the shock: the floor (300 bps) binds less than the book here.
        f'[limits]\nmax_slippage_bps = {slippage}\nshock_quantile = "0.5"\n[policy]\nname = "threshold"\n'
        'params = { trigger_hf = "1.3", target_hf = "1.6" }\n',
    )
    result = invoke("--prices", WINDOW, "--config", cfg, "--json", "--set", "depth_usd_1pct=30000")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["policies"][0]
    assert row["policy"] == "threshold"  # the config's policy, without --policy
    assert (row["collateral_sold"], row["avg_fill_price"], row["batches"]) == expected


def test_backtest_takes_a_full_daemon_config_and_refuses_a_bad_one(tmp_path: Path):
    good = _config(
        tmp_path, '[chain]\nrpc_url = "http://127.0.0.1:8545"\nchain_id = 31337\n[limits]\nhf_floor = "1.2"\n'
    )
    assert invoke("--prices", WINDOW, "--config", good, "--json").exit_code == 0
    bad = _config(tmp_path, "[limits]\nmax_slippage_bps = 0\n")
    result = invoke("--prices", WINDOW, "--config", bad)
    assert result.exit_code == 2 and "limits.max_slippage_bps" in result.stderr

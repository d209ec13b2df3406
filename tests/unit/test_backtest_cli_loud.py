"""`delever backtest` never silent: a raising policy fails the run, every option does what it
says or refuses in one line (exit 2, no traceback), and bad numbers never reach the simulation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.backtest.data import SHIPPED_DIR
from bot.cli import app

WINDOW = str(SHIPPED_DIR / "eth_usd_5m_2022-11-08.csv")

RAISING_POLICY = """
from dataclasses import dataclass
from decimal import Decimal

from strategies.base import INTERFACE_VERSION, Intent

NAME = "boom"
__all__ = ["INTERFACE_VERSION", "NAME", "Params", "decide", "wake_hf"]


@dataclass(frozen=True)
class Params:
    trigger_hf: Decimal = Decimal("1.4")


def decide(snapshot, params):
    raise ZeroDivisionError("kaboom")


def wake_hf(params):
    return params.trigger_hf
"""


def invoke(*args: str):
    return CliRunner().invoke(app, ["backtest", *args])


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("delever: error:"), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def boom(tmp_path: Path) -> str:
    path = tmp_path / "boom.py"
    path.write_text(RAISING_POLICY)
    return str(path)


# -- a policy that raises -------------------------------------------------------------------


def test_a_raising_policy_fails_a_run_with_one_line_naming_it(boom: str):
    result = invoke("--prices", WINDOW, "--policy", boom, "--collateral", "1000", "--json")
    line = one_line_error(result, 1)
    assert line == "delever: error: policy boom failed at 2022-11-06T23:05:00Z: ZeroDivisionError: kaboom"
    assert result.stdout == ""  # no JSON that reads as "the policy did nothing"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_raising_policy_fails_a_sweep_naming_the_point(boom: str, workers: str):
    result = invoke("--prices", WINDOW, "--policy", boom, "--set", "trigger_hf=1.3,1.5", "--json", "--workers", workers)
    line = one_line_error(result, 1)
    assert "sweep point trigger_hf=1.3: policy boom failed at" in line and "ZeroDivisionError: kaboom" in line


# -- --since / --until with --prices ----------------------------------------------------------


def test_since_until_cut_a_prices_file_until_exclusive():
    result = invoke("--prices", WINDOW, "--since", "2022-11-07", "--until", "2022-11-09", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["start"], out["end"], out["bars"]) == ("2022-11-07T00:00:00Z", "2022-11-08T23:55:00Z", 576)


def test_since_alone_cuts_to_the_end_of_the_file():
    out = json.loads(invoke("--prices", WINDOW, "--since", "2022-11-12", "--json").stdout)
    assert (out["start"], out["end"], out["bars"]) == ("2022-11-12T00:00:00Z", "2022-11-12T23:55:00Z", 288)


@pytest.mark.parametrize(
    ("since", "until", "says"),
    [
        ("2017-01-01", "2022-11-07", "covers 2022-11-05T00:00:00Z..2022-11-13T00:00:00Z"),
        ("2022-11-12", "2022-11-20", "lies outside it"),
        ("2022-11-08T10:00", "2022-11-08T10:05", "fewer than two candles"),
        ("2022-11-08", "2022-11-07", "--until must be after --since"),
    ],
)
def test_a_range_outside_the_file_or_empty_is_refused(since: str, until: str, says: str):
    assert says in one_line_error(invoke("--prices", WINDOW, "--since", since, "--until", until), 2)


def test_help_says_until_is_exclusive():
    text = " ".join(invoke("--help").stdout.split())
    assert "exclusive" in text and "inclusive" in text


# -- --report with a sweep, starting positions ------------------------------------------------


def test_a_sweep_with_report_writes_a_table_and_the_json(tmp_path: Path):
    folder = tmp_path / "sweep"
    result = invoke("--prices", WINDOW, "--set", "trigger_hf=1.3,1.5", "--workers", "1", "--report", str(folder))
    assert result.exit_code == 0, result.output
    page = (folder / "report.html").read_text()
    data = json.loads((folder / "sweep.json").read_text())
    assert [p["params"] for p in data["sweep"]] == [{"trigger_hf": "1.3"}, {"trigger_hf": "1.5"}]
    assert data["axes"] == {"trigger_hf": ["1.3", "1.5"]} and data["inputs"]["policy"]["name"] == "threshold"
    assert page.count("<tr>") == 1 + 2 * 5  # the header, 2 points × (policy + 4 baselines)
    assert "protection $" in page and "None" not in page and "False" not in page


def test_a_starting_position_below_hf_1_is_refused(tmp_path: Path):
    pos = tmp_path / "pos.json"
    pos.write_text('{"collateral": "100", "debt": "200000"}')  # 100 ETH at 1,644.78 × LT 0.83 < 200,000
    line = one_line_error(invoke("--prices", WINDOW, "--position", str(pos)), 2)
    assert "HF 0.6826 < 1 at the first open (1644.78 USDT)" in line


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"collateral": "1e308", "debt": "1"}', "collateral: must be at most"),
        ('{"collateral": "-1", "debt": "1"}', "collateral: must be greater than 0"),
        ('{"collateral": "NaN", "debt": "1"}', "collateral"),
        ('{"collateral": "1", "debt": "1", "liquidation_threshold_bps": 20000}', "liquidation_threshold_bps"),
    ],
)
def test_a_bad_position_file_is_one_line(tmp_path: Path, text: str, says: str):
    pos = tmp_path / "pos.json"
    pos.write_text(text)
    assert says in one_line_error(invoke("--prices", WINDOW, "--position", str(pos)), 2)


# -- --set keys and values --------------------------------------------------------------------


def test_an_unknown_set_key_lists_every_valid_key():
    line = one_line_error(invoke("--prices", WINDOW, "--set", "depth=5"), 2)
    assert "--set depth: unknown key" in line
    for owner, key in [
        ("policy threshold", "trigger_hf"),
        ("market model", "depth_usd_1pct"),
        ("simulation", "deposit_delay_s"),
        ("limits", "hf_floor"),
        ("engine", "hold_to_target"),
        ("planner", "gas_usd_per_batch"),
    ]:
        assert owner + ":" in line and key in line


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("hf_floor=nan", "--set hf_floor: should be a finite number"),
        ("taker_fee_bps=1e308", "--set taker_fee_bps"),
        ("taker_fee_bps=5000", "--set taker_fee_bps: must be at most 1000"),
        ("refill_half_life_s=0", "--set refill_half_life_s: must be at least 1"),
        ("gas_usd_per_batch=-5", "--set gas_usd_per_batch: must be at least 0"),
        ("gas_gwei=-1", "--set gas_gwei: must be at least 0"),
        ("depth_usd_1pct=inf", "--set depth_usd_1pct: should be a finite number"),
        ("depth_usd_1pct=1e308", "--set depth_usd_1pct: must be at most"),
        ("borrow_apr=nan", "--set borrow_apr: should be a finite number"),
        ("deposit_delay_s=-1", "--set deposit_delay_s: must be at least 0"),
        ("sell_price=mid", "--set sell_price"),
        ("drawdown_crash=0.01", "--set drawdown_crash: must be greater than drawdown_calm"),
        ("shock_z=1e308", "--set shock_z: must be at most 20"),
        ("vol_window_s=0", "--set vol_window_s: must be at least 1"),
        ("cooldown_s=inf", "--set cooldown_s: should be a finite number"),
    ],
)
def test_a_bad_set_value_is_one_line_exit_2(setting: str, says: str):
    assert says in one_line_error(invoke("--prices", WINDOW, "--set", setting), 2)


def test_a_bad_value_in_a_sweep_axis_is_refused_before_any_point_runs():
    line = one_line_error(invoke("--prices", WINDOW, "--set", "hf_floor=1.2,nan", "--workers", "1"), 2)
    assert "--set hf_floor: should be a finite number" in line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--collateral", "1e308"), "--collateral must be > 0 and at most 1,000,000,000 coins"),
        (("--collateral", "nan"), "--collateral must be a finite number"),
        (("--start-hf", "1e308"), "--start-hf must be > 1 and at most 1000"),
        (("--workers", "100000", "--set", "trigger_hf=1.3,1.5"), "--workers must be 0 (one per CPU) to 256"),
    ],
)
def test_bad_numbers_on_the_command_line(args: tuple[str, ...], says: str):
    assert says in one_line_error(invoke("--prices", WINDOW, *args), 2)


# -- candles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        ("0,1e300,1e300,1e300,1e300,1\n60,1e300,1e300,1e300,1e300,1\n", "prices outside"),
        ("0,100,101,99,nan,1\n60,100,101,99,100,1\n", "NaN or infinite"),
        ("0,100,101,99,100,1\n60,-100,101,-101,100,1\n", "non-positive prices"),
        ("0,1e-300,1e-300,1e-300,1e-300,1\n60,1e-300,1e-300,1e-300,1e-300,1\n", "prices outside"),
        ("1e300,100,101,99,100,1\n1e301,100,101,99,100,1\n", "timestamps must be UNIX seconds"),
        ("-60,100,101,99,100,1\n0,100,101,99,100,1\n", "timestamps must be UNIX seconds"),
        ("0,100,101,99,100,1e300\n60,100,101,99,100,1\n", "volume above"),
        ("0.5,100,101,99,100,1\n60,100,101,99,100,1\n", "whole seconds"),
    ],
)
def test_candles_a_simulation_cannot_run_on_are_refused(tmp_path: Path, rows: str, says: str):
    path = tmp_path / "c.csv"
    path.write_text("timestamp,open,high,low,close,volume\n" + rows)
    assert says in one_line_error(invoke("--prices", str(path)), 2)


# -- --report --------------------------------------------------------------------------------


def test_an_unwritable_report_folder_is_refused_before_the_run(tmp_path: Path, boom: str):
    blocker = tmp_path / "file"
    blocker.write_text("")
    # The policy would fail the run (exit 1): the folder is checked first.
    line = one_line_error(invoke("--prices", WINDOW, "--policy", boom, "--report", str(blocker / "out")), 2)
    assert line.startswith(f"delever: error: --report {blocker / 'out'}: cannot write there")


def test_an_engine_that_halts_says_so(monkeypatch):
    from bot.engine.controller import Controller

    def node_down(self):
        raise RuntimeError("node down")

    monkeypatch.setattr(Controller, "tick", node_down)
    result = invoke("--prices", WINDOW, "--collateral", "1000", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["policy"]: row for row in json.loads(result.stdout)["policies"]}
    halted = rows["threshold"]["engine_halted"]
    assert halted.startswith("2022-11-06T23:") and halted.endswith(
        "3 consecutive failed ticks; last: RuntimeError: node down"
    )
    assert rows["do-nothing"]["engine_halted"] is None
    assert f"delever: warning: threshold: engine halted at {halted}" in result.stderr

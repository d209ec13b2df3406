"""`delever stress` on the command line: the JSON contract, the same bytes for the same seed
whatever the number of workers, grids, and one-line exit-2 refusals."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli import app

SMALL = ["--paths", "3", "--horizon", "1d", "--bar", "1h", "--block", "3h", "--vol-window", "6h", "--seed", "5"]
KEYS = [
    "policy",
    "params",
    "paths",
    "liquidated_paths",
    "p_liquidation",
    "p_liquidation_ci",
    "acted_paths",
    "shortfall_usd_mean",
    "shortfall_usd_p95",
    "shortfall_usd_cvar95",
]


def invoke(*args: str):
    return CliRunner().invoke(app, ["stress", *args])


def test_the_same_seed_gives_the_same_json_on_one_or_two_workers():
    one = invoke(*SMALL, "--workers", "1", "--json")
    two = invoke(*SMALL, "--workers", "2", "--json")
    assert one.exit_code == 0, one.output
    assert one.stdout == two.stdout
    payload = json.loads(one.stdout)
    assert [row["policy"] for row in payload["policies"]] == ["threshold", "do-nothing", "sell-all", "one-shot"]
    assert list(payload["policies"][0])[: len(KEYS)] == KEYS
    assert all(row["paths"] == 3 for row in payload["policies"])
    assert payload["paths"] == {
        "kind": "bootstrap",
        "bar_s": 3600,
        "horizon_bars": 24,
        "seed": 5,
        "block_bars": 3,
        "window_bars": 6,
        "start_price": "1966.58",
    }
    other = invoke(*SMALL[:-1], "6", "--workers", "1", "--json")
    assert other.stdout != one.stdout  # another seed, other paths


def test_a_grid_gives_one_row_per_point_and_actor():
    result = invoke(*SMALL, "--set", "trigger_hf=1.3,1.4", "--workers", "1", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["policies"]
    assert [(r["params"], r["policy"]) for r in rows[::4]] == [
        ({"trigger_hf": "1.3"}, "threshold"),
        ({"trigger_hf": "1.4"}, "threshold"),
    ]
    assert len(rows) == 8


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--bar", "7s"], "--bar"),
        (["--horizon", "1h", "--bar", "1h"], "--horizon"),
        (["--block", "7m"], "--block"),
        (["--paths", "0"], "--paths"),
        (["--paths-dir", "/nonexistent/folder"], "--paths-dir"),
        (["--set", "trigger_hf=abc"], "trigger_hf"),
        (["--start-price", "nan"], "--start-price"),
        (["--model", "garch"], "--model"),
        (["--baselines", "hodl"], "--baselines"),
        (["--engine", "spark"], "--engine"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    result = invoke(*args, "--json")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("delever: error:") and needle in lines[0]
    assert result.stdout == ""


def test_parquet_and_report_hold_every_path_of_every_point(tmp_path):
    import pyarrow.parquet as pq

    grid = ["--set", "trigger_hf=1.3,1.4", "--set", "target_hf=1.7,1.8"]
    out = tmp_path / "out"
    result = invoke(
        *SMALL, *grid, "--workers", "1", "--json", "--parquet", str(out / "paths.parquet"), "--report", str(out)
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["policies"]
    table = pq.read_table(out / "paths.parquet").to_pylist()
    assert len(table) == 4 * 4 * 3  # points × actors × paths
    for row in rows:
        mine = [r for r in table if r["policy"] == row["policy"] and json.loads(r["params"]) == row["params"]]
        assert [r["path"] for r in mine] == [0, 1, 2]
        assert sum(r["liquidated"] for r in mine) == row["liquidated_paths"]
        assert str(max(r["shortfall_usd"] for r in mine)) == row["shortfall_usd_p95"]
    page = (out / "stress.html").read_text()
    assert "P(liquidation) of threshold" in page  # the heat map over the two-key grid
    for policy in ("threshold", "do-nothing", "sell-all", "one-shot"):  # an HF survival curve and a shortfall CDF
        assert page.count(f'"legendgroup":"{policy} (trigger_hf=1.4, target_hf=1.8)"') == 2
    assert json.loads((out / "stress.json").read_text())["policies"] == rows
    assert (out / "plotly.min.js").stat().st_size > 1_000_000  # offline: nothing is fetched when it opens


def test_jump_paths_name_their_fitted_model():
    result = invoke(*SMALL, "--model", "jumps", "--baselines", "do-nothing", "--workers", "1", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["paths"]["kind"] == "jumps"
    assert list(payload["paths"]["fitted"]) == ["sigma", "jump_rate", "jump_mean", "jump_sd", "wick", "quote_volume"]
    assert [row["policy"] for row in payload["policies"]] == ["threshold", "do-nothing"]


def test_the_table_has_a_column_per_policy_and_reads_in_80_columns():
    result = invoke(*SMALL, "--workers", "1", "--baselines", "do-nothing")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if "metric" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == ["metric", "threshold", "do-nothing"]
    p_liq = next(line for line in lines if line.startswith("│ P(liq)"))
    assert len(p_liq.split("│")) == 5  # the label and one cell per policy

"""`delever backtest --dex-depth --route`: the simulated DEX's options, what the JSON says of
the routes, and one-line exit-2 errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.backtest.data import SHIPPED_DIR
from bot.cli import app

WINDOW = str(SHIPPED_DIR / "eth_usd_5m_2022-11-08.csv")


def invoke(*args: str):
    return CliRunner().invoke(app, ["backtest", "--prices", WINDOW, "--collateral", "1000", "--json", *args])


def by_policy(stdout: str) -> dict[str, dict]:
    return {row["policy"]: row for row in json.loads(stdout)["policies"]}


def test_the_json_splits_collateral_and_batches_by_route_and_names_the_dex() -> None:
    result = invoke("--dex-depth", "5000000", "--route", "auto")

    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    rows = by_policy(result.stdout)
    assert out["inputs"]["dex"] == {
        "route": "auto",
        "depth_usd": "5000000",
        "flash_premium_bps": 5,
        "one_shot_slippage_bps": 100,
        "one_shot_service_fee_bps": 30,
    }
    one_shot, sell_all = rows["one-shot"], rows["sell-all"]
    assert one_shot["collateral_sold_by_route"] == {"cex": "0.000000", "dex": one_shot["collateral_sold"]}
    assert one_shot["batches_by_route"]["cex"] == 0 and one_shot["batches_by_route"]["dex"] >= 1
    assert sell_all["collateral_sold_by_route"] == {"cex": sell_all["collateral_sold"], "dex": "0.000000"}
    assert sell_all["batches_by_route"]["dex"] == 0 and sell_all["batches_by_route"]["cex"] >= 1


def test_no_dex_depth_means_the_one_shot_cannot_act() -> None:
    result = invoke("--dex-depth", "0")

    assert result.exit_code == 0, result.output
    one_shot = by_policy(result.stdout)["one-shot"]
    assert (one_shot["collateral_sold"], one_shot["batches_by_route"]) == ("0.000000", {"cex": 0, "dex": 0})
    assert one_shot["liquidated"] is True  # the do-nothing outcome: the window liquidates a holder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--route", "amm"), "--route must be one of auto, cex, dex, got 'amm'"),
        (("--dex-depth", "-1"), "--dex-depth must be 0 (no DEX) or more USD"),
        (("--dex-depth", "lots"), "--dex-depth must be a number, got 'lots'"),
    ],
)
def test_bad_dex_options_are_one_line_errors(args: tuple[str, ...], message: str) -> None:
    result = invoke(*args)

    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"delever: error: {message}"]


def test_the_table_shows_batches_by_route_in_the_labels_order() -> None:
    from bot.backtest.present import LABELS, cell

    assert (LABELS["batches_by_route"], cell("batches_by_route", {"cex": 1234, "dex": 0})) == (
        "batches, cex / dex",
        "1,234 / 0",
    )


def test_the_configs_dex_section_applies_and_route_overrides_it(tmp_path) -> None:
    config = tmp_path / "delever.toml"
    config.write_text('[dex]\nroute = "dex"\n')

    from_file = invoke("--config", str(config))
    overridden = invoke("--config", str(config), "--route", "cex")

    assert from_file.exit_code == 0, from_file.output
    assert json.loads(from_file.stdout)["inputs"]["dex"]["route"] == "dex"
    assert json.loads(overridden.stdout)["inputs"]["dex"]["route"] == "cex"

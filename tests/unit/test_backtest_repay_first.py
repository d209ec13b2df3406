"""The backtest runs repay-first batches through the daemon's executor: with a buffer every
batch repays first, HF in transit never falls below its batch's start position at the same
price, and the buffer is back in the wallet; without one, batches withdraw first."""

from __future__ import annotations

from decimal import Decimal

from bot.backtest import data
from bot.backtest.scenario import run_scenario

D = Decimal


def _run(buffer_usd: str | None) -> tuple[dict, object]:
    values = {"buffer_usd": buffer_usd} if buffer_usd else {}
    out = run_scenario(
        data.shipped("eth_usd_5m_2022-06-13.csv"),
        "threshold",
        values,
        collateral=D(100),
        start_hf=D("1.4"),
        baselines=(),
    )
    return out.summaries[0], out.results[0].world


def test_with_a_buffer_every_batch_repays_first_and_never_leaves_hf_below_its_start():
    row, world = _run("5800")  # about 5 % of the debt
    assert not row["liquidated"]
    assert row["batches_repay_first"] >= 3 and row["batches_withdraw_first"] == 0
    assert D(row["min_hf_vs_batch_start_same_price"]) >= 1
    assert D(row["max_in_transit_usd"]) > 0 and D(row["min_hf_in_transit"]) > 1
    assert world.wallet["USDT"] >= 5_800 * 10**6 * 99 // 100  # the sales refilled the buffer
    assert world.funded_units == 5_800 * 10**6


def test_without_a_buffer_batches_withdraw_first_and_dip_below_their_start():
    row, world = _run(None)
    assert row["batches_repay_first"] == 0 and row["batches_withdraw_first"] >= 1
    assert D(row["min_hf_vs_batch_start_same_price"]) < 1
    assert D(row["max_hf_dip_below_batch_start"]) > 0
    assert world.funded_units == 0

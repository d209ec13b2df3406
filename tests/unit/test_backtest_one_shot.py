"""The one-shot baseline is a DeFi-Saver repay through the simulated DEX: each transaction is
the largest swap within its slippage limit, a repay the pools cannot price reverts, and without
a DEX it never acts."""

from __future__ import annotations

from decimal import Decimal

from bot.backtest import data
from bot.backtest.baselines import OneShot
from bot.backtest.dex import DexParams
from bot.backtest.market import MarketParams
from bot.backtest.runner import Runner, RunResult, SimParams

WINDOW = "eth_usd_5m_2022-06-13.csv"


def run(actor: OneShot, *, collateral: int, dex: DexParams) -> RunResult:
    return Runner(
        data.shipped(WINDOW),
        actor,
        collateral=Decimal(collateral),
        start_hf=Decimal("1.45"),
        market=MarketParams(),
        sim=SimParams(),
        dex=dex,
    ).run()


def test_at_size_each_repay_is_the_largest_swap_within_the_slippage_limit() -> None:
    r = run(OneShot(trigger_hf=Decimal("1.3"), target_hf=Decimal("1.6")), collateral=100_000, dex=DexParams())

    batches = list(r.world.ledger.batch_log.values())
    worst = min(b.proceeds / b.sold / b.decision_price for b in batches)
    assert len(batches) >= 2  # $ tens of millions do not fit in one pool within 1 %
    assert worst >= 1 / Decimal("1.01") - Decimal("1e-9")  # never past the 1 % limit
    assert worst < Decimal("0.9905")  # and the first one used all of it
    assert all(kind == "dex" for kind in {m.kind for m in r.world.moves})
    assert all(k != "deposit" for _, k, _ in r.events)


def test_a_limit_under_the_pool_fee_reverts_every_time_and_nothing_happens() -> None:
    actor = OneShot(trigger_hf=Decimal("1.3"), target_hf=Decimal("1.6"), slippage_bps=1)

    r = run(actor, collateral=1_000, dex=DexParams())

    assert actor.reverts > 0 and r.world.ledger.batch_log == {}
    assert r.world.ledger.gas_usd == 0 and r.world.ledger.collateral_sold == 0
    assert any(kind == "batch-reverted" for _, kind, _ in r.events)


def test_without_a_dex_it_never_acts() -> None:
    r = run(OneShot(trigger_hf=Decimal("1.3"), target_hf=Decimal("1.6")), collateral=1_000, dex=DexParams(Decimal(0)))

    assert r.world.ledger.batch_log == {} and r.world.ledger.debt_repaid_units == 0


def test_a_small_position_is_restored_to_its_target_in_one_transaction() -> None:
    r = run(OneShot(trigger_hf=Decimal("1.3"), target_hf=Decimal("1.6")), collateral=1_000, dex=DexParams())

    first = next(iter(r.world.ledger.batch_log.values()))
    assert first.hf_after is not None and abs(first.hf_after - Decimal("1.6")) < Decimal("0.01")
    assert first.proceeds / first.sold / first.decision_price > Decimal("0.998")  # $400k: 14 bps
    assert r.world.ledger.liquidations == []

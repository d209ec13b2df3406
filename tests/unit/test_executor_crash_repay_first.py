"""Kill at every step boundary of a repay-first batch (the buffer repays first, the sale refills
it), restart on the same journal: the batch completes exactly once, the buffer is back in the
wallet, and the withdrawal never took HF below where the batch started."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain.position import health_factor_wad, to_units
from bot.engine.batch_spec import REPAY_FIRST, BatchSpec
from bot.engine.journal import BatchStatus, StepStatus
from bot.engine.steps import crash_points
from tests.support.engine_kit import Rig
from tests.support.fakes import E6, E18, Crash, crash_at, make_world

POINTS = crash_points()
FULL = {"unwrap_native": True}
BUFFER = 15_000 * E6  # 12.5 % of the 120,000 USDT debt: room for 12.5 WETH of 100


def _rig(tmp_path) -> Rig:
    world = make_world(idle_wallet_usdt=15_000)
    return Rig(tmp_path, clock=world.clock, world=world)


def _spec(eth: int = 10) -> BatchSpec:
    return BatchSpec(
        collateral="WETH",
        debt="USDT",
        withdraw_amount=eth * E18,
        repay_idle_amount=BUFFER,
        order=REPAY_FIRST,
        refill_units=BUFFER,
    )


def _assert_exactly_once_refilled(rig: Rig) -> None:
    w = rig.world
    assert all(n == 1 for n in w.tx_effects_per_key().values()), w.tx_effects_per_key()
    assert all(n == 1 for n in w.orders_per_client_id().values()), w.orders_per_client_id()
    assert all(n == 1 for n in w.withdrawals_per_key().values()), w.withdrawals_per_key()
    assert [t.kind for t in w.txs] == ["repay", "withdraw", "unwrap", "transfer", "repay"]
    assert 100 * E18 - w.reserve("WETH").collateral == 10 * E18
    # the buffer repaid first and came back from the sale; the rest of the sale was repaid
    net = w.orders[0].gross - w.orders[0].fee
    repaid = 120_000 * E6 - w.reserve("USDT").debt
    assert w.wallet["USDT"] == BUFFER
    assert repaid == to_units(net - w.withdraw_fee, 6)
    (batch,) = rig.journal.batches()
    assert batch.status is BatchStatus.DONE
    assert all(r.status in (StepStatus.OK, StepStatus.SKIPPED) for r in rig.journal.steps())
    assert rig.journal.integrity_check() == "ok"


@pytest.mark.parametrize("point", POINTS)
def test_repay_first_batch_crash_at_each_point_then_restart_completes_exactly_once(tmp_path, point):
    rig = _rig(tmp_path)
    start_hf = health_factor_wad(rig.world.position)
    with pytest.raises(Crash):
        rig.executor(crash=crash_at(point), **FULL).execute(_spec(), rig.lending.snapshot())
    rig.restart()
    results = rig.executor(**FULL).resume()
    assert [r.status for r in results] == [BatchStatus.DONE]
    _assert_exactly_once_refilled(rig)
    assert health_factor_wad(rig.world.position) > start_hf


def test_repay_first_withdrawal_lands_with_hf_at_or_above_the_start(tmp_path):
    rig = _rig(tmp_path)
    start_hf = health_factor_wad(rig.world.position)
    seen: list[int] = []

    def watch(point: str) -> None:
        if point == "after_outcome:withdraw":
            seen.append(health_factor_wad(rig.world.position))

    rig.executor(crash=watch, **FULL).execute(_spec(), rig.lending.snapshot())
    (hf_after_withdraw,) = seen
    assert hf_after_withdraw >= start_hf


def test_repay_first_withdrawal_beyond_the_start_hf_is_skipped(tmp_path):
    rig = _rig(tmp_path)
    start_hf = health_factor_wad(rig.world.position)
    result = rig.executor(**FULL).execute(_spec(13), rig.lending.snapshot())  # 12.5 WETH keeps the start
    withdraw = rig.journal.step(result.batch_id, "withdraw")
    assert withdraw.status is StepStatus.SKIPPED
    assert "below the batch's start" in withdraw.intent["skipped"]
    assert rig.world.reserve("WETH").collateral == 100 * E18
    assert [t.kind for t in rig.world.txs] == ["repay"]
    assert health_factor_wad(rig.world.position) > start_hf
    assert rig.world.reserve("USDT").debt == 120_000 * E6 - BUFFER
    assert result.status is BatchStatus.DONE and Decimal(rig.world.wallet["USDT"]) == 0

"""The DEX route's step: one journaled atomic deleverage, then verify; a crash at any boundary
is reconciled by key, never re-sent blind."""

from __future__ import annotations

import pytest

from bot.domain.position import health_factor_wad
from bot.engine.batch_spec import BatchSpec
from bot.engine.journal import BatchStatus, StepStatus
from bot.engine.steps import crash_points
from tests.support.dex_fakes import FakeDex
from tests.support.engine_kit import Rig
from tests.support.fakes import E6, E18, LOST, Crash, crash_at, make_world

REPAY = 40_000 * E6
CAP = 21 * E18  # 40,000 USDT + premium at 2,000 is 20.01 WETH; 30 bps on top stays below 21


def _rig(tmp_path, **dex) -> Rig:
    world = make_world(debt_usdt=162_745)  # HF ≈ 1.02: no CEX withdrawal can keep the floor
    return Rig(tmp_path, clock=world.clock, world=world, dex=FakeDex(world, **dex))


def _spec(cap: int = CAP) -> BatchSpec:
    return BatchSpec(
        collateral="WETH", debt="USDT", withdraw_amount=cap, route="dex", dex_repay_units=REPAY, dex_pool_fee=500
    )


def test_a_dex_batch_is_one_atomic_transaction_then_verify(tmp_path):
    rig = _rig(tmp_path)
    hf0 = health_factor_wad(rig.world.position)
    result = rig.executor().execute(_spec(), rig.lending.snapshot())
    assert result.status is BatchStatus.DONE
    assert [(r.step, r.status) for r in rig.journal.steps()] == [
        ("atomic_deleverage", StepStatus.OK),
        ("verify", StepStatus.OK),
    ]
    (tx,) = rig.world.txs
    assert (tx.kind, tx.amount) == ("atomic", 20_070_030_000_000_000_001)  # 40,020 USDT / 2,000 + 30 bps
    assert rig.world.reserve("USDT").debt == 122_745 * E6
    assert rig.world.reserve("WETH").collateral == 100 * E18 - tx.amount
    assert result.accounting["route"] == "dex"
    assert result.accounting["dex_collateral_sold_units"] == str(tx.amount)
    assert result.accounting["dex_debt_repaid_units"] == str(REPAY)
    assert result.accounting["dex_pool_fee"] == 500
    assert result.accounting["dex_gas_used"] == 50_000
    assert int(result.accounting["hf_after_wad"]) > hf0
    assert not any(method.startswith(("sell", "venue", "deposit")) for method, _ in rig.world.calls)


def test_a_cap_the_pool_is_past_fails_the_batch_without_moving_anything(tmp_path):
    rig = _rig(tmp_path, cost_bps=600)  # the pool moved: 6 % past the oracle
    before = rig.world.position
    result = rig.executor().execute(_spec(), rig.lending.snapshot())
    assert result.status is BatchStatus.FAILED
    assert rig.journal.step(result.batch_id, "atomic_deleverage").status is StepStatus.FAILED
    assert rig.world.position == before


@pytest.mark.parametrize("point", crash_points("dex"))
def test_a_crash_at_each_boundary_then_restart_deleverages_exactly_once(tmp_path, point):
    rig = _rig(tmp_path)
    with pytest.raises(Crash):
        rig.executor(crash=crash_at(point)).execute(_spec(), rig.lending.snapshot())
    rig.restart()
    results = rig.executor().resume() if point != "after_open" or rig.journal.open_batches() else []
    assert [r.status for r in results] == [BatchStatus.DONE]
    assert rig.world.tx_effects_per_key() == {f"{results[0].batch_id}:atomic_deleverage": 1}
    assert rig.world.reserve("USDT").debt == 122_745 * E6


def test_a_crash_after_the_send_is_reconciled_by_lookup_not_sent_again(tmp_path):
    rig = _rig(tmp_path)
    with pytest.raises(Crash):
        rig.executor(crash=crash_at("after_act:atomic_deleverage")).execute(_spec(), rig.lending.snapshot())
    rig.restart()
    batch = rig.journal.open_batches()[0].id
    row = rig.journal.step(batch, "atomic_deleverage")
    assert (row.status, row.attempts) == (StepStatus.PENDING, 1)  # intent written, result unknown
    rig.world.calls.clear()
    (result,) = rig.executor().resume()
    assert result.status is BatchStatus.DONE
    assert ("lookup", f"{batch}:atomic_deleverage") in rig.world.calls
    assert not any(method == "atomic_deleverage" for method, _ in rig.world.calls)
    assert len(rig.world.txs) == 1


def test_a_lost_response_is_looked_up_by_key_and_not_sent_twice(tmp_path):
    rig = _rig(tmp_path)
    rig.world.fault("atomic_deleverage", LOST)
    result = rig.executor().execute(_spec(), rig.lending.snapshot())
    assert result.status is BatchStatus.DONE
    assert rig.world.tx_effects_per_key() == {f"{result.batch_id}:atomic_deleverage": 1}
    assert result.accounting["dex_debt_repaid_units"] == str(REPAY)


def test_a_dex_batch_without_a_dex_route_is_refused_and_moves_nothing(tmp_path):
    world = make_world(debt_usdt=162_745)
    rig = Rig(tmp_path, clock=world.clock, world=world)
    result = rig.executor().execute(_spec(), rig.lending.snapshot())
    assert result.status is BatchStatus.FAILED
    assert "no DEX route" in (rig.journal.step(result.batch_id, "atomic_deleverage").error or "")
    assert rig.world.txs == []


def test_the_spec_journals_its_route_and_old_journals_read_as_cex():
    cex = BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=E18)
    assert cex.to_payload()["route"] == "cex" and "dex_repay_units" not in cex.to_payload()
    old = {k: v for k, v in cex.to_payload().items() if k != "route"}
    assert BatchSpec.from_payload(old) == cex
    assert BatchSpec.from_payload(_spec().to_payload()) == _spec()
    with pytest.raises(ValueError, match="route"):
        BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=E18, route="amm")
    with pytest.raises(ValueError, match="DEX batch needs"):
        BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=E18, route="dex")

"""Kill at every step boundary, restart on the same journal: each batch completes exactly once.

``Crash`` is a BaseException raised from a named crash point (the executor cannot catch it),
the journal is closed as a dying process would leave it, and a fresh executor resumes.
The subprocess variant (``DELEVER_CRASH_AT`` + ``os._exit(137)``) is in
``test_executor_crash_subprocess.py``.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from bot.domain.position import health_factor_wad, to_units
from bot.engine.journal import BatchStatus, StepStatus
from bot.engine.steps import crash_points
from tests.support.engine_kit import Rig
from tests.support.fakes import E6, E18, LOST, Crash, crash_at, make_world

POINTS = crash_points()
# Everything on: idle funds in the wallet and on the exchange, unwrap before the deposit.
FULL = {"unwrap_native": True}


def _rig(tmp_path) -> Rig:
    world = make_world(idle_wallet_usdt=1000, idle_exchange_usdt=Decimal(500))
    return Rig(tmp_path, clock=world.clock, world=world)


def _assert_exactly_once_and_balanced(rig: Rig) -> None:
    w = rig.world
    assert all(n == 1 for n in w.tx_effects_per_key().values()), w.tx_effects_per_key()
    assert all(n == 1 for n in w.orders_per_client_id().values()), w.orders_per_client_id()
    assert all(n == 1 for n in w.withdrawals_per_key().values()), w.withdrawals_per_key()
    assert [t.kind for t in w.txs] == ["repay", "withdraw", "unwrap", "transfer", "repay"]
    assert len(w.orders) == 1 and len(w.withdrawals) == 1
    # conservation: collateral withdrawn = sold + still on the exchange
    withdrawn = 100 * E18 - w.reserve("WETH").collateral
    assert withdrawn == 10 * E18
    assert Decimal(withdrawn) / E18 == w.orders[0].filled + w.exchange["ETH"]
    # debt repaid = idle wallet + (net proceeds + idle exchange − withdrawal fee) − what is left
    net = w.orders[0].gross - w.orders[0].fee
    repaid = 120_000 * E6 - w.reserve("USDT").debt
    assert repaid == 1000 * E6 + to_units(net + Decimal(500) - w.withdraw_fee, 6) - w.wallet["USDT"]
    assert w.exchange["USDT"] == 0 and w.wallet["USDT"] == 0
    # every intent terminal, the batch DONE, the file sound
    (batch,) = rig.journal.batches()
    assert batch.status is BatchStatus.DONE
    assert all(r.status.terminal for r in rig.journal.steps())
    assert all(r.status in (StepStatus.OK, StepStatus.SKIPPED) for r in rig.journal.steps())
    assert rig.journal.integrity_check() == "ok"


@pytest.mark.parametrize("point", POINTS)
def test_executor_crash_at_each_point_then_restart_completes_exactly_once(tmp_path, point):
    rig = _rig(tmp_path)
    start_hf = health_factor_wad(rig.world.position)
    hook = crash_at(point)
    with pytest.raises(Crash):
        rig.executor(crash=hook, **FULL).execute(rig.spec(10), rig.lending.snapshot())
    rig.restart()
    results = rig.executor(**FULL).resume()
    assert [r.status for r in results] == [BatchStatus.DONE]
    _assert_exactly_once_and_balanced(rig)
    assert health_factor_wad(rig.world.position) > start_hf


def test_executor_crash_points_cover_every_step_boundary():
    steps = {p.split(":", 1)[1] for p in POINTS if ":" in p}
    assert len(steps) == 10
    assert {"after_act:sell", "after_act:withdraw_quote", "before_act:deposit", "after_intent:await_quote"} <= set(
        POINTS
    )


_PAIRS = sorted(
    random.Random(7).sample([(a, b) for a in POINTS for b in POINTS if POINTS.index(b) >= POINTS.index(a)], 40)
)


@pytest.mark.parametrize(("first", "second"), _PAIRS)
def test_executor_crash_during_recovery_then_restart_completes_exactly_once(tmp_path, first, second):
    rig = _rig(tmp_path)
    with pytest.raises(Crash):
        rig.executor(crash=crash_at(first), **FULL).execute(rig.spec(10), rig.lending.snapshot())
    rig.restart()
    hook = crash_at(second)
    try:
        rig.executor(crash=hook, **FULL).resume()
    except Crash:
        pass
    rig.restart()
    rig.executor(**FULL).resume()
    _assert_exactly_once_and_balanced(rig)


@pytest.mark.parametrize("step", ["repay_idle", "withdraw", "unwrap", "deposit", "sell", "withdraw_quote", "repay"])
def test_executor_crash_while_a_lost_response_is_unknown_reconciles_on_restart(tmp_path, step):
    rig = _rig(tmp_path)
    method = {"repay_idle": "repay", "deposit": "transfer", "withdraw_quote": "venue_withdraw"}.get(step, step)
    if step == "repay":
        rig.world.fault(method, "")  # repay_idle's call goes through; the batch's last repay is lost
    rig.world.fault(method, LOST)
    point = f"after_unknown:{step}"
    with pytest.raises(Crash):
        rig.executor(crash=crash_at(point), **FULL).execute(rig.spec(10), rig.lending.snapshot())
    rig.restart()
    assert rig.journal.step(rig.journal.open_batches()[0].id, step).status is StepStatus.UNKNOWN
    rig.executor(**FULL).resume()
    _assert_exactly_once_and_balanced(rig)


def test_executor_two_batches_with_a_crash_in_each_complete_once_each(tmp_path):
    rig = Rig(tmp_path)
    for point in ("after_act:sell", "before_act:repay"):
        with pytest.raises(Crash):
            rig.executor(crash=crash_at(point)).execute(rig.spec(5), rig.lending.snapshot())
        rig.restart()
        (result,) = rig.executor().resume()
        assert result.status is BatchStatus.DONE
    assert [b.status for b in rig.journal.batches()] == [BatchStatus.DONE, BatchStatus.DONE]
    assert len(rig.world.orders) == 2 and rig.world.reserve("WETH").collateral == 90 * E18
    assert all(n == 1 for n in rig.world.tx_effects_per_key().values())

"""The daemon loop with the DEX route: a position the CEX path cannot help is restored in one
atomic batch, also while the exchange does not answer; reduce-only sends no DEX batch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain.position import decimal_to_wad, health_factor_wad
from bot.engine.controller import Controller, TickOutcome, policy_plan_fn
from bot.engine.journal import BatchStatus, ControlState
from bot.errors import DeleverError
from strategies import load_policy
from tests.support.dex_fakes import FakeDex
from tests.support.engine_kit import Rig, controller_config, plan_limits
from tests.support.fakes import RETRY, make_world

TARGET = Decimal("1.5")


def _controller(tmp_path, *, route: str = "auto", with_dex: bool = True) -> tuple[Rig, Controller]:
    world = make_world(debt_usdt=162_745)  # HF ≈ 1.02, no stablecoins in the wallet
    dex = FakeDex(world) if with_dex else None
    rig = Rig(tmp_path, clock=world.clock, world=world, dex=dex if route != "cex" else None)
    policy = load_policy("threshold", {"trigger_hf": "1.3", "target_hf": str(TARGET)})
    plan_fn = policy_plan_fn(policy, limits=plan_limits(), venue=rig.venue, market="ETH/USDT", dex=dex, route=route)
    config = controller_config(
        collateral="WETH", debt="USDT", market="ETH/USDT", base_coin="ETH", quote_coin="USDT", interval_s=12
    )
    controller = Controller(
        executor=rig.executor(), lending=rig.lending, venue=rig.venue, clock=rig.clock, plan_fn=plan_fn, config=config
    )
    controller.dex_fallback = route != "cex"
    return rig, controller


def test_one_tick_restores_hf_1_02_to_the_target_through_the_dex(tmp_path):
    rig, controller = _controller(tmp_path)
    tick = controller.tick()
    assert tick.outcome is TickOutcome.EXECUTED and tick.result.status is BatchStatus.DONE
    (batch,) = rig.journal.batches()
    assert batch.spec["route"] == "dex" and batch.spec["note"].startswith("dex: CEX cannot withdraw at HF 1.02")
    assert [r.step for r in rig.journal.steps(batch.id)] == ["atomic_deleverage", "verify"]
    assert health_factor_wad(rig.world.position) >= decimal_to_wad(TARGET)
    assert [t.kind for t in rig.world.txs] == ["atomic"]


def test_route_cex_keeps_the_cex_path_blocked_as_before(tmp_path):
    rig, controller = _controller(tmp_path, route="cex")
    tick = controller.tick()
    assert tick.outcome is TickOutcome.IDLE and "blocked" in tick.reason
    assert rig.world.txs == [] and rig.dex is None


def test_an_exchange_that_does_not_answer_leaves_the_dex_to_act(tmp_path):
    rig, controller = _controller(tmp_path)
    rig.world.fault("order_book", *[RETRY] * 50)
    tick = controller.tick()
    assert tick.result is not None and tick.result.status is BatchStatus.DONE
    (batch,) = rig.journal.batches()
    assert batch.spec["route"] == "dex" and "the exchange does not answer" in batch.spec["note"]
    assert health_factor_wad(rig.world.position) >= decimal_to_wad(TARGET)


def test_without_the_dex_an_exchange_that_does_not_answer_fails_the_tick(tmp_path):
    rig, controller = _controller(tmp_path, route="cex")
    rig.world.fault("order_book", *[RETRY] * 50)
    with pytest.raises(DeleverError):
        controller.tick()


def test_reduce_only_sends_no_dex_batch(tmp_path):
    rig, controller = _controller(tmp_path)
    rig.journal.set_control(ControlState.REDUCE_ONLY, "test")
    controller.tick()
    assert rig.world.txs == []

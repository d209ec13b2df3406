"""A policy's restore-to-target intent is carried to its target across the trigger."""

from __future__ import annotations

from decimal import Decimal

from bot.domain.position import health_factor_wad
from bot.domain.wadray import WAD
from bot.engine.controller import Controller, policy_plan_fn
from strategies import load_policy
from tests.support.engine_kit import Rig, controller_config, plan_limits
from tests.support.fakes import make_world

TARGET = Decimal("1.6")


def _run(tmp_path, *, hold: bool, ticks: int = 12) -> tuple[Rig, list[int]]:
    world = make_world(debt_usdt=120_000)  # HF 1.383 < trigger 1.4
    rig = Rig(tmp_path, clock=world.clock, world=world)
    policy = load_policy("threshold", {"trigger_hf": "1.4", "target_hf": str(TARGET)})
    limits = plan_limits(
        hf_floor=Decimal("1.10"),
        max_slippage_bps=100,
        price_shock_bps=500,
        max_batch_usd=Decimal(10_000),
        min_batch_usd=Decimal(100),
    )
    plan_fn = policy_plan_fn(policy, limits=limits, venue=rig.venue, market="ETH/USDT", hold_to_target=hold)
    hfs: list[int] = []
    controller = Controller(
        executor=rig.executor(),
        lending=rig.lending,
        venue=rig.venue,
        clock=rig.clock,
        plan_fn=plan_fn,
        config=controller_config(
            collateral="WETH", debt="USDT", market="ETH/USDT", base_coin="ETH", quote_coin="USDT", interval_s=12
        ),
        on_snapshot=lambda s: hfs.append(health_factor_wad(s.position)),
    )
    assert controller.run(max_ticks=ticks) == 0
    return rig, hfs


def test_policy_plan_holding_the_target_unwinds_past_the_trigger_to_the_target(tmp_path):
    rig, hfs = _run(tmp_path, hold=True)
    final = health_factor_wad(rig.world.position)
    assert len(rig.journal.batches()) >= 3
    assert final * 1000 >= int(TARGET * 1000) * WAD - WAD  # reached the target (within 0.001)
    assert any(Decimal("1.4") * WAD < hf < TARGET * WAD for hf in hfs)  # it went on above the trigger
    assert hfs[-1] == hfs[-2]  # and then stopped: the hold ends at the target


def test_policy_plan_without_the_hold_stops_above_the_trigger(tmp_path):
    rig, _ = _run(tmp_path, hold=False)
    final = health_factor_wad(rig.world.position)
    assert Decimal("1.4") * WAD <= final < TARGET * WAD

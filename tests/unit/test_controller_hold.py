"""A policy's restore-to-target intent is carried to its target across the trigger, in the
journal (across restarts, ``run --once``, ticks without a batch), and ends at the target."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bot.domain.position import health_factor_wad
from bot.domain.wadray import WAD
from bot.engine.controller import Controller, TickOutcome, policy_plan_fn
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


# ---- the hold lives in the journal ---------------------------------------------------------


def _held_controller(rig: Rig, *, max_batch_usd: int = 10_000, cooldown_s: float = 0) -> Controller:
    """A fresh controller and plan function on ``rig``'s journal: what a new process builds."""
    policy = load_policy("threshold", {"trigger_hf": "1.4", "target_hf": str(TARGET)})
    limits = plan_limits(
        hf_floor=Decimal("1.10"),
        max_slippage_bps=100,
        price_shock_bps=500,
        max_batch_usd=Decimal(max_batch_usd),
        min_batch_usd=Decimal(100),
    )
    return Controller(
        executor=rig.executor(),
        lending=rig.lending,
        venue=rig.venue,
        clock=rig.clock,
        plan_fn=policy_plan_fn(policy, limits=limits, venue=rig.venue, market="ETH/USDT", hold_to_target=True),
        config=controller_config(interval_s=12, cooldown_s=cooldown_s),
    )


def _hf(rig: Rig) -> Decimal:
    return Decimal(health_factor_wad(rig.world.position)) / WAD


def test_run_once_carries_the_hold_from_one_process_to_the_next(tmp_path):
    world = make_world(debt_usdt=120_000)  # HF 1.383 < trigger 1.4
    rig = Rig(tmp_path, clock=world.clock, world=world)
    starts = []
    for _ in range(12):  # `delever run --once` twelve times: each a new process
        starts.append(_hf(rig))
        assert _held_controller(rig).run(once=True) == 0
        rig.restart()
    assert starts[0] < Decimal("1.4") < starts[2]  # the second run on already starts above the trigger
    assert _hf(rig) >= TARGET - Decimal("0.001")
    assert len(rig.journal.batches()) >= 3
    assert rig.journal.hold() is None  # released at the target


def test_a_batch_that_reaches_the_target_releases_the_hold_before_any_later_tick(tmp_path):
    world = make_world(debt_usdt=120_000)
    rig = Rig(tmp_path, clock=world.clock, world=world)
    controller = _held_controller(rig, max_batch_usd=1_000_000, cooldown_s=3600)
    for _ in range(4):  # batches, a cooldown apart, until one ends at the target
        assert controller.tick().result is not None
        if _hf(rig) >= TARGET:
            break
        assert rig.journal.hold() is not None
        rig.clock.advance(3601)
    assert _hf(rig) >= TARGET
    assert rig.journal.hold() is None  # released by the batch's end, before any later tick
    batches = len(rig.journal.batches())
    # The price falls during the cooldown: HF back under the target, still above the trigger.
    rig.world.set_reserve("USDT", debt=rig.world.reserve("USDT").debt * 103 // 100)
    assert Decimal("1.4") < _hf(rig) < TARGET
    rig.clock.advance(3601)
    assert controller.tick().outcome is TickOutcome.IDLE  # no batch above the trigger
    assert len(rig.journal.batches()) == batches


def test_the_hold_survives_a_tick_without_a_batch_and_a_restart(tmp_path):
    world = make_world(debt_usdt=120_000)
    rig = Rig(tmp_path, clock=world.clock, world=world)
    controller = _held_controller(rig)
    while _hf(rig) <= Decimal("1.4"):
        assert controller.tick().result is not None
    assert rig.journal.hold() is not None and _hf(rig) < TARGET
    book = rig.world.book
    rig.world.book = replace(book, bids=book.bids[:1])  # a stall: too thin to sell into
    assert controller.tick().outcome is TickOutcome.IDLE
    assert rig.journal.hold() is not None
    rig.world.book = book
    rig.restart()
    batches = len(rig.journal.batches())
    assert _held_controller(rig).tick().outcome is TickOutcome.EXECUTED  # above the trigger: the hold goes on
    assert len(rig.journal.batches()) == batches + 1

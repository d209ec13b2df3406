"""Emergency batches: when the HF floor at the shocked price has blocked every withdrawal for
``limits.emergency_after_s``, the planner sizes batches against ``limits.emergency_hf_floor``
instead, marks them, and warns; the withdrawal guard then holds that floor; and the
controller counts how long the floor has blocked its plans."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import Position, Reserve, Snapshot, after_withdraw, decimal_to_wad, health_factor_wad, shocked
from bot.engine import guards
from bot.engine.batch_spec import BatchSpec
from bot.engine.book_model import synthetic_book
from bot.engine.plan_types import PlanStatus
from bot.engine.planner import plan
from strategies import Intent
from tests.support.engine_kit import plan_limits

D = Decimal
E8 = 10**8
WAD = 10**18


def position(*, hf: str) -> Position:
    """100 WETH at $2,000 (LT 83 %) against the USDT debt that gives HF ``hf``."""
    debt = int(D(100) * 2000 * D("0.83") / D(hf) * 10**6)
    return Position(
        (
            Reserve("WETH", 18, 2000 * E8, 8050, 8300, 10500, collateral=100 * WAD),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=debt),
        )
    )


def snap(pos: Position) -> Snapshot:
    return Snapshot(pos, 1, 1_770_000_000, book=synthetic_book(D(2000), D(5_000_000)))


# HF 1.08 at a 3 % shock is 1.0476: under the floor 1.05, over the emergency floor 1.01.
EMERGENCY = dict(hf_floor=D("1.05"), max_slippage_bps=50, price_shock_bps=300, emergency_hf_floor=D("1.01"))


def test_blocked_for_less_than_the_wait_stays_blocked_and_says_when_emergency_batches_start() -> None:
    limits = plan_limits(**EMERGENCY, emergency_after_s=3600, floor_blocked_for_s=1200.0)
    result = plan(snap(position(hf="1.08")), Intent.restore_hf("1.6"), limits=limits)
    assert result.status is PlanStatus.BLOCKED and result.batches == ()
    assert "blocked by the floor for 1200 s: emergency batches (HF ≥ 1.01 at the shocked price" in result.notes[0]


def test_blocked_for_the_wait_plans_emergency_batches_that_keep_the_emergency_floor_at_the_shock() -> None:
    limits = plan_limits(**EMERGENCY, emergency_after_s=3600, floor_blocked_for_s=3600.0)
    result = plan(snap(position(hf="1.08")), Intent.restore_hf("1.6"), limits=limits)
    assert result.status is PlanStatus.REACHES_TARGET
    first = result.batches[0]
    assert first.emergency and first.limited_by == "floor (emergency)"
    assert decimal_to_wad("1.01") <= first.hf_after_withdraw_shocked_wad < decimal_to_wad("1.0101")
    assert first.hf_after_repay_wad > first.hf_before_wad
    assert all(b.emergency for b in result.batches)  # the whole unwind under the emergency floor
    assert any(w.startswith("emergency: HF at a 3.00 % price shock is 1.0476") for w in result.warnings)
    assert first.to_dict()["emergency"] is True


def test_the_emergency_floor_at_or_above_the_floor_is_off() -> None:
    limits = plan_limits(**{**EMERGENCY, "emergency_hf_floor": D("1.05")}, floor_blocked_for_s=86_400.0)
    result = plan(snap(position(hf="1.08")), Intent.restore_hf("1.6"), limits=limits)
    assert result.status is PlanStatus.BLOCKED


def test_below_even_the_emergency_floor_the_plan_is_blocked() -> None:
    # HF 1.04 at a 3 % shock is 1.0088 < 1.01.
    limits = plan_limits(**EMERGENCY, floor_blocked_for_s=86_400.0)
    result = plan(snap(position(hf="1.04")), Intent.restore_hf("1.6"), limits=limits)
    assert result.status is PlanStatus.BLOCKED and result.batches == ()


def test_the_spec_journals_emergency_only_when_set() -> None:
    spec = BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=10**18, emergency=True)
    assert BatchSpec.from_payload(spec.to_payload()) == spec
    plain = BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=10**18)
    assert "emergency" not in plain.to_payload() and not BatchSpec.from_payload(plain.to_payload()).emergency


def test_the_guard_refuses_the_emergency_batch_under_the_floor_and_passes_it_under_the_emergency_floor() -> None:
    limits = plan_limits(**EMERGENCY, floor_blocked_for_s=3600.0)
    pos = position(hf="1.08")
    amount = plan(snap(pos), Intent.restore_hf("1.6"), limits=limits).batches[0].withdraw_units
    floor = guards.check_withdraw(pos, symbol="WETH", amount=amount, hf_floor_wad=decimal_to_wad("1.05"), shock_bps=300)
    emergency = guards.check_withdraw(
        pos, symbol="WETH", amount=amount, hf_floor_wad=decimal_to_wad("1.01"), shock_bps=300
    )
    assert not floor.ok and emergency.ok
    assert health_factor_wad(shocked(after_withdraw(pos, "WETH", amount), shock_bps=300, symbols={"WETH"})) >= (
        decimal_to_wad("1.01")
    )


def test_the_controller_waits_out_emergency_after_s_of_floor_blocked_plans_then_runs_an_emergency_batch(
    tmp_path,
) -> None:
    from bot.engine.controller import Controller, TickOutcome, policy_plan_fn
    from strategies import load_policy
    from tests.support.engine_kit import Rig, controller_config
    from tests.support.fakes import make_world

    world = make_world(debt_usdt=120_000)  # HF 1.383; at a 5 % shock 1.314 < floor 1.35
    rig = Rig(tmp_path, clock=world.clock, world=world)
    limits = plan_limits(
        hf_floor=D("1.35"),
        max_slippage_bps=100,
        price_shock_bps=500,
        max_batch_usd=D(1_000_000),
        min_batch_usd=D(100),
        emergency_hf_floor=D("1.2"),
        emergency_after_s=60,
    )
    policy = load_policy("threshold", {"trigger_hf": "1.4", "target_hf": "1.6"})
    controller = Controller(
        executor=rig.executor(hf_floor_wad=decimal_to_wad("1.35"), emergency_hf_floor_wad=decimal_to_wad("1.2")),
        lending=rig.lending,
        venue=rig.venue,
        clock=rig.clock,
        plan_fn=policy_plan_fn(policy, limits=limits, venue=rig.venue, market="ETH/USDT"),
        config=controller_config(interval_s=12),
        observer=rig.observer,
    )
    outcomes = []
    for _ in range(6):  # 0, 12, … 60 s of floor-blocked plans
        outcomes.append(controller.tick().outcome)
        rig.clock.advance(12)
    assert outcomes == [TickOutcome.IDLE] * 5 + [TickOutcome.EXECUTED]
    (batch,) = rig.journal.batches()
    assert batch.spec["emergency"] is True
    assert controller.observe().health_factor > D("1.383")

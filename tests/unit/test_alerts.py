"""Alerts that are heard and not a flood: a repeated alert is sent once per window (counted),
critical lines are logged at CRITICAL, and a daemon blocked below the policy's trigger says so
once, loudly, with the plan's own explanation and a metric."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.engine.controller import BLOCKED_REALERT_S, Controller, TickOutcome, policy_plan_fn
from bot.engine.metrics import Metrics
from bot.engine.notify import Observers
from bot.engine.planner import plan as make_plan
from strategies import load_policy, safe_decide
from tests.support.engine_kit import RecordingObserver, Rig, controller_config, plan_limits
from tests.support.fakes import make_world


class Now:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_divergence_alert_every_block_is_sent_once_per_window_and_counted():
    seen, now = RecordingObserver(), Now()
    observers = Observers(seen, repeat_after_s=600, now=now)
    for block in range(60):  # one a second for a minute, each with other numbers
        now.t = float(block)
        observers.alert("warning", f"trading paused: oracle {2000 + block} vs mid 1900.5: {500 + block} bps")
    assert len(seen.alerts) == 1
    observers.alert("warning", "batch b-1: sell refused: below minimum")  # another alert passes
    now.t = 700.0
    observers.alert("warning", "trading paused: oracle 2100 vs mid 1900.5: 1000 bps")
    assert [m for _, m in seen.alerts] == [
        "trading paused: oracle 2000 vs mid 1900.5: 500 bps",
        "batch b-1: sell refused: below minimum",
        "trading paused: oracle 2100 vs mid 1900.5: 1000 bps (and 59 more like it since the last alert)",
    ]


def test_alerts_are_not_held_back_without_a_window():
    seen = RecordingObserver()
    observers = Observers(seen)
    for _ in range(3):
        observers.alert("warning", "same")
    assert len(seen.alerts) == 3


def test_a_critical_alert_is_logged_at_critical(caplog):
    caplog.set_level(logging.INFO, logger="delever.notify")
    Observers().alert("critical", "halted: review")
    Observers().alert("warning", "tick failed")
    levels = {r.getMessage(): r.levelno for r in caplog.records}
    assert levels == {
        "alert [critical] halted: review": logging.CRITICAL,
        "alert [warning] tick failed": logging.WARNING,
    }


# ---- blocked below the trigger -------------------------------------------------------------

LIMITS = plan_limits(
    hf_floor=Decimal("1.35"),  # at a 5 % shock HF 1.383 is 1.31: below the floor, no withdrawal
    max_slippage_bps=100,
    price_shock_bps=500,
    max_batch_usd=Decimal(1_000_000),
    min_batch_usd=Decimal(100),
)


def _blocked_rig(tmp_path):
    world = make_world(debt_usdt=120_000)  # HF 1.383 < trigger 1.4
    rig = Rig(tmp_path, clock=world.clock, world=world)
    metrics = Metrics()
    observers = Observers(rig.observer, metrics)
    policy = load_policy("threshold", {"trigger_hf": "1.4", "target_hf": "1.6"})
    controller = Controller(
        executor=rig.executor(),
        lending=rig.lending,
        venue=rig.venue,
        clock=rig.clock,
        plan_fn=policy_plan_fn(policy, limits=LIMITS, venue=rig.venue, market="ETH/USDT"),
        config=controller_config(interval_s=12),
        observer=observers,
    )
    return rig, metrics, controller, policy


def _critical(rig):
    return [m for level, m in rig.observer.alerts if level == "critical"]


def test_blocked_below_the_trigger_raises_one_critical_alert_with_the_plans_explanation(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    rig, metrics, controller, policy = _blocked_rig(tmp_path)
    for _ in range(5):  # five blocks
        assert controller.tick().outcome is TickOutcome.IDLE
        rig.clock.advance(12)
    (alert,) = _critical(rig)
    snapshot = controller.observe()  # what `delever plan` sees: the same words
    intent = safe_decide(policy, snapshot).intent
    explained = make_plan(snapshot, intent, limits=LIMITS, rules=rig.venue.rules("ETH/USDT"))
    assert explained.blocked and "add collateral or repay ≥" in explained.notes[-1]
    assert alert == f"blocked below the policy's trigger at HF 1.3833 (floor): {explained.notes[-1]}"
    assert 'delever_blocked{reason="floor"} 1.0' in metrics.text()
    assert any(r.levelno == logging.CRITICAL and "blocked below" in r.getMessage() for r in caplog.records)
    # Still blocked later: raised again after the bounded interval.
    rig.clock.advance(BLOCKED_REALERT_S)
    controller.tick()
    assert len(_critical(rig)) == 2


def test_unblocked_the_metric_drops_to_zero(tmp_path):
    rig, metrics, controller, _ = _blocked_rig(tmp_path)
    controller.tick()
    rig.world.set_reserve("USDT", debt=100_000 * 10**6)  # repaid from outside: HF 1.66
    controller.tick()
    assert 'delever_blocked{reason="floor"} 0.0' in metrics.text()
    assert rig.observer.alerts[-1] == ("info", "no longer blocked (floor)")
    assert len(_critical(rig)) == 1


def test_the_daemon_holds_repeats_back_and_its_metrics_follow_the_control_state(tmp_path):
    from bot.compose.daemon import build_runtime
    from bot.engine.journal import ControlState
    from tests.support.compose_kit import fake_adapters, settings

    world = make_world(debt_usdt=130_000)
    runtime = build_runtime(settings(tmp_path), live_flag=False, clock=world.clock, adapters=fake_adapters(world))
    assert runtime.controller.observer.gate.window_s == 600.0  # notify.repeat_after_s's default
    runtime.journal.set_control(ControlState.REDUCE_ONLY, "verify failed")
    runtime.controller.tick()
    assert "delever_control_state 1.0" in runtime.metrics.text()
    runtime.journal.close()

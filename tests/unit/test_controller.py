"""The daemon loop on fakes: once, re-planning, pauses, caps, fail-closed, stop and resume."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from decimal import Decimal

import pytest

from bot.engine.controller import Controller, ControllerConfig, PlanChoice, TickOutcome, policy_plan_fn
from bot.engine.guards import KillSwitch
from bot.engine.journal import BatchStatus, ControlState
from strategies import load_policy
from tests.support.engine_kit import Rig, controller_config, plan_limits
from tests.support.fakes import E6, E18, REVIEW, Crash, crash_at, make_world


def _config(**kw) -> ControllerConfig:
    base = dict(collateral="WETH", debt="USDT", market="ETH/USDT", base_coin="ETH", quote_coin="USDT", interval_s=12)
    base.update(kw)
    return controller_config(**base)


class FixedPlan:
    """A plan function that asks for ``eth`` per batch until told otherwise."""

    def __init__(self, rig: Rig, eth: int = 5, times: int = 10**9) -> None:
        self.rig, self.eth, self.times, self.calls = rig, eth, times, []

    def __call__(self, snapshot, context):
        self.calls.append(context)
        if len(self.calls) > self.times:
            return PlanChoice(None, "done")
        return PlanChoice(self.rig.spec(self.eth), "test")


def _controller(rig: Rig, plan_fn, *, kill: KillSwitch | None = None, executor_kw=None, **cfg) -> Controller:
    kill = kill or KillSwitch()
    executor = rig.executor(stop_requested=lambda: kill.tripped, **(executor_kw or {}))
    return Controller(
        executor=executor,
        lending=rig.lending,
        venue=rig.venue,
        clock=rig.clock,
        plan_fn=plan_fn,
        config=_config(**cfg),
        stop_requested=lambda: kill.tripped,
    )


def test_controller_once_executes_the_first_batch_and_exits_zero(tmp_path):
    rig = Rig(tmp_path)
    plan = FixedPlan(rig)
    assert _controller(rig, plan).run(once=True) == 0
    assert [b.status for b in rig.journal.batches()] == [BatchStatus.DONE]
    assert rig.world.reserve("WETH").collateral == 95 * E18 and len(plan.calls) == 1


def test_controller_replans_after_each_batch_from_fresh_state(tmp_path):
    rig = Rig(tmp_path)
    plan = FixedPlan(rig, eth=5, times=3)
    assert _controller(rig, plan).run(max_ticks=5) == 0
    assert len(rig.journal.batches()) == 3 and len(plan.calls) == 5
    assert rig.world.reserve("WETH").collateral == 85 * E18


def test_controller_nothing_to_do_is_idle(tmp_path):
    rig = Rig(tmp_path)
    tick = _controller(rig, FixedPlan(rig, times=0)).tick()
    assert tick.outcome is TickOutcome.IDLE and rig.journal.batches() == []


def test_controller_oracle_divergence_pauses_trading(tmp_path):
    world = make_world()
    world.set_reserve("WETH", price=2200 * 10**8)
    rig = Rig(tmp_path, clock=world.clock, world=world)
    controller = _controller(rig, FixedPlan(rig))
    tick = controller.tick()
    assert tick.outcome is TickOutcome.PAUSED and "bps" in tick.reason
    assert rig.journal.batches() == [] and rig.observer.alerts


def test_controller_cooldown_pauses_between_batches(tmp_path):
    rig = Rig(tmp_path)
    controller = _controller(rig, FixedPlan(rig), cooldown_s=600)
    assert controller.tick().outcome is TickOutcome.EXECUTED
    assert controller.tick().outcome is TickOutcome.PAUSED
    rig.clock.advance(600)
    assert controller.tick().outcome is TickOutcome.EXECUTED


def test_controller_daily_cap_reached_turns_batches_into_sweeps(tmp_path):
    world = make_world(idle_wallet_usdt=100)
    rig = Rig(tmp_path, clock=world.clock, world=world)
    controller = _controller(rig, FixedPlan(rig), max_daily_usd=Decimal("5000"))
    first = controller.tick()  # sells ~10,000 USDT of ETH: over the cap afterwards
    assert first.result.status is BatchStatus.DONE
    world.wallet["USDT"] += 50 * E6
    second = controller.tick()
    assert second.outcome is TickOutcome.EXECUTED
    assert rig.journal.step(second.result.batch_id, "withdraw").status.value == "SKIPPED"
    assert rig.journal.step(second.result.batch_id, "repay_idle").status.value == "OK"


def test_controller_sweeps_idle_exchange_funds_without_a_plan(tmp_path):
    world = make_world(idle_exchange_usdt=Decimal(300))
    world.exchange["ETH"] = Decimal(2)
    rig = Rig(tmp_path, clock=world.clock, world=world)
    tick = _controller(rig, FixedPlan(rig, times=0)).tick()
    assert tick.result.status is BatchStatus.DONE
    assert world.exchange == {"ETH": Decimal(0), "USDT": Decimal(0)}
    assert world.reserve("WETH").collateral == 100 * E18


def test_controller_consecutive_failures_halt_fail_closed(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("snapshot", *["timeout"] * 50)  # every observation fails
    controller = _controller(rig, FixedPlan(rig), max_consecutive_failures=3)
    assert controller.run() == 1
    state, reason = rig.journal.control()
    assert state is ControlState.HALTED and "3 consecutive" in reason
    assert any(level == "critical" for level, _ in rig.observer.alerts)


def test_controller_policy_error_counts_as_a_failure(tmp_path):
    rig = Rig(tmp_path)
    policy = load_policy("threshold")

    def broken(snapshot, params):
        raise ZeroDivisionError("oops")

    from dataclasses import replace

    plan_fn = policy_plan_fn(
        replace(policy, decide_fn=broken), limits=plan_limits(), venue=rig.venue, market="ETH/USDT"
    )
    controller = _controller(rig, plan_fn, max_consecutive_failures=2)
    assert controller.run() == 1
    assert "ZeroDivisionError" in rig.journal.control()[1]


def test_controller_needs_review_stops_with_exit_one(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("sell", REVIEW)
    assert _controller(rig, FixedPlan(rig)).run() == 1
    assert rig.journal.control()[0] is ControlState.HALTED
    assert _controller(rig, FixedPlan(rig)).run(once=True) == 1  # stays halted across restarts


def test_controller_kill_switch_file_stops_before_the_next_step_and_resumes_later(tmp_path):
    rig = Rig(tmp_path)
    kill_file = tmp_path / "STOP"
    kill = KillSwitch(kill_file)
    rig.world.credit_delay_s = 30
    rig.clock.on_sleep.append(lambda _now: kill_file.touch())  # appears while the deposit is in flight
    assert _controller(rig, FixedPlan(rig), kill=kill).run() == 0
    (batch,) = rig.journal.open_batches()
    kill_file.unlink()
    rig.clock.on_sleep.pop()
    rig.restart()
    assert _controller(rig, FixedPlan(rig, times=0)).run(once=True) == 0  # the first tick resumes it
    assert rig.journal.batch(batch.id).status is BatchStatus.DONE
    assert all(n == 1 for n in rig.world.tx_effects_per_key().values())


def test_controller_sigterm_lets_the_current_step_finish_then_exits_zero(tmp_path):
    rig = Rig(tmp_path)
    kill = KillSwitch()
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}
    kill.install_signal_handlers()
    try:
        sent = {"done": False}

        def on_sleep(_now):
            if not sent["done"]:
                sent["done"] = True
                os.kill(os.getpid(), signal.SIGTERM)

        rig.clock.on_sleep.append(on_sleep)
        assert _controller(rig, FixedPlan(rig), kill=kill).run() == 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    assert kill.reason == "received SIGTERM"
    (batch,) = rig.journal.open_batches()
    assert all(r.status.terminal or r.status.value == "PENDING" for r in rig.journal.steps(batch.id))


def test_controller_resumes_a_crashed_batch_before_planning(tmp_path):
    rig = Rig(tmp_path)
    with pytest.raises(Crash):
        rig.executor(crash=crash_at("after_act:sell")).execute(rig.spec(5), rig.lending.snapshot())
    rig.restart()
    plan = FixedPlan(rig)
    tick = _controller(rig, plan).tick()
    assert tick.reason.startswith("resumed 1") and plan.calls == []
    assert rig.journal.batches()[0].status is BatchStatus.DONE and len(rig.world.orders) == 1


def test_controller_after_a_failed_verify_keeps_going_reduce_only(tmp_path):
    world = make_world(bid_levels=(("2000", "0"),))
    rig = Rig(tmp_path, clock=world.clock, world=world)
    real_sell = rig.venue.sell

    def sell_and_misplace(**kwargs):  # the deposit vanishes from the balance: verify cannot explain HF
        result = real_sell(**kwargs)
        world.exchange["ETH"] = Decimal(0)
        return result

    rig.venue.sell = sell_and_misplace
    controller = _controller(rig, FixedPlan(rig))
    assert controller.run(max_ticks=1) == 0
    assert rig.journal.control()[0] is ControlState.REDUCE_ONLY
    rig.venue.sell = real_sell
    world.exchange["ETH"] = Decimal(5)  # found again
    world.book = make_world().book
    assert controller.run(max_ticks=1) == 0  # sweeps the 5 ETH on the exchange, withdraws nothing
    assert world.reserve("WETH").collateral == 95 * E18 and world.exchange["ETH"] == 0


def test_controller_sells_what_waits_on_the_exchange_before_withdrawing_more(tmp_path):
    # A thin book filled 2 of 5 ETH: the next tick sells the 3 left on the exchange first (the
    # plan's withdrawal was sized without them), and only the tick after withdraws again.
    world = make_world(bid_levels=(("2000", "2"), ("1500", "100")))
    rig = Rig(tmp_path, clock=world.clock, world=world)
    controller = _controller(rig, FixedPlan(rig, eth=5))
    first = controller.tick()
    assert first.result.status is BatchStatus.DONE and world.exchange["ETH"] == 3
    world.book = make_world().book
    second = controller.tick()
    assert rig.journal.step(second.result.batch_id, "withdraw").status.value == "SKIPPED"
    assert world.exchange["ETH"] == 0 and world.reserve("WETH").collateral == 95 * E18
    third = controller.tick()
    assert rig.journal.step(third.result.batch_id, "withdraw").status.value == "OK"
    assert world.reserve("WETH").collateral == 90 * E18
    assert rig.journal.control()[0] is ControlState.NORMAL


def test_controller_with_the_threshold_policy_and_the_planner_deleverages(tmp_path):
    world = make_world(debt_usdt=130_000)  # HF = 200k·0.83/130k ≈ 1.277 < trigger 1.4
    rig = Rig(tmp_path, clock=world.clock, world=world)
    policy = load_policy("threshold", {"trigger_hf": "1.4", "target_hf": "1.5"})
    limits = plan_limits(hf_floor=Decimal("1.10"), max_slippage_bps=100, price_shock_bps=500)
    plan_fn = policy_plan_fn(policy, limits=limits, venue=rig.venue, market="ETH/USDT")
    hf0 = world.position
    controller = _controller(rig, plan_fn, executor_kw={})
    assert controller.run(max_ticks=6) == 0
    from bot.domain.position import health_factor_wad

    assert health_factor_wad(world.position) > health_factor_wad(hf0)
    assert all(b.status is BatchStatus.DONE for b in rig.journal.batches())
    assert len(rig.journal.batches()) >= 1


def test_controller_failed_tick_then_success_resets_the_failure_count(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("snapshot", "timeout", "timeout")
    controller = _controller(rig, FixedPlan(rig, times=0), max_consecutive_failures=3)
    assert controller.run(max_ticks=3) == 0  # fail, fail, succeed
    assert controller.failures == 0 and len(rig.observer.alerts) == 2
    assert rig.journal.control()[0] is ControlState.NORMAL


def test_controller_without_a_plan_leaves_the_wallets_stablecoins_alone(tmp_path):
    # The owner's USDT in the wallet is not the bot's to spend unless a plan asks for it.
    world = make_world(idle_wallet_usdt=50_000)
    rig = Rig(tmp_path, clock=world.clock, world=world)
    tick = _controller(rig, FixedPlan(rig, times=0)).tick()
    assert tick.outcome is TickOutcome.IDLE
    assert world.wallet["USDT"] == 50_000 * E6
    assert world.reserve("USDT").debt == 120_000 * E6


def test_controller_repays_exactly_the_planned_idle_amount(tmp_path):
    world = make_world(idle_wallet_usdt=50_000)
    rig = Rig(tmp_path, clock=world.clock, world=world)

    def plan_idle_repay(snapshot, context):
        spec = replace(rig.spec(0), repay_idle_amount=20_000 * E6)
        return PlanChoice(spec, "restore HF from idle funds")

    tick = _controller(rig, plan_idle_repay).tick()
    assert tick.result.status is BatchStatus.DONE
    assert world.wallet["USDT"] == 30_000 * E6
    assert world.reserve("USDT").debt == 100_000 * E6

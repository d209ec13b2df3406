"""The daemon's engine as a backtest actor: at an event bar, ``Controller.tick()`` runs exactly
as in ``delever run`` — divergence pause, cooldown, daily cap, the policy and the planner
(``policy_plan_fn``, with ``hold_to_target`` held in its journal as in the daemon), a sweep of idle funds — and its ``Executor``
runs the batch's journaled steps (repay_idle, withdraw under ``check_withdraw``, unwrap,
deposit, await_deposit, sell at the executor's floor from the book mid, withdraw_quote,
await_quote, repay, verify) against the simulated adapters. The journal is an in-memory
SQLite; the executor's polls move the simulated clock.

What the runner needs to know of it (``wake``): the policy's declared wake bounds, the
cooldown's end, and "every bar" while the daemon would act on any tick (funds idle on the
exchange, a held target, an open batch).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.backtest.runner import NEVER, GateFn, Sim, Wake
from bot.compose.configs import SimulatedEngine
from bot.domain.position import to_units
from bot.domain.snapshot import Snapshot
from bot.engine import guards
from bot.engine.controller import Controller, PlanChoice, PlanContext, PlanFn, PolicyError, TickOutcome
from bot.engine.executor import Executor, Observer, VerifyFailed
from bot.engine.journal import MEMORY, BatchStatus, ControlState, Journal, StepStatus
from bot.engine.steps import BatchSpec, sold_quote_between
from bot.errors import Halt

JOURNAL_TAG = "bt"


class EventObserver(Observer):
    """The executor's alerts and finished batches, as backtest events."""

    def __init__(self, sim: Sim) -> None:
        self.world = sim.world
        self.journal: Journal | None = None

    def step_done(self, *, batch_id: str, step: str, status: StepStatus, seconds: float) -> None:
        return None

    def batch_done(self, *, batch_id: str, status: BatchStatus, accounting: dict[str, Any]) -> None:
        reason = accounting.get("reason", "")
        if self.journal is not None:
            spec = BatchSpec.from_payload(self.journal.batch(batch_id).spec)
            order = spec.order if spec.withdraw_amount > 0 else "sweep"
            orders = self.world.ledger.batch_orders
            orders[order] = orders.get(order, 0) + 1
        self.world.event(self.world.now, "batch-done", f"{batch_id} {status.value}{': ' + reason if reason else ''}")

    def alert(self, level: str, message: str) -> None:
        self.world.event(self.world.now, f"alert-{level}", message)


class EngineActor:
    """Runs a ``PlanFn`` (a policy through the planner, or a reference strategy's own sizing)
    through the real controller and executor."""

    def __init__(
        self,
        name: str,
        engine: SimulatedEngine,
        plan_fn: Any,
        *,
        wake_hf: Decimal | None,
        gate: GateFn | None = None,
        record: bool = False,
    ) -> None:
        self.name = name
        self.engine = engine
        self._make_plan_fn = plan_fn  # (venue) -> PlanFn: bound once the simulated venue exists
        self.wake_hf = wake_hf  # the policy's declared bound (also the report's trigger line)
        self._gate = gate
        self.record = record
        self.plans: list[tuple[Snapshot, PlanContext, PlanChoice]] = []
        self.ticks: list[tuple[int, str, str]] = []  # (t, outcome, reason) of the ticks that were not idle
        self.halted = False
        self._failures = 0

    def bind(self, sim: Sim) -> None:
        self.sim = sim
        observer = EventObserver(sim)
        self.journal = Journal(MEMORY, clock=sim.clock, lock=False, tag=JOURNAL_TAG)
        observer.journal = self.journal
        # The revolving buffer the config lets the bot spend and refill: the fund's own cash,
        # in the wallet from the start (the metrics take it out of the equity again).
        buffer = to_units(self.engine.limits.buffer_usd, sim.world.pair.debt_decimals)
        sim.world.wallet[sim.world.pair.debt] += buffer
        sim.world.funded_units += buffer
        self.executor = Executor(
            journal=self.journal,
            lending=sim.lending,
            venue=sim.venue,
            clock=sim.clock,
            config=self.engine.executor,
            observer=observer,
            crash=_never,
        )
        inner: PlanFn = self._make_plan_fn(sim.venue)
        plan_fn = inner
        if self.record:

            def plan_fn(snapshot: Snapshot, context: PlanContext) -> PlanChoice:
                choice = inner(snapshot, context)
                self.plans.append((snapshot, context, choice))
                return choice

        self.controller = Controller(
            executor=self.executor,
            lending=sim.lending,
            venue=sim.venue,
            clock=sim.clock,
            plan_fn=plan_fn,
            config=self.engine.controller,
            observer=observer,
        )

    def wake(self) -> Wake:
        if self.halted:
            return Wake(NEVER)
        cfg = self.engine.controller
        last = self.journal.last_batch_finished_at()
        not_before = 0.0 if last is None or cfg.cooldown_s <= 0 else last + cfg.cooldown_s
        if self._idle_funds() or self.journal.open_batches():
            return Wake(None, not_before=not_before)
        if self.journal.control()[0] is not ControlState.NORMAL:
            return Wake(NEVER)  # reduce-only until a human clears it: no plan can withdraw again
        if self.journal.hold() is not None:  # a held target: the daemon acts on every tick
            return Wake(None, not_before=not_before)
        return Wake(self.wake_hf, self._gate, max(not_before, self._daily_cap_reopens()))

    def _daily_cap_reopens(self) -> float:
        """When the daily cap leaves less than the smallest batch, the planner sizes nothing
        until the UTC day ends: no plan is worth asking for before then."""
        cap = self.engine.limits.max_daily_usd
        if cap is None:
            return 0.0
        day_start, day_end = guards.utc_day_bounds(self.sim.clock.now())
        left = cap - sold_quote_between(self.journal, day_start, day_end)
        smallest = max(self.engine.limits.min_batch_usd, self.sim.venue.rules_.min_notional)
        return day_end if left < smallest else 0.0

    def _idle_funds(self) -> bool:
        """What the controller would sweep without a plan: the bot's leftovers on the exchange."""
        w = self.sim.world
        if w.debt.balance == 0:
            return False
        p = w.pair
        usd = w.exchange[p.base] * Decimal(repr(w.collateral_price)) + w.exchange[p.quote]
        return usd >= self.engine.controller.sweep_min_usd

    def act(self) -> None:
        w = self.sim.world
        try:
            tick = self.controller.tick()
        except VerifyFailed as e:  # the journal is reduce-only now; the daemon keeps repaying
            self._failures = 0
            w.event(w.now, "verify-failed", str(e))
            return
        except Halt as e:
            self.halted = True
            w.event(w.now, "halted", str(e))
            return
        except PolicyError:
            raise  # a backtest of a broken policy measures nothing: the run fails loudly
        except Exception as e:  # noqa: BLE001 - the daemon counts failed ticks and halts at the limit
            self._failures += 1
            w.event(w.now, "tick-failed", f"{type(e).__name__}: {e}")
            if self._failures >= self.engine.controller.max_consecutive_failures:
                self.journal.set_control(ControlState.HALTED, f"{self._failures} consecutive failed ticks")
                self.halted = True
                w.event(w.now, "halted", f"{self._failures} consecutive failed ticks; last: {type(e).__name__}: {e}")
            return
        self._failures = 0
        if tick.outcome is not TickOutcome.IDLE:
            self.ticks.append((int(w.now), tick.outcome.value, tick.reason))
        if tick.outcome is TickOutcome.PAUSED and not tick.reason.startswith("cooldown"):
            w.event(w.now, "paused", tick.reason)


def _never(point: str) -> None:
    return None

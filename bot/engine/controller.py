"""The daemon loop: observe → decide → plan → execute one batch → observe again.

Each tick: finish any batch the journal holds OPEN; take a fresh snapshot (chain + the
exchange's book and balances); refuse to trade while the oracle and the exchange disagree;
respect the cooldown and the daily cap; ask the policy and the planner; execute the FIRST
batch of the plan only (the next tick re-plans from fresh state). With no plan but idle funds
(collateral or quote on the exchange, debt tokens in the wallet) it runs a sweep batch.

With ``max_in_flight`` > 1 a tick advances every open batch as far as it goes without waiting
(``Executor.advance``), opens the next one whenever a slot is free (sized by
``bot.engine.in_flight``: all collateral in transit counted as gone), and sleeps a poll
interval only when nothing moved: the batches' waits interleave instead of adding up.

When: with a ``head`` (the node's block number, one cheap call) and ``watch_blocks``, a tick
runs on every new block — the head is polled every ``head_poll_s`` — and right away when a
batch spanned blocks; otherwise every ``interval_s``.

Fail closed: ``max_consecutive_failures`` failed ticks in a row halt the journal with an
alert. ``Halt``/``NeedsReview`` stop the daemon (exit 1). A failed verify puts the journal in
REDUCE_ONLY and the daemon keeps going with repays and sweeps only. The kill switch (file,
SIGTERM, SIGINT, SIGUSR1) ends the daemon within seconds with exit 0, even while a step waits
(the wait raises ``StopRequested``): the batch stays OPEN and resumes on the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import Any

from bot.clock import StopRequested
from bot.domain.position import from_units, wad_to_decimal
from bot.domain.snapshot import Snapshot
from bot.engine import guards
from bot.engine.blocked import Blocked, blocked_by
from bot.engine.executor import BatchResult, Executor, Observer, VerifyFailed
from bot.engine.hold import intent_from_payload, intent_payload
from bot.engine.in_flight import (
    GATED_STEPS,
    InFlight,
    floor_view,
    in_flight_of,
    landed_view,
    may_start,
    smaller_plan,
)
from bot.engine.journal import ControlState
from bot.engine.steps import BatchSpec, sold_quote_between
from bot.engine.volatility import read_price_history
from bot.errors import DeleverError, Halt
from bot.ports import Clock, Lending, Venue
from strategies.base import Intent

log = logging.getLogger("delever.controller")

# While blocked below the trigger, the critical alert is raised again this often even when the
# reason stays the same (and at once when the reason changes).
BLOCKED_REALERT_S = 900.0


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """Built by ``bot.compose.configs.controller_config`` from the settings (no defaults here:
    the settings schema owns every value)."""

    collateral: str  # Aave reserve symbols
    debt: str
    market: str
    base_coin: str
    quote_coin: str
    interval_s: float  # between ticks, when not watching blocks
    # Watch the head: tick once per new block (the head is polled every ``head_poll_s``),
    # and at least every ``max_tick_gap_s`` when no block comes (a stalled node).
    watch_blocks: bool
    head_poll_s: float
    max_tick_gap_s: float
    cooldown_s: float
    max_consecutive_failures: int
    max_daily_usd: Decimal | None
    max_oracle_divergence_bps: int
    sweep_min_usd: Decimal  # idle funds worth less than this stay where they are
    candles_timeframe: str  # the recent candles the shock's σ comes from (exchange.candles_*)
    candles_limit: int
    # Batches in flight at once; 1: the executor drives one batch to its end per tick.
    max_in_flight: int


@dataclass(frozen=True, slots=True)
class PlanContext:
    sold_today_usd: Decimal
    daily_remaining_usd: Decimal | None
    reduce_only: bool
    held: Intent | None = None  # the restore-to-target carried in the journal (engine.hold_to_target)
    # Batches in flight beside the one being planned (engine.max_in_flight > 1); the snapshot
    # is then ``in_flight.floor_view``: their collateral gone, their funds theirs.
    in_flight: tuple[InFlight, ...] = ()
    pipelined: bool = False  # engine.max_in_flight > 1: the plan's batches say how many are in flight
    # How long the plans have been blocked by the HF floor (emergency batches included): the
    # planner's emergency floor waits for limits.emergency_after_s of it.
    floor_blocked_for_s: float = 0.0


@dataclass(frozen=True, slots=True)
class PlanChoice:
    spec: BatchSpec | None
    reason: str = ""
    detail: dict[str, Any] | None = None  # e.g. the plan's JSON, for logs
    blocked: Blocked | None = None
    hold: Intent | None = None  # the restore-to-target to carry after this tick (None: none)
    emergency: bool = False  # the batch is an emergency one (the floor still blocks the others)


PlanFn = Callable[[Snapshot, PlanContext], PlanChoice]


class PolicyError(DeleverError):
    """The policy raised or returned something invalid: counts as a failed tick."""


class TickOutcome(str, Enum):
    IDLE = "idle"
    EXECUTED = "executed"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Tick:
    outcome: TickOutcome
    reason: str = ""
    result: BatchResult | None = None


class Controller:
    def __init__(
        self,
        *,
        executor: Executor,
        lending: Lending,
        venue: Venue,
        clock: Clock,
        plan_fn: PlanFn,
        config: ControllerConfig,
        observer: Observer | None = None,
        stop_requested: Callable[[], bool] = lambda: False,
        stop_reason: Callable[[], str | None] = lambda: None,
        on_snapshot: Callable[[Snapshot], None] | None = None,
        head: Callable[[], int] | None = None,
    ) -> None:
        self.executor = executor
        self.journal = executor.journal
        self.lending = lending
        self.venue = venue
        self.clock = clock
        self.plan_fn = plan_fn
        self.config = config
        self.observer = observer or executor.observer
        self._stop_requested = stop_requested
        self._stop_reason = stop_reason
        self._on_snapshot = on_snapshot
        self._head = head
        self.failures = 0
        self.ticked_at_block: int | None = None  # the head when the last tick started
        self._blocked: Blocked | None = None  # what blocks the policy's ask now, if anything
        self._blocked_alerted_at = 0.0
        self._floor_blocked_since: float | None = None  # in memory: a restart waits afresh
        self._history_kind: str | None = None  # the kind of price history last logged
        self._shock_kind: str | None = None  # the bound that set the last logged shock
        # Set by the composition when a DEX route can act without the exchange: then an exchange
        # that does not answer leaves the snapshot without a book (the plan routes to the DEX)
        # instead of failing the tick.
        self.dex_fallback = False

    # ---- the loop --------------------------------------------------------------------------

    def run(self, *, once: bool = False, max_ticks: int | None = None) -> int:
        """Run until stopped; return the process exit code (0 stopped cleanly, 1 halted).

        A stop request ends the run within seconds wherever it arrives: between ticks, or out
        of any wait (``StopRequested`` from the clock); a batch in progress stays OPEN."""
        try:
            return self._loop(once=once, max_ticks=max_ticks)
        except StopRequested:
            self._log_stop()
            return 0

    def _log_stop(self) -> None:
        log.info("stopping: %s; the journal resumes on the next start", self._stop_reason() or "stop requested")

    def _loop(self, *, once: bool, max_ticks: int | None) -> int:
        ticks = 0
        while True:
            if self._stop_requested():
                self._log_stop()
                return 0
            self.ticked_at_block = self._read_head()
            try:
                tick = self.tick()
                self.failures = 0
                log.info("tick: %s %s", tick.outcome.value, tick.reason)
            except VerifyFailed:
                # The journal is REDUCE_ONLY now (the executor alerted); keep repaying.
                if once:
                    return 1
            except Halt as e:
                self.observer.alert("critical", f"halted: {e}")
                return 1
            except Exception as e:  # noqa: BLE001 - fail closed: count it, halt at the limit
                self.failures += 1
                self.observer.alert(
                    "warning",
                    f"tick failed ({self.failures}/{self.config.max_consecutive_failures}): {type(e).__name__}: {e}",
                )
                if self.failures >= self.config.max_consecutive_failures:
                    reason = f"{self.failures} consecutive failed ticks; last: {type(e).__name__}: {e}"
                    self.journal.set_control(ControlState.HALTED, reason)
                    self.observer.alert("critical", f"halted: {reason}")
                    return 1
                if once:
                    return 1
            ticks += 1
            if once or (max_ticks is not None and ticks >= max_ticks):
                return 0
            if self.failures:
                # A failed tick is retried after a short backoff, not at the next block: a
                # transient read error must not wait out a quiet chain (counted toward the halt).
                self._sleep(
                    min(self.config.max_tick_gap_s, max(1.0, self.config.head_poll_s) * 2 ** (self.failures - 1))
                )
            else:
                self.wait_for_next_tick()

    @property
    def watching_blocks(self) -> bool:
        return self.config.watch_blocks and self._head is not None

    def wait_for_next_tick(self) -> None:
        """Block mode: poll the head until it moves past the block the last tick started at
        (at once when a batch spanned blocks), or ``max_tick_gap_s`` passes. Interval mode:
        sleep ``interval_s``. A stop request ends either wait."""
        if not self.watching_blocks:
            self._sleep(self.config.interval_s)
            return
        cfg = self.config
        deadline = self.clock.now() + cfg.max_tick_gap_s
        while not self._stop_requested():
            head = self._read_head()
            if head is None or self.ticked_at_block is None or head > self.ticked_at_block:
                if head is None:
                    # The node does not answer: the tick's own reads retry, back off and count.
                    self._sleep(cfg.head_poll_s)
                return
            if self.clock.now() >= deadline:
                log.info("no new block for %.0f s (head %d): ticking anyway", cfg.max_tick_gap_s, head)
                return
            self._sleep(cfg.head_poll_s)

    def _read_head(self) -> int | None:
        if not self.watching_blocks:
            return None
        try:
            return int(self._head())  # type: ignore[misc]
        except Exception as e:  # noqa: BLE001 - a failed head read only means "tick now"
            log.warning("head block unreadable: %s", type(e).__name__)
            return None

    def _sleep(self, seconds: float) -> None:
        remaining = seconds
        while remaining > 0 and not self._stop_requested():
            step = min(1.0, remaining)
            self.clock.sleep(step)
            remaining -= step

    # ---- one tick --------------------------------------------------------------------------

    def tick(self) -> Tick:
        state, reason = self.journal.control()
        if state is ControlState.HALTED:
            raise Halt(f"the journal is halted for review: {reason}")
        if self.config.max_in_flight > 1:
            return self._pipelined_tick()
        open_batches = self.journal.open_batches()
        if len(open_batches) > 1:
            # Left in flight together by a pipelined run (max_in_flight lowered since): they
            # finish together, as they were started; one alone would miss the others' moves.
            return self._pipelined_tick(open_new=False)
        if open_batches:
            results = self.executor.resume()
            for done in results:
                self._release_hold_after(done)
            return Tick(TickOutcome.EXECUTED, f"resumed {len(results)} batch(es)", results[-1] if results else None)

        self.executor.check_foreign(batch_open=False)  # a warning: the snapshot below re-reads the wallet
        snapshot = self.observe()
        spec, paused = self._next_spec(snapshot, state)
        if paused is not None:
            return paused
        assert spec is not None
        result = self.executor.execute(spec, snapshot)
        self._release_hold_after(result)
        return Tick(TickOutcome.EXECUTED, f"batch {result.batch_id} {result.status.value}", result)

    def _next_spec(
        self, snapshot: Snapshot, state: ControlState, in_flight: tuple[InFlight, ...] = ()
    ) -> tuple[BatchSpec | None, Tick | None]:
        """The next batch to open (and no tick), or why none (a paused or idle tick)."""
        held = self._held_intent(snapshot)
        cfg = self.config
        oracle = guards.oracle_price_in_quote(snapshot.position, collateral=cfg.collateral, debt=cfg.debt)
        mid = snapshot.book.mid if snapshot.book is not None else None
        verdict = guards.check_divergence(oracle_price=oracle, exchange_mid=mid, max_bps=cfg.max_oracle_divergence_bps)
        if snapshot.book is None and self.dex_fallback:
            verdict = guards.OK  # no exchange price to compare; the DEX batch is capped against the oracle
        if not verdict.ok:
            self.observer.alert("warning", f"trading paused: {verdict.reason}")
            return None, Tick(TickOutcome.PAUSED, verdict.reason)

        now = self.clock.now()
        wait = guards.cooldown_remaining(
            last_finished_at=self.journal.last_batch_finished_at(), now=now, cooldown_s=cfg.cooldown_s
        )
        if wait > 0:
            return None, Tick(TickOutcome.PAUSED, f"cooldown: {wait:.0f} s left")

        day_start, day_end = guards.utc_day_bounds(now)
        sold_today = sold_quote_between(self.journal, day_start, day_end)
        remaining = guards.daily_cap_remaining(sold_today_usd=sold_today, max_daily_usd=cfg.max_daily_usd)
        since = self._floor_blocked_since
        context = PlanContext(
            sold_today,
            remaining,
            state is ControlState.REDUCE_ONLY,
            held,
            in_flight,
            cfg.max_in_flight > 1,
            floor_blocked_for_s=0.0 if since is None else now - since,
        )

        choice = self.plan_fn(snapshot, context)
        self._log_shock_source(choice.detail)
        self._carry_hold(held, choice.hold)
        self._report_blocked(snapshot, choice.blocked)
        floor_blocked = choice.emergency or (choice.blocked is not None and choice.blocked.reason == "floor")
        self._floor_blocked_since = (now if since is None else since) if floor_blocked else None
        spec = choice.spec
        if spec is not None and spec.atomic and context.reduce_only:
            spec = None  # reduce-only: no collateral leaves the pool, not even atomically
        if spec is not None and spec.atomic:
            pass  # one transaction: nothing waits on the exchange, nothing is swept
        elif spec is not None and spec.withdraw_amount > 0 and (context.reduce_only or remaining == 0):
            why = "reduce-only" if context.reduce_only else "daily cap reached"
            spec = replace(spec, withdraw_amount=0, note=f"{why}: sweep only")
        elif spec is not None and spec.withdraw_amount > 0 and self._base_waiting(snapshot, mid):
            # What an earlier sell could not fill goes first: the book sized this withdrawal
            # without it, and selling it raises HF before anything more leaves the pool.
            spec = replace(spec, withdraw_amount=0, note="selling the collateral waiting on the exchange first")
        if in_flight and spec is not None and spec.withdraw_amount > 0:
            # Beside batches in flight a batch spends nothing of the wallet's (their proceeds).
            spec = replace(spec, repay_idle_amount=0, refill_units=0)
        elif in_flight:
            spec = None  # idle funds wait until the batches in flight have landed
        elif spec is None:
            # Nothing planned: bring home only the bot's own leftovers on the exchange; the
            # wallet's stablecoins are the owner's and are spent only when a plan asks.
            spec = self._sweep_spec(snapshot, mid, include_wallet=False)
        elif spec.withdraw_amount == 0 and not self._has_idle_funds(snapshot, mid):
            spec = None
        if spec is None:
            return None, Tick(TickOutcome.IDLE, choice.reason or "nothing to do")
        return spec, None

    # ---- batches in flight (engine.max_in_flight > 1) ------------------------------------------

    def _pipelined_tick(self, *, open_new: bool = True) -> Tick:
        """Advance every open batch as far as it goes without waiting, oldest first; open a new
        one whenever a slot is free and something moved (``open_new``), sized with every batch
        in flight counted as gone; sleep a poll interval only when nothing moved. Returns once
        nothing is in flight and nothing more is planned (as one sequential tick ends with its
        batch)."""
        results: list[BatchResult] = []
        opened = 0
        moved, idle = True, Tick(TickOutcome.IDLE, "nothing to do")
        while True:
            if self._stop_requested():
                raise StopRequested("stop requested between batches in flight")
            in_flight = self._in_flight()
            for batch in in_flight:
                before = self._marks(batch.batch_id)
                result = self.executor.advance(batch.batch_id, gate=self._gate)
                if result is not None:
                    results.append(result)
                    self._release_hold_after(result)
                    moved = True
                elif self._marks(batch.batch_id) != before:
                    moved = True
            in_flight = self._in_flight()
            if open_new and moved and len(in_flight) < self.config.max_in_flight:
                not_opened = self._open_beside(in_flight)
                if not_opened is None:
                    opened += 1
                    continue  # advance it at once
                idle = not_opened
            if not in_flight:
                break
            if not moved:
                self.clock.sleep(self.executor.config.poll_interval_s)
            moved = False
        if results or opened:
            last = results[-1] if results else None
            return Tick(TickOutcome.EXECUTED, f"{opened} batch(es) opened, {len(results)} closed", last)
        return idle

    def _open_beside(self, in_flight: tuple[InFlight, ...]) -> Tick | None:
        """Open the next batch beside those in flight, if the plan has one (None); else the
        tick that says why not."""
        state, reason = self.journal.control()
        if state is ControlState.HALTED:
            raise Halt(f"the journal is halted for review: {reason}")
        if any(b.spends_whole_wallet for b in in_flight):
            return Tick(TickOutcome.IDLE, "a batch that repays from the whole wallet runs alone")
        if any(b.on_exchange_base > 0 for b in in_flight):
            # Collateral already credited on the exchange is sold before more is withdrawn.
            return Tick(TickOutcome.IDLE, "selling the collateral on the exchange first")
        self.executor.check_foreign(batch_open=bool(in_flight))
        snapshot = self.observe()
        view = floor_view(snapshot, in_flight, base_coin=self.config.base_coin, quote_coin=self.config.quote_coin)
        spec, idle = self._next_spec(view, state, in_flight)
        if spec is None:
            return idle
        # Its start (what verify compares against) counts the batches in flight's collateral
        # as gone too: their withdrawals still to come are not this batch's doing.
        self.executor.open_batch(spec, replace(snapshot, position=view.position))
        return None

    def _in_flight(self) -> tuple[InFlight, ...]:
        return tuple(in_flight_of(b, self.journal.steps(b.id)) for b in self.journal.open_batches())

    def _marks(self, batch_id: str) -> tuple[tuple[str, str, int], ...]:
        return tuple((r.step, r.status.value, r.attempts) for r in self.journal.steps(batch_id))

    def _gate(self, batch_id: str, step: str) -> bool:
        """Whether a batch may journal its next step beside the others (``in_flight.may_start``)."""
        return step not in GATED_STEPS or may_start(step, batch_id, self._in_flight())

    # ---- the held target (engine.hold_to_target) ---------------------------------------------

    def _held_intent(self, snapshot: Snapshot) -> Intent | None:
        """The journal's held target; released the moment any observation sees HF at it."""
        payload = self.journal.hold()
        if payload is None:
            return None
        held = intent_from_payload(payload)
        hf = snapshot.health_factor
        if held is None or held.target_hf is None or hf is None or hf >= held.target_hf:
            self._release_hold(f"HF {'∞' if hf is None else f'{hf:.4f}'} observed")
            return None
        return held

    def _carry_hold(self, before: Intent | None, after: Intent | None) -> None:
        if after == before or (before is not None and after is not None and after.target_hf == before.target_hf):
            return  # the same target: no write per tick
        if after is None:
            self._release_hold("the policy's plan no longer carries it")
            return
        self.journal.set_hold(intent_payload(after))
        log.info("holding target HF %s until it is reached (%s)", after.target_hf, after.reason)

    def _release_hold_after(self, result: BatchResult) -> None:
        """A batch that ended at the target releases the hold at once: no batch may start
        above the trigger because of a target already reached."""
        hf_after = result.accounting.get("hf_after_wad")
        payload = self.journal.hold()
        if payload is None or hf_after is None:
            return
        hf = wad_to_decimal(int(hf_after))
        held = intent_from_payload(payload)
        if held is None or held.target_hf is None or hf is None or hf >= held.target_hf:
            self._release_hold(f"batch {result.batch_id} ended at HF {'∞' if hf is None else f'{hf:.4f}'}")

    def _release_hold(self, why: str) -> None:
        payload = self.journal.hold()
        if payload is None:
            return
        self.journal.set_hold(None)
        log.info("target HF %s: hold released (%s)", payload.get("target_hf"), why)

    # ---- blocked below the trigger -------------------------------------------------------------

    def _report_blocked(self, snapshot: Snapshot, blocked: Blocked | None) -> None:
        """Critical alert (and the ``delever_blocked`` metric) when the policy asks for a batch
        the plan cannot make; again when the reason changes or every ``BLOCKED_REALERT_S``."""
        now = self.clock.now()
        was = self._blocked
        if blocked is None:
            if was is not None:
                self._blocked = None
                self.observer.blocked(reason=None, detail="")
                self.observer.alert("info", f"no longer blocked ({was.reason})")
            return
        hf = snapshot.health_factor
        if was is None or was.reason != blocked.reason or now - self._blocked_alerted_at >= BLOCKED_REALERT_S:
            self._blocked_alerted_at = now
            self.observer.blocked(reason=blocked.reason, detail=blocked.explanation)
            self.observer.alert(
                "critical",
                f"blocked below the policy's trigger at HF {'∞' if hf is None else f'{hf:.4f}'} "
                f"({blocked.reason}): {blocked.explanation}",
            )
        self._blocked = blocked

    def observe(self) -> Snapshot:
        read = self.executor.read
        snapshot = read(self.lending.snapshot)
        try:
            book = read(lambda: self.venue.order_book(self.config.market))
            balances = read(self.venue.balances)
        except DeleverError as e:
            if not self.dex_fallback:
                raise
            log.warning("the exchange does not answer (%s): planning without it", type(e).__name__)
            return replace(snapshot, book=None, exchange_balances={})
        snapshot = replace(snapshot, book=book, exchange_balances=balances)
        cfg = self.config
        # A simulated lending brings its own bars (the backtest, where candles_limit is 0).
        if not snapshot.price_history and cfg.candles_limit > 0:
            history = read_price_history(
                self.venue, cfg.market, timeframe=cfg.candles_timeframe, limit=cfg.candles_limit
            )
            self._log_history_source(history.source)
            snapshot = replace(snapshot, price_history=history.points, price_history_source=history.source)
        if self._on_snapshot is not None:
            self._on_snapshot(snapshot)
        return snapshot

    def _log_history_source(self, source: str) -> None:
        """What the price history is (or why there is none), logged once per change."""
        kind = source.split(":", 1)[0]
        if kind != self._history_kind:
            level = logging.WARNING if source.startswith("candles unavailable") else logging.INFO
            log.log(level, "price history for the in-transit shock: %s", source)
            self._history_kind = kind

    def _log_shock_source(self, plan: dict[str, Any] | None) -> None:
        """Which bound set the plan's shock (volatility, floor, cap), logged once per change."""
        source = (plan or {}).get("shock_source")
        if not source or self._history_kind is None:  # only where candles are read (not a backtest)
            return
        kind = str(source).split(":", 1)[0]
        if kind != self._shock_kind:
            log.info("in-transit shock %s bps: %s", plan.get("shock_bps") if plan else "?", source)
            self._shock_kind = kind

    # ---- idle funds --------------------------------------------------------------------------

    def _idle_usd(self, snapshot: Snapshot, mid: Decimal | None, *, include_wallet: bool = True) -> Decimal:
        cfg = self.config
        debt = snapshot.position.reserve(cfg.debt)
        if debt.debt == 0:
            return Decimal(0)
        base = snapshot.exchange_balances.get(cfg.base_coin, Decimal(0))
        quote = snapshot.exchange_balances.get(cfg.quote_coin, Decimal(0))
        wallet = from_units(snapshot.wallet_balances.get(cfg.debt, 0), debt.decimals) if include_wallet else Decimal(0)
        return base * (mid or Decimal(0)) + quote + wallet

    def _base_waiting(self, snapshot: Snapshot, mid: Decimal | None) -> bool:
        base = snapshot.exchange_balances.get(self.config.base_coin, Decimal(0))
        return base * (mid or Decimal(0)) >= self.config.sweep_min_usd

    def _has_idle_funds(self, snapshot: Snapshot, mid: Decimal | None, *, include_wallet: bool = True) -> bool:
        return self._idle_usd(snapshot, mid, include_wallet=include_wallet) >= self.config.sweep_min_usd

    def _sweep_spec(self, snapshot: Snapshot, mid: Decimal | None, *, include_wallet: bool) -> BatchSpec | None:
        if not self._has_idle_funds(snapshot, mid, include_wallet=include_wallet):
            return None
        return BatchSpec(
            collateral=self.config.collateral,
            debt=self.config.debt,
            withdraw_amount=0,
            note="sweep idle funds",
            repay_idle_amount=None if include_wallet else 0,
        )


def policy_plan_fn(
    policy: Any,
    *,
    limits: Any,
    venue: Venue,
    market: str,
    costs: Any = None,
    model: Any = None,
    hold_to_target: bool = False,
    dex: Any = None,
    route: str = "cex",
) -> PlanFn:
    """Bind a loaded policy (``strategies.load_policy``) and the planner into a ``PlanFn``.

    ``hold_to_target``: once the policy asks to restore HF to a target (an intent with a
    ``target_hf`` and no ``max_sell`` slice), that target is held — in the journal, so across
    restarts, ``run --once``, failed batches and ticks without a batch — and batches go on
    even when the policy goes quiet in between, until HF reaches it; then the daemon stops. A
    batch is bounded by the HF floor, so one rarely reaches the target; a memoryless policy
    such as ``threshold`` (quiet from its trigger up) would otherwise stop the unwind between
    the trigger and the target. The controller releases the hold as soon as any observation
    (a tick's snapshot, or a batch's verified end) sees HF at the target.

    A fresh ask of the policy that the plan cannot meet comes back as ``PlanChoice.blocked``
    with the plan's explanation (``plan`` prints the same words).

    ``dex`` and ``route`` ("auto" | "cex" | "dex"): each batch's route (``bot.engine.routing``);
    a snapshot without a book (the exchange did not answer) forces the DEX.
    """
    from dataclasses import replace as dc_replace

    from bot.engine.plan_types import PlanCosts
    from bot.engine.planner import default_rules
    from bot.engine.planner import plan as make_plan
    from bot.engine.routing import Routing, route_plan
    from strategies import safe_decide

    def carried(held: Intent | None, snapshot: Snapshot) -> Intent | None:
        hf = snapshot.health_factor
        if held is None or held.target_hf is None or hf is None or hf >= held.target_hf:
            return None
        return held

    def plan_fn(snapshot: Snapshot, context: PlanContext) -> PlanChoice:
        # Beside batches in flight: the policy sees the pool as they will leave it; the batch
        # is the smaller of what the floor allows (all in transit gone) and what the target needs.
        floor = snapshot
        if context.in_flight:
            snapshot = landed_view(floor, context.in_flight)
        decision = safe_decide(policy, snapshot)
        if decision.error:
            raise PolicyError(f"policy {decision.policy}: {decision.error}")
        fresh = decision.intent
        held = carried(context.held, snapshot) if hold_to_target else None
        if hold_to_target and fresh is not None and fresh.target_hf is not None and fresh.max_sell is None:
            held = fresh
        intent = fresh
        if intent is None and held is not None:
            hf = snapshot.health_factor
            intent = dc_replace(held, reason=f"HF {hf:.4f} < target {held.target_hf}: continuing ({held.reason})")
        if intent is None:
            return PlanChoice(None, f"policy {decision.policy}: no action")
        plan_limits = dc_replace(
            limits, sold_today_usd=context.sold_today_usd, floor_blocked_for_s=context.floor_blocked_for_s
        )
        routed = dex is not None and route != "cex"
        exchange_down = routed and snapshot.book is None
        rules = default_rules(market) if exchange_down else venue.rules(market)
        the_plan = make_plan(snapshot, intent, limits=plan_limits, rules=rules, costs=costs, market=model)
        if context.in_flight:
            the_plan = smaller_plan(
                make_plan(floor, intent, limits=plan_limits, rules=rules, costs=costs, market=model), the_plan
            )
        if routed:
            the_plan = route_plan(
                the_plan,
                snapshot,
                intent,
                limits=plan_limits,
                costs=costs or PlanCosts(),
                routing=Routing(route, dex, "the exchange does not answer" if exchange_down else None),
            )
        detail = the_plan.to_dict()
        if context.pipelined:
            for planned in detail["batches"]:
                planned["in_flight"] = len(context.in_flight)
        batch = the_plan.next_batch
        if batch is None:
            return PlanChoice(
                None,
                f"plan {the_plan.status.value}: {the_plan.stop_reason}",
                detail,
                blocked=blocked_by(the_plan) if fresh is not None else None,
                hold=held,
            )
        fields: dict[str, Any] = dict(
            collateral=batch.collateral,
            debt=batch.debt,
            withdraw_amount=batch.withdraw_units if batch.kind == "unwind" else 0,
            expected_price=batch.expected_price,
            worst_price=batch.worst_price,
            note=f"{intent.reason} [{batch.kind}, limited by {batch.limited_by}]".strip(),
            repay_idle_amount=batch.repay_from_wallet_units,
            order=batch.order,
            refill_units=batch.refill_units,
            emergency=batch.emergency,
        )
        spec = BatchSpec(**{**fields, **_route_fields(batch)})
        return PlanChoice(spec, intent.reason, detail, hold=held, emergency=spec.emergency and not spec.atomic)

    return plan_fn


def _route_fields(batch: Any) -> dict[str, Any]:
    """A DEX batch's spec: the repay, the pool, and the cap as the collateral it may sell."""
    if batch.route != "dex":
        return {}
    return {
        "route": "dex",
        "dex_repay_units": batch.repay_units,
        "dex_pool_fee": batch.dex_pool_fee,
        "withdraw_amount": batch.dex_max_collateral_in_units,
        "repay_idle_amount": 0,
        "note": f"{batch.route_reason} [dex, limited by {batch.limited_by}]",
    }

"""The journaled executor: runs one batch as a saga of steps, and resumes it after a crash.

For each step: build the intent → commit it → count the attempt → act under the step's key
→ commit the outcome. After a crash, or an UNKNOWN outcome, the step is reconciled by its key
on the venue before anything is re-sent; a step whose intent was committed but whose attempt
counter is still 0 never reached a venue and simply acts.

- ``Rejected`` (incl. ``GuardRefused``) → the step is FAILED and the batch stops safely.
- ``RateLimited``/``Retryable`` → wait (``retry_after``), retry the same key, bounded.
- ``OutcomeUnknown`` → the step is UNKNOWN; wait a grace period, look the key up; nothing
  found → one re-send under the same key; still nothing → NEEDS_REVIEW. While the venue does
  not answer at all (``VenueUnreachable``) the lookups go on, alerting, until it answers or
  ``reconcile_timeout_s`` has passed since the outcome became unknown.
- ``NeedsReview``/``Halt`` → the journal is HALTED; a human decides.
- verify finds HF not raised → REDUCE_ONLY and a halt with an alert.
- a stop request (``StopRequested``: between steps, or out of any wait on the clock) pauses
  the batch: it stays OPEN, the waiting step PENDING/UNKNOWN as journalled, nothing FAILED or
  HALTED; the next start reconciles that step by its key and goes on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.clock import StopRequested
from bot.domain.snapshot import Snapshot
from bot.engine.batch_run import BatchRun, StepPorts
from bot.engine.batch_spec import BatchSpec, position_payload
from bot.engine.executor_config import ExecutorConfig
from bot.engine.foreign_activity import ForeignActivityCheck
from bot.engine.journal import BatchStatus, ControlState, Journal, StepRow, StepStatus
from bot.engine.outage import Outage
from bot.engine.steps import STEPS, Act, Kind, Refused, Skip, Step, account_batch, status_of
from bot.errors import (
    DeleverError,
    GuardRefused,
    Halt,
    NeedsReview,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Retryable,
    VenueUnreachable,
)
from bot.ports import Clock, Lending, Outcome, Venue

log = logging.getLogger("delever.executor")

CRASH_ENV = "DELEVER_CRASH_AT"
T = TypeVar("T")


class RetriesExhausted(DeleverError):
    """A read or a refused write kept failing: the batch stays OPEN; the controller counts it."""


class VerifyFailed(Halt):
    """The batch did not raise HF: the journal is REDUCE_ONLY until a human clears it."""


def crash_from_env() -> Callable[[str], None]:
    """The crash hook for kill-at-every-step tests: ``DELEVER_CRASH_AT=<point>`` makes the
    process die at that point as a SIGKILL would (exit 137, no cleanup, no flush)."""
    target = os.environ.get(CRASH_ENV)
    if not target:
        return _no_crash

    def crash(point: str) -> None:
        if point == target:
            os._exit(137)

    return crash


def _no_crash(point: str) -> None:
    return None


class Observer:
    """Where the executor reports; metrics and notifications implement it. No-op by default."""

    def step_done(self, *, batch_id: str, step: str, status: StepStatus, seconds: float) -> None: ...

    def batch_done(self, *, batch_id: str, status: BatchStatus, accounting: dict[str, Any]) -> None: ...

    def alert(self, level: str, message: str) -> None: ...

    def blocked(self, *, reason: str | None, detail: str) -> None:
        """The daemon is (``reason``) or is no longer (None) blocked below the policy's trigger."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    batch_id: str
    status: BatchStatus
    accounting: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


class Executor:
    def __init__(
        self,
        *,
        journal: Journal,
        lending: Lending,
        venue: Venue,
        clock: Clock,
        config: ExecutorConfig,
        observer: Observer | None = None,
        stop_requested: Callable[[], bool] = lambda: False,
        crash: Callable[[str], None] | None = None,
    ) -> None:
        self.journal = journal
        self.lending = lending
        self.venue = venue
        self.clock = clock
        self.config = config
        self.observer = observer or Observer()
        self._stop_requested = stop_requested
        self._crash = crash or crash_from_env()
        # Set by the composition where the chain can tell foreign wallet activity (signing modes).
        self.foreign_check: ForeignActivityCheck | None = None

    # ---- entry points ----------------------------------------------------------------------

    def open_batch(self, spec: BatchSpec, snapshot: Snapshot) -> str:
        """Journal a new batch; first make sure no venue already knows its keys (a restored or
        shared journal would otherwise adopt someone else's orders and transactions)."""
        self._refuse_if_halted()
        batch_id = self.journal.peek_next_batch_id()
        self._probe_foreign(batch_id)
        start = position_payload(snapshot.position)
        start.update(block=snapshot.block, timestamp=snapshot.timestamp)
        opened = self.journal.open_batch(spec=spec.to_payload(), start=start)
        assert opened == batch_id, "one writer: the sequence cannot move under us"
        self._crash("after_open")
        return batch_id

    def execute(self, spec: BatchSpec, snapshot: Snapshot) -> BatchResult:
        return self.run_batch(self.open_batch(spec, snapshot))

    def resume(self) -> list[BatchResult]:
        """Finish every batch the journal holds OPEN, oldest first."""
        return [self.run_batch(row.id) for row in self.journal.open_batches()]

    def run_batch(self, batch_id: str) -> BatchResult:
        self._refuse_if_halted()
        run = BatchRun(self._ports(), self.journal, batch_id, alert=self.observer.alert)
        try:
            for step in STEPS:
                status = self._run_step(run, step)
                if status is StepStatus.NEEDS_REVIEW:
                    raise NeedsReview(f"{run.key(step.name)} is marked for review in the journal")
                if status is StepStatus.FAILED:
                    if step.failure_means_reduce_only:
                        raise VerifyFailed(f"batch {batch_id}: HF did not rise; reduce-only until reviewed")
                    return self._close(run, BatchStatus.FAILED, f"step {step.name} failed")
            self._crash("before_close")
            return self._close(run, BatchStatus.DONE, "")
        except VerifyFailed as e:
            self.journal.set_control(ControlState.REDUCE_ONLY, str(e))
            self._close(run, BatchStatus.HALTED, str(e))
            self.observer.alert("critical", str(e))
            raise
        except StopRequested:
            pending = [f"{r.step} {r.status.value}" for r in self.journal.steps(batch_id) if not r.status.terminal]
            log.info(
                "batch %s paused by a stop request (%s); it resumes on the next start",
                batch_id,
                ", ".join(pending) or "between steps",
            )
            raise
        except Halt as e:
            # The batch stays OPEN: once a human has cleared the halt it resumes from the journal.
            self.journal.set_control(ControlState.HALTED, f"{type(e).__name__}: {e}")
            self.observer.alert("critical", f"batch {batch_id} halted: {e}")
            raise

    # ---- one step --------------------------------------------------------------------------

    def _run_step(self, run: BatchRun, step: Step[Any, Any]) -> StepStatus:
        row = run.row(step.name)
        if row is None:
            if self._stop_requested():
                raise StopRequested(f"stopped before {run.batch_id}:{step.name}")
            row = self._write_intent(run, step)
        elif row.status is StepStatus.PENDING and Skip.from_payload(row.intent) is not None:
            row = self._write_outcome(run, step, StepStatus.SKIPPED)
        if row.status.terminal:
            return row.status
        if step.kind is Kind.WRITE and row.attempts == 0:
            # Before a new act. A step being reconciled (attempts > 0) goes first: after a crash,
            # the exchange's withdrawal may have landed before the journal learnt its txid.
            self.check_foreign(batch_open=True)
        started = time.perf_counter()
        try:
            if step.kind is Kind.WRITE:
                status = self._drive_write(run, step, row)
            else:
                status = self._drive_poll(run, step, row)
        except NeedsReview as e:
            self._write_outcome(run, step, StepStatus.NEEDS_REVIEW, error=str(e))
            raise
        self.observer.step_done(
            batch_id=run.batch_id, step=step.name, status=status, seconds=time.perf_counter() - started
        )
        return status

    def _write_intent(self, run: BatchRun, step: Step[Any, Any]) -> StepRow:
        key = run.key(step.name)
        try:
            prepared = self.read(lambda: step.prepare(run))
        except GuardRefused as e:
            run.remember(
                self.journal.write_intent(run.batch_id, step.name, key=key, intent=Refused(str(e)).to_payload())
            )
            row = self._write_outcome(run, step, StepStatus.FAILED, error=str(e))
            self.observer.alert("warning", f"batch {run.batch_id}: {step.name} refused: {e}")
            return row
        if isinstance(prepared, Skip):
            run.remember(self.journal.write_intent(run.batch_id, step.name, key=key, intent=prepared.to_payload()))
            self._crash(f"after_intent:{step.name}")
            row = self._write_outcome(run, step, StepStatus.SKIPPED)
            self._crash(f"after_outcome:{step.name}")
            return row
        row = run.remember(self.journal.write_intent(run.batch_id, step.name, key=key, intent=prepared.to_payload()))
        self._crash(f"after_intent:{step.name}")
        return row

    def _write_outcome(
        self,
        run: BatchRun,
        step: Step[Any, Any],
        status: StepStatus,
        *,
        outcome: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> StepRow:
        """Commit a step's outcome; the run keeps the row as committed (no read back)."""
        return run.remember(self.journal.write_outcome(run.batch_id, step.name, status, outcome=outcome, error=error))

    def _drive_write(self, run: BatchRun, step: Step[Any, Any], row: StepRow) -> StepStatus:
        cfg = self.config
        key, intent = row.key, step.intent_of(row)
        # attempts > 0: an act may have reached the venue (a crash, or an UNKNOWN): look first.
        must_reconcile = row.attempts > 0
        resubmits = retries = unknown_lookups = 0
        outage: Outage | None = None
        while True:
            act: Act[Any] | None = None
            if must_reconcile:
                try:
                    act = self.read(lambda: step.reconcile(run, key, intent))
                except VenueUnreachable as e:
                    if outage is None:
                        since = row.updated_at if row.status is StepStatus.UNKNOWN else self.clock.now()
                        outage = Outage(key, since=since, bound_s=cfg.reconcile_timeout_s)
                    self._wait_out(outage, e)
                    continue
                except OutcomeUnknown as e:
                    # The lookup itself was inconclusive (for a sell it re-sends under the same key).
                    unknown_lookups += 1
                    if unknown_lookups > cfg.max_retries:
                        raise NeedsReview(f"{key}: still unknown after {unknown_lookups} lookups ({e})") from None
                    self.clock.sleep(cfg.reconcile_grace_s)
                    continue
                if act is None:
                    if resubmits >= cfg.max_resubmits:
                        raise NeedsReview(f"{key}: outcome still unknown after {resubmits} re-send(s)")
                    resubmits += 1
                    log.warning("%s: not found on the venue; re-sending under the same key", key)
                if outage is not None:
                    self.observer.alert(
                        "info", f"{key}: the venue answers again after {outage.elapsed(self.clock.now()):.0f} s"
                    )
                    outage = None
            if act is None:
                self.journal.record_attempt(run.batch_id, step.name)
                self._crash(f"before_act:{step.name}")
                try:
                    act = step.act(run, key, intent)
                except RateLimited as e:
                    retries = self._backoff(key, retries, e.retry_after, e)
                    must_reconcile = False  # refused, not executed
                    continue
                except Retryable as e:
                    retries = self._backoff(key, retries, e.retry_after, e)
                    must_reconcile = False
                    continue
                except OutcomeUnknown as e:
                    self._write_outcome(run, step, StepStatus.UNKNOWN, error=str(e))
                    self._crash(f"after_unknown:{step.name}")
                    self.observer.alert("warning", f"{key}: outcome unknown ({e}); reconciling by key")
                    self.clock.sleep(cfg.reconcile_grace_s)
                    must_reconcile = True
                    continue
                except Rejected as e:
                    self._write_outcome(run, step, StepStatus.FAILED, error=str(e))
                    self.observer.alert("warning", f"{key} rejected: {e}")
                    return StepStatus.FAILED
                self._crash(f"after_act:{step.name}")
            act = self._settle(run, step, key, intent, act, row)
            status = status_of(act)
            payload = act.outcome.to_payload()
            self._write_outcome(run, step, status, outcome=payload, error=act.error)
            self._crash(f"after_outcome:{step.name}")
            if status is StepStatus.FAILED:
                self.observer.alert("warning", f"{key} failed: {act.error or payload}")
            return status

    def _settle(
        self, run: BatchRun, step: Step[Any, Any], key: str, intent: Any, act: Act[Any], row: StepRow
    ) -> Act[Any]:
        """Wait for an accepted write (a tx under its confirmation depth) to become final."""
        deadline = row.updated_at + self.config.transfer_timeout_s
        while act.status is Outcome.PENDING:
            if self.clock.now() > deadline:
                raise NeedsReview(f"{key}: still pending after {self.config.transfer_timeout_s:.0f} s")
            self.clock.sleep(self.config.poll_interval_s)
            found = self.read(lambda: step.reconcile(run, key, intent))
            if found is not None:
                act = found
        return act

    def _drive_poll(self, run: BatchRun, step: Step[Any, Any], row: StepRow) -> StepStatus:
        # From the last journal update: the intent, or a review that re-opened the step.
        deadline = row.updated_at + self.config.transfer_timeout_s
        intent = step.intent_of(row)
        while True:
            act = self.read(lambda: step.poll(run, row.key, intent))
            if act is not None:
                status = status_of(act)
                payload = act.outcome.to_payload()
                self._write_outcome(run, step, status, outcome=payload, error=act.error)
                self._crash(f"after_outcome:{step.name}")
                return status
            if self.clock.now() > deadline:
                raise NeedsReview(f"{row.key}: not landed after {self.config.transfer_timeout_s:.0f} s")
            if self._stop_requested():
                # Only reads so far: the step stays PENDING and resumes on restart.
                raise StopRequested(f"stopped while waiting on {row.key}")
            self.clock.sleep(self.config.poll_interval_s)

    # ---- helpers ---------------------------------------------------------------------------

    def read(self, fn: Callable[[], T]) -> T:
        """Run a read, retrying ``Retryable`` with backoff (reads are always safe to repeat)."""
        retries = 0
        while True:
            try:
                return fn()
            except Retryable as e:
                retries = self._backoff("read", retries, e.retry_after, e)

    def _wait_out(self, outage: Outage, error: VenueUnreachable) -> None:
        """One pause of an outage: alert (at its start, then as reminders), halt past the bound."""
        now = self.clock.now()
        outage.lookups += 1
        elapsed = outage.elapsed(now)
        if outage.exceeded(now):
            raise NeedsReview(
                f"{outage.key}: the venue has not answered for {elapsed:.0f} s "
                f"(exchange.reconcile_timeout_s = {outage.bound_s:.0f}); last: {error}"
            )
        if outage.alert_due(now):
            outage.alerted_at = now
            self.observer.alert(
                "warning",
                f"{outage.key}: outcome unknown and the venue does not answer ({error}); "
                f"looking it up by key for up to {outage.bound_s:.0f} s (unknown for {elapsed:.0f} s)",
            )
        if self._stop_requested():
            raise StopRequested(f"stopped while the venue was unreachable ({outage.key} stays UNKNOWN)")
        self.clock.sleep(outage.pause(self.config.reconcile_grace_s))

    def _backoff(self, what: str, retries: int, retry_after: float | None, error: Exception) -> int:
        retries += 1
        if retries > self.config.max_retries:
            raise RetriesExhausted(
                f"{what}: giving up after {retries - 1} retries ({type(error).__name__}: {error})"
            ) from None
        delay = retry_after if retry_after is not None else self.config.backoff_s * 2 ** (retries - 1)
        log.warning("%s: %s, retrying in %.1f s", what, type(error).__name__, delay)
        self.clock.sleep(delay)
        return retries

    def check_foreign(self, *, batch_open: bool) -> None:
        """Wallet activity no journal of ours explains: a halt while a batch is open (raises
        ``ForeignActivity``), a warning otherwise (``bot.engine.foreign_activity``)."""
        check = self.foreign_check
        if check is not None:
            self.read(lambda: check.check(batch_open=batch_open))

    def _ports(self) -> StepPorts:
        return StepPorts(lending=self.lending, venue=self.venue, config=self.config, read=self.read)

    def _probe_foreign(self, batch_id: str) -> None:
        ports = self._ports()
        for step in STEPS:
            found = step.probe(ports, f"{batch_id}:{step.name}")
            if found is not None:
                self._foreign(found)

    def _foreign(self, message: str) -> None:
        self.journal.set_control(ControlState.HALTED, message)
        self.observer.alert("critical", message)
        raise NeedsReview(message)

    def _refuse_if_halted(self) -> None:
        state, reason = self.journal.control()
        if state is ControlState.HALTED:
            raise Halt(f"the journal is halted for review: {reason}")

    def _close(self, run: BatchRun, status: BatchStatus, reason: str) -> BatchResult:
        accounting = account_batch(self.journal.steps(run.batch_id)).to_dict()
        if reason:
            accounting["reason"] = reason
        self.journal.close_batch(run.batch_id, status, accounting)
        self.observer.batch_done(batch_id=run.batch_id, status=status, accounting=accounting)
        return BatchResult(run.batch_id, status, accounting, reason)


def batch_accounting(rows: list[StepRow]) -> dict[str, Any]:
    """What moved, from the journal alone (strings for Decimals, ints for base units)."""
    return account_batch(rows).to_dict()


__all__ = [
    "CRASH_ENV",
    "BatchResult",
    "BatchRun",
    "Executor",
    "Observer",
    "RetriesExhausted",
    "StopRequested",
    "VerifyFailed",
    "batch_accounting",
    "crash_from_env",
]

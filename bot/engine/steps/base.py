"""The shape of a step: what the executor calls, what it journals, what it accounts for.

- WRITE: acts once on a venue under its key (``act``); an uncertain act is looked up by key
  (``reconcile``) before anything is re-sent.
- AWAIT: reads until a transfer has landed (``poll``); safe to repeat after a crash.
- CHECK: one read and a verdict (``poll``).

``prepare`` builds the typed intent from the journal (earlier outcomes) and fresh reads; it
returns ``Skip`` when there is nothing to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar

from bot.engine.batch_run import BatchRun, StepPorts
from bot.engine.journal import StepRow, StepStatus
from bot.engine.steps.accounting import BatchAccounting
from bot.engine.steps.payloads import Payload, TxOutcome
from bot.errors import OutcomeUnknown
from bot.ports import Outcome, TxResult

IntentT = TypeVar("IntentT", bound=Payload)
OutcomeT = TypeVar("OutcomeT", bound=Payload)


class Kind(str, Enum):
    WRITE = "write"
    AWAIT = "await"
    CHECK = "check"


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to do; journalled as the step's intent so a restart skips it too."""

    reason: str

    def to_payload(self) -> dict[str, Any]:
        return {"skipped": self.reason}

    @staticmethod
    def from_payload(payload: Mapping[str, Any]) -> Skip | None:
        reason = payload.get("skipped")
        return None if reason is None else Skip(str(reason))


@dataclass(frozen=True, slots=True)
class Refused:
    """A guard refused the step: journalled as its intent, with the step FAILED."""

    reason: str

    def to_payload(self) -> dict[str, Any]:
        return {"refused": self.reason}


@dataclass(frozen=True, slots=True)
class Act(Generic[OutcomeT]):
    """What a write or a poll found: OK, FAILED, or PENDING (accepted, not final yet)."""

    status: Outcome
    outcome: OutcomeT
    error: str | None = None  # why it failed, for the journal's error column and the alert


def status_of(act: Act[Any]) -> StepStatus:
    return {Outcome.OK: StepStatus.OK, Outcome.FAILED: StepStatus.FAILED}[act.status]


class Step(Generic[IntentT, OutcomeT]):
    """One step of a batch. Subclasses set the class attributes and the methods their kind uses."""

    name: ClassVar[str] = ""
    kind: ClassVar[Kind] = Kind.WRITE
    label: ClassVar[str] = ""  # what the daemon is doing while the step runs, for people
    # A failure here is not "this batch stopped" but "the engine may be wrong": the journal
    # goes reduce-only until a human clears it.
    failure_means_reduce_only: ClassVar[bool] = False
    intent_type: type[IntentT]
    outcome_type: type[OutcomeT]

    # ---- what the executor drives ----------------------------------------------------------

    def prepare(self, run: BatchRun) -> IntentT | Skip:
        raise NotImplementedError

    def act(self, run: BatchRun, key: str, intent: IntentT) -> Act[OutcomeT]:
        raise NotImplementedError

    def reconcile(self, run: BatchRun, key: str, intent: IntentT) -> Act[OutcomeT] | None:
        """The venue's view of ``key``: None when it never saw it."""
        raise NotImplementedError

    def poll(self, run: BatchRun, key: str, intent: IntentT) -> Act[OutcomeT] | None:
        raise NotImplementedError

    def probe(self, ports: StepPorts, key: str) -> str | None:
        """Before a batch opens: why a venue already knowing ``key`` (someone else's journal
        used it), or None. Steps that never act on a venue under their key find nothing."""
        return None

    def account(self, row: StepRow, acc: BatchAccounting) -> BatchAccounting:
        """This step's part of the batch's accounting (most steps move nothing of their own)."""
        return acc

    # ---- typed reads of the journal --------------------------------------------------------

    def intent_of(self, row: StepRow) -> IntentT:
        return self.intent_type.from_payload(row.intent)

    def outcome_of(self, row: StepRow) -> OutcomeT | None:
        return None if not row.outcome else self.outcome_type.from_payload(row.outcome)

    def ok_intent(self, run: BatchRun) -> IntentT | None:
        row = run.ok_row(self.name)
        return None if row is None else self.intent_of(row)

    def ok_outcome(self, run: BatchRun) -> OutcomeT | None:
        row = run.ok_row(self.name)
        return None if row is None else self.outcome_of(row)


def tx_act(result: TxResult) -> Act[TxOutcome]:
    if result.outcome is Outcome.UNKNOWN:
        raise OutcomeUnknown(f"transaction for {result.key} has an unknown outcome")
    if result.outcome is Outcome.FAILED:
        error = result.error or "the transaction failed"
        return Act(Outcome.FAILED, TxOutcome.from_result(result, error=error), error)
    return Act(result.outcome, TxOutcome.from_result(result))


class TxStep(Step[IntentT, TxOutcome]):
    """A transaction: reconciled through ``Lending.lookup(key)``."""

    outcome_type = TxOutcome

    def reconcile(self, run: BatchRun, key: str, intent: IntentT) -> Act[TxOutcome] | None:
        found = run.lending.lookup(key)
        if found is None or found.outcome is Outcome.UNKNOWN:
            return None
        return tx_act(found)

    def probe(self, ports: StepPorts, key: str) -> str | None:
        found = ports.read(lambda: ports.lending.lookup(key))
        if found is not None and found.outcome is not Outcome.UNKNOWN:
            return f"a transaction under key {key} exists but the journal never wrote it"
        return None

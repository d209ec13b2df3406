"""What the daemon did, read from its journal (SQLite, read-only, while the daemon writes).

The daemon holds the journal's writer lock; this reader never takes it and never writes: it
opens the file with ``mode=ro`` and parses rows with the journal's own row types.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bot.engine.journal import BatchRow, BatchStatus, StepRow, StepStatus, _batch_row, _step_row

WAD = Decimal(10) ** 18
LEGS = ("withdraw", "unwrap", "deposit", "await_deposit", "sell", "withdraw_quote", "await_quote", "repay", "verify")
LEG_LABELS = {
    "repay_idle": "repaying idle USDT",
    "withdraw": "withdrawing WETH from Aave",
    "unwrap": "unwrapping WETH",
    "deposit": "depositing ETH to the exchange",
    "await_deposit": "waiting for the exchange to credit ETH",
    "sell": "selling ETH (IOC, slippage-capped)",
    "withdraw_quote": "withdrawing USDT from the exchange",
    "await_quote": "waiting for USDT on chain",
    "repay": "repaying USDT on Aave",
    "verify": "verifying HF rose",
}


@dataclass(frozen=True, slots=True)
class BatchSummary:
    id: str
    seq: int
    status: BatchStatus
    note: str
    withdrawn_eth: Decimal
    sold_eth: Decimal
    gross_usdt: Decimal
    avg_price: Decimal | None  # gross quote / filled base
    repaid_usdt: Decimal
    hf_before: Decimal | None
    hf_after: Decimal | None
    started_at: float
    finished_at: float
    legs_s: dict[str, float]  # step → seconds from its intent to its outcome
    withdraw_skipped: str | None = None  # why the executor's own re-check withdrew nothing
    # The executor's verify: HF rose, judged at the same prices (a market falling during the
    # batch is not held against it). None when verify did not run.
    verified: bool | None = None

    @property
    def duration_s(self) -> float:
        return self.finished_at - self.started_at

    @property
    def moved(self) -> bool:
        """Did anything move (a withdrawal, a sale or a repayment)?"""
        return self.withdrawn_eth > 0 or self.sold_eth > 0 or self.repaid_usdt > 0


@dataclass(frozen=True, slots=True)
class Activity:
    """The daemon right now: an open batch and the step it is on, or idle."""

    batch_seq: int | None
    step: str | None

    @property
    def busy(self) -> bool:
        return self.batch_seq is not None

    def describe(self) -> str:
        if self.batch_seq is None:
            return "watching"
        if self.step is None:
            return f"batch {self.batch_seq}: planning"
        return f"batch {self.batch_seq}: {LEG_LABELS.get(self.step, self.step)}"


class JournalReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self) -> tuple[list[BatchRow], list[StepRow]]:
        if not self.path.exists():
            return [], []
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            try:
                batches = [_batch_row(r) for r in db.execute("SELECT * FROM batches ORDER BY seq")]
                steps = [_step_row(r) for r in db.execute("SELECT * FROM steps ORDER BY rowid")]
            except sqlite3.OperationalError:  # tables not created yet
                return [], []
        finally:
            db.close()
        return batches, steps

    def activity(self) -> Activity:
        batches, steps = self._rows()
        open_batches = [b for b in batches if b.status is BatchStatus.OPEN]
        if not open_batches:
            return Activity(None, None)
        batch = open_batches[-1]
        mine = [s for s in steps if s.batch_id == batch.id]
        current = next((s for s in mine if not s.status.terminal), mine[-1] if mine else None)
        return Activity(batch.seq, current.step if current else None)

    def summaries(self) -> list[BatchSummary]:
        batches, steps = self._rows()
        return [summarize(b, [s for s in steps if s.batch_id == b.id]) for b in batches]

    def control(self) -> tuple[str, str | None]:
        if not self.path.exists():
            return "NORMAL", None
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT state, reason FROM control WHERE id=1").fetchone()
        except sqlite3.OperationalError:
            row = None
        finally:
            db.close()
        return (str(row[0]), row[1]) if row else ("NORMAL", None)


def summarize(batch: BatchRow, steps: list[StepRow]) -> BatchSummary:
    by_step = {s.step: s for s in steps}
    outcome = batch.outcome or {}

    def out(step: str, key: str) -> str | None:
        row = by_step.get(step)
        if row is None or row.status is not StepStatus.OK or not row.outcome:
            return None
        value = row.outcome.get(key)
        return None if value is None else str(value)

    withdrawn = Decimal(outcome.get("withdrawn_units") or _intent_amount(by_step.get("withdraw"))) / WAD
    sold = Decimal(out("sell", "filled") or "0")
    gross = Decimal(out("sell", "gross_quote") or "0")
    repaid_units = sum(
        (
            Decimal(str(row.intent.get("amount", 0)))
            for name, row in by_step.items()
            if name in ("repay", "repay_idle") and row.status is StepStatus.OK
        ),
        Decimal(0),
    )
    hf_before = outcome.get("hf_before_wad") or batch.start.get("hf_wad")
    hf_after = outcome.get("hf_after_wad") or out("verify", "hf_after_wad")
    legs = {s.step: s.updated_at - s.created_at for s in steps if s.status is StepStatus.OK}
    return BatchSummary(
        id=batch.id, seq=batch.seq, status=batch.status, note=str(batch.spec.get("note", "")),
        withdrawn_eth=withdrawn, sold_eth=sold, gross_usdt=gross,
        avg_price=(gross / sold).quantize(Decimal("0.01")) if sold else None,
        repaid_usdt=repaid_units.scaleb(-_decimals(batch, str(batch.spec.get("debt", "USDT")), default=6)),
        hf_before=_wad(hf_before), hf_after=_wad(hf_after),
        started_at=batch.created_at, finished_at=batch.updated_at, legs_s=legs,
        withdraw_skipped=_skip_reason(by_step.get("withdraw")),
        verified=None if out("verify", "improved") is None else out("verify", "improved") == "True",
    )


def _skip_reason(row: StepRow | None) -> str | None:
    if row is None or row.status is not StepStatus.SKIPPED:
        return None
    reason = row.intent.get("skipped")
    return None if reason is None else str(reason)


def _decimals(batch: BatchRow, symbol: str, *, default: int) -> int:
    for reserve in batch.start.get("reserves", ()):
        if reserve.get("symbol") == symbol:
            return int(reserve["decimals"])
    return default


def _intent_amount(row: StepRow | None) -> str:
    if row is None or row.status is not StepStatus.OK:
        return "0"
    return str(row.intent.get("amount", "0"))


def _wad(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value)) / WAD

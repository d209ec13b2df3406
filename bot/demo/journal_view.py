"""What the daemon did, read from its journal (SQLite, read-only, while the daemon writes).

The daemon holds the journal's writer lock; this reader never takes it and never writes: it
opens the file with ``mode=ro`` and parses rows with the journal's own row types.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bot.engine.batch_spec import reserve_decimals, start_hf_wad
from bot.engine.journal import BatchRow, BatchStatus, StepRow, StepStatus, _batch_row, _step_row
from bot.engine.steps import account_batch, step_label

WAD = Decimal(10) ** 18


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
        return f"batch {self.batch_seq}: {step_label(self.step)}"


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
    acc = account_batch(steps)
    debt_decimals = reserve_decimals(batch.start, str(batch.spec.get("debt", "USDT")))
    sold = acc.sold_filled or Decimal(0)
    gross = acc.gross_quote or Decimal(0)
    hf_before = acc.hf_before_wad if acc.hf_before_wad is not None else start_hf_wad(batch.start)
    return BatchSummary(
        id=batch.id,
        seq=batch.seq,
        status=batch.status,
        note=str(batch.spec.get("note", "")),
        withdrawn_eth=Decimal(acc.withdrawn_units or 0) / WAD,
        sold_eth=sold,
        gross_usdt=gross,
        avg_price=(gross / sold).quantize(Decimal("0.01")) if sold else None,
        repaid_usdt=Decimal(sum(acc.repay_requested_units)).scaleb(-(6 if debt_decimals is None else debt_decimals)),
        hf_before=_wad(hf_before),
        hf_after=_wad(acc.hf_after_wad),
        started_at=batch.created_at,
        finished_at=batch.updated_at,
        legs_s={s.step: s.updated_at - s.created_at for s in steps if s.status is StepStatus.OK},
        withdraw_skipped=acc.withdraw_skipped,
        verified=acc.improved,
    )


def _wad(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value) / WAD

"""The daemon says what it did: one INFO line per finished leg and one per closed batch.

An ``Observer`` of the executor, so every leg is told in one place, from the journal rows the
executor has just committed (not per adapter). A dry-run says what it would have done, with the
same numbers. The backtest does not attach it: thousands of simulated batches stay quiet.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.engine.executor import Observer
from bot.engine.history import batch_line, describe_step, summarize
from bot.engine.journal import BatchStatus, Journal, StepStatus

# The executor's logger: its records pass the same secret redaction.
log = logging.getLogger("delever.executor")


class Narrator(Observer):
    def __init__(self, journal: Journal, *, simulated: bool) -> None:
        self.journal = journal
        self.simulated = simulated
        self._prefix = "dry-run " if simulated else ""

    def step_done(self, *, batch_id: str, step: str, status: StepStatus, seconds: float) -> None:
        row = self.journal.step(batch_id, step)
        if row is None:
            return
        detail = describe_step(row, self.journal.batch(batch_id), simulated=self.simulated)
        log.info("%sbatch %s %s: %s (%.1f s)", self._prefix, batch_id, step, detail, seconds)

    def batch_done(self, *, batch_id: str, status: BatchStatus, accounting: dict[str, Any]) -> None:
        summary = summarize(self.journal.batch(batch_id), self.journal.steps(batch_id), simulated=self.simulated)
        line = batch_line(summary, simulated=self.simulated)
        if status is BatchStatus.DONE:
            log.info("%s", line)
        else:
            log.warning("%s", line)

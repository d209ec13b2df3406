"""What the daemon did, read from its journal while the daemon writes: the journal opened
read-only (no writer lock) and read through ``bot.engine.history``, as ``delever history`` and
``delever status`` read it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.clock import SystemClock
from bot.engine.history import BatchSummary, Progress, progress, summarize
from bot.engine.journal import Journal, JournalCorrupt

__all__ = ["Activity", "BatchSummary", "JournalReader"]


@dataclass(frozen=True, slots=True)
class Activity:
    """The daemon right now: an open batch and the leg it is on, or idle."""

    current: Progress | None

    @property
    def busy(self) -> bool:
        return self.current is not None

    def describe(self) -> str:
        return "watching" if self.current is None else self.current.describe()


class JournalReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self) -> Journal | None:
        try:
            return Journal(self.path, clock=SystemClock(), read_only=True)
        except (FileNotFoundError, JournalCorrupt):  # not there yet, or its schema not made yet
            return None

    def activity(self) -> Activity:
        journal = self._open()
        if journal is None:
            return Activity(None)
        with journal:
            open_batches = journal.open_batches()
            if not open_batches:
                return Activity(None)
            batch = open_batches[-1]
            return Activity(progress(batch, journal.steps(batch.id)))

    def summaries(self) -> list[BatchSummary]:
        journal = self._open()
        if journal is None:
            return []
        with journal:
            return [summarize(b, journal.steps(b.id)) for b in journal.batches()]

    def control(self) -> tuple[str, str | None]:
        journal = self._open()
        if journal is None:
            return "NORMAL", None
        with journal:
            state, reason = journal.control()
        return state.value, reason

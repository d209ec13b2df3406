"""What a step sees: the ports, the config, the batch's spec and its journal so far.

The executor builds these; the steps only read them, so the steps import this module and
never the executor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bot.domain.position import Position
from bot.domain.snapshot import Snapshot
from bot.engine.batch_spec import BatchSpec, position_from_payload, start_hf_wad
from bot.engine.executor_config import ExecutorConfig
from bot.engine.journal import ControlState, Journal, StepRow, StepStatus
from bot.ports import Lending, Venue

T = TypeVar("T")


class Reader(Protocol):
    """Runs a read, retrying what is safe to retry (reads always are)."""

    def __call__(self, fn: Callable[[], T], /) -> T: ...


@dataclass(frozen=True, slots=True)
class StepPorts:
    """Where steps act and look: before a batch exists (the probe for foreign keys) and during it."""

    lending: Lending
    venue: Venue
    config: ExecutorConfig
    read: Reader


class BatchRun:
    """One batch as its steps see it. Its step rows are read once, when the run starts; a
    step's row only changes through the executor, which hands each row it writes to
    ``remember`` (the journal returns it as committed)."""

    def __init__(self, ports: StepPorts, journal: Journal, batch_id: str, *, alert: Callable[[str, str], None]) -> None:
        self.ports = ports
        self.batch_id = batch_id
        row = journal.batch(batch_id)
        self.spec = BatchSpec.from_payload(row.spec)
        self.start_position: Position = position_from_payload(row.start)
        self.start_hf_wad: int | None = start_hf_wad(row.start)
        self.start_timestamp: int | None = row.start.get("timestamp")  # the start block's time
        self.lending: Lending = ports.lending
        self.venue: Venue = ports.venue
        self.config: ExecutorConfig = ports.config
        self._journal = journal
        self._alert = alert
        self._rows: dict[str, StepRow] = {r.step: r for r in journal.steps(batch_id)}

    @property
    def reduce_only(self) -> bool:
        return self._journal.control()[0] is not ControlState.NORMAL

    def key(self, step: str) -> str:
        return f"{self.batch_id}:{step}"

    def snapshot(self) -> Snapshot:
        return self.ports.read(self.lending.snapshot)

    def alert(self, level: str, message: str) -> None:
        self._alert(level, f"batch {self.batch_id}: {message}")

    def row(self, step: str) -> StepRow | None:
        """The step's row as last written, None before its intent."""
        return self._rows.get(step)

    def remember(self, row: StepRow) -> StepRow:
        """Take ``row`` (as the journal committed it) as the step's current row."""
        self._rows[row.step] = row
        return row

    def refresh(self, step: str) -> StepRow | None:
        """Read the step's row from the journal again."""
        row = self._journal.step(self.batch_id, step)
        if row is not None:
            self._rows[step] = row
        return row

    def ok_row(self, step: str) -> StepRow | None:
        """The step's row when it finished OK, else None."""
        row = self._rows.get(step)
        return row if row is not None and row.status is StepStatus.OK else None

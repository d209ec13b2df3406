"""The console over fakes: a journal holding one real batch (run by the executor over the fake
lending and venue) and a ``ConsoleSource`` whose reads and controls are recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.console.source import ConsoleSource, ControlRefused, Thresholds
from bot.engine.executor import Executor
from bot.engine.journal import ControlState, Journal
from bot.engine.steps import BatchSpec
from tests.support.engine_kit import default_config
from tests.support.fakes import E18, FakeLending, FakeVenue, make_world

THRESHOLDS = Thresholds(
    mode="testnet",
    hf_trigger=Decimal("1.3"),
    hf_target=Decimal("1.6"),
    hf_floor=Decimal("1.05"),
    max_batch_usd=Decimal("50000"),
    max_daily_usd=Decimal("1000000"),
)
STATUS = {"block": 7, "timestamp": 1_700_000_000, "health_factor": "1.2345678", "collateral": [], "debt": []}


def journal_with_batch(directory: Path, *, halted: bool = False) -> tuple[Path, Any]:
    """A journal on disk with one finished 10-WETH batch (and a halt when ``halted``)."""
    world = make_world(idle_wallet_usdt=100)
    lending, venue = FakeLending(world), FakeVenue(world)
    path = directory / "journal.sqlite"
    with Journal(path, clock=world.clock) as journal:
        executor = Executor(
            journal=journal, lending=lending, venue=venue, clock=world.clock, config=default_config(world)
        )
        spec = BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=10 * E18, note="HF 1.28 < trigger")
        executor.execute(spec, lending.snapshot())
        if halted:
            journal.set_control(ControlState.HALTED, "verify failed")
    return path, world


@dataclass
class RecordingControls:
    stops: int = 0
    clears: int = 0
    refuse_clear: bool = False
    calls: list[str] = field(default_factory=list)

    def stop(self) -> str:
        self.stops += 1
        return "the daemon stops after its current step"

    def clear_halt(self) -> str:
        if self.refuse_clear:
            raise ControlRefused("the daemon holds the journal: stop it, then clear the halt")
        self.clears += 1
        return "was HALTED; cleared"


def fake_source(
    journal_path: Path | None,
    controls: RecordingControls,
    *,
    status: dict[str, Any] | None = None,
    plan: dict[str, Any] | None = None,
    now: float = 1_700_000_000.0,
) -> ConsoleSource:
    def open_journal() -> Journal | None:
        if journal_path is None or not journal_path.exists():
            return None
        return Journal(journal_path, clock=None, read_only=True)  # type: ignore[arg-type]

    return ConsoleSource(
        status=lambda: dict(status or STATUS),
        plan=lambda: dict(plan or {"status": "NO_ACTION", "batches": []}),
        open_journal=open_journal,
        thresholds=THRESHOLDS,
        stop=controls.stop,
        clear_halt=controls.clear_halt,
        now=lambda: now,
    )

"""What the console reads and may do, as plain callables: the app holds no settings, no adapter
and no journal of its own (``bot.compose.console`` builds this from the settings; tests pass fakes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.engine.journal import Journal


class ControlRefused(Exception):
    """A control that cannot act now (the daemon holds the journal, nothing to clear): HTTP 409."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The lines the page draws and the limits it shows used (from the settings)."""

    mode: str
    hf_trigger: Decimal | None
    hf_target: Decimal | None
    hf_floor: Decimal
    max_batch_usd: Decimal
    max_daily_usd: Decimal


@dataclass(frozen=True)
class ConsoleSource:
    status: Callable[[], dict[str, Any]]  # the `status --json` object
    plan: Callable[[], dict[str, Any]]  # the `plan --json` object
    open_journal: Callable[[], Journal | None]  # read-only; None while the daemon has none
    thresholds: Thresholds
    stop: Callable[[], str]  # asks the daemon to stop after its current step; says how
    clear_halt: Callable[[], str]  # ControlRefused while a daemon holds the journal
    simulated: bool = False  # a dry-run's journal: fills are simulated
    now: Callable[[], float] = time.time

"""The clocks behind the ``Clock`` port (``bot.ports.Clock``): the wall clock for adapters and the
engine, and a manual one for tests and simulations, whose ``sleep`` advances time instead of
waiting."""

from __future__ import annotations

import time
from collections.abc import Callable

# 2026-01-01T00:00:00Z: a fixed, recent start so journal times and expiries read naturally.
MANUAL_CLOCK_START = 1_767_225_600.0


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """Time moves only when told to: ``sleep`` and ``advance`` move it forward (recording each
    sleep in ``slept``, and running ``on_sleep`` hooks so fakes can land deposits and withdrawals
    while the engine waits); ``set`` puts it at a given instant."""

    def __init__(self, start: float = MANUAL_CLOCK_START) -> None:
        self._now = float(start)
        self.slept: list[float] = []
        self.on_sleep: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, float(seconds))
        for hook in list(self.on_sleep):
            hook(self._now)

    def set(self, now: float) -> None:
        self._now = float(now)

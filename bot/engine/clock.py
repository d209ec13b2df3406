"""Clocks behind the ``Clock`` port: the system clock, and a manual one for tests."""

from __future__ import annotations

from collections.abc import Callable

from bot.clock import SystemClock

__all__ = ["ManualClock", "SystemClock"]


class ManualClock:
    """Time moves only when told to; ``sleep`` advances it (and runs ``on_sleep`` hooks so
    fakes can progress deposits and withdrawals while the engine waits)."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = float(start)
        self.slept: list[float] = []
        self.on_sleep: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        self.slept.append(seconds)

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, float(seconds))
        for hook in list(self.on_sleep):
            hook(self._now)

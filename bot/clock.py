"""The clocks behind the ``Clock`` port (``bot.ports.Clock``): the wall clock for adapters and the
engine, and a manual one for tests and simulations, whose ``sleep`` advances time instead of
waiting.

Every wait of the daemon — a transfer or deposit to land, a receipt, an order lookup, a retry's
backoff — sleeps on the one clock. Given a ``stop`` check (the kill switch), a sleep raises
``StopRequested`` within ``STOP_POLL_S`` of a stop request instead of waiting out a
confirmation timeout of hours: the step that waited stays as the journal has it (PENDING or
UNKNOWN) and is reconciled by its key on the next start, exactly as after a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# 2026-01-01T00:00:00Z: a fixed, recent start so journal times and expiries read naturally.
MANUAL_CLOCK_START = 1_767_225_600.0
# How often a sleep looks at the stop check (a signal, or the kill-switch file appearing).
STOP_POLL_S = 0.2


class StopRequested(BaseException):  # noqa: N818 - a request, not an error
    """A stop was requested (SIGTERM, SIGINT, the kill-switch file) while the daemon waited or
    between steps. A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except
    Exception`` on its way up turns it into a retry, a failure or an alert: the batch stays OPEN
    and resumes on restart."""


class SystemClock:
    def __init__(self, stop: Callable[[], bool] | None = None) -> None:
        self._stop = stop

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if self._stop is None:
            if seconds > 0:
                time.sleep(seconds)
            return
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            if self._stop():
                raise StopRequested("stop requested while waiting")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(STOP_POLL_S, left))


class ManualClock:
    """Time moves only when told to: ``sleep`` and ``advance`` move it forward (recording each
    sleep in ``slept``, and running ``on_sleep`` hooks so fakes can land deposits and withdrawals
    while the engine waits); ``set`` puts it at a given instant. With a ``stop`` check, a sleep
    raises ``StopRequested`` once it says so (as ``SystemClock`` does)."""

    def __init__(self, start: float = MANUAL_CLOCK_START, *, stop: Callable[[], bool] | None = None) -> None:
        self._now = float(start)
        self.slept: list[float] = []
        self.on_sleep: list[Callable[[float], None]] = []
        self.stop = stop

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if self.stop is not None and self.stop():
            raise StopRequested("stop requested while waiting")
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, float(seconds))
        for hook in list(self.on_sleep):
            hook(self._now)

    def set(self, now: float) -> None:
        self._now = float(now)

"""Waiting out a venue that does not answer while a keyed write's outcome is unknown.

An outage is not a contradiction: the write is looked up by its key again and again (never
re-sent blind), with an alert when it starts and a reminder every ``REMIND_EVERY_S``, until the
venue answers or ``bound_s`` has passed since the outcome became unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAUSE_S = 30.0  # between lookups once the outage has lasted a while
REMIND_EVERY_S = 600.0


@dataclass(slots=True)
class Outage:
    key: str
    since: float  # when the outcome became unknown (from the journal, across restarts)
    bound_s: float
    lookups: int = 0
    alerted_at: float | None = None

    def elapsed(self, now: float) -> float:
        return max(0.0, now - self.since)

    def exceeded(self, now: float) -> bool:
        return self.elapsed(now) >= self.bound_s

    def alert_due(self, now: float) -> bool:
        return self.alerted_at is None or now - self.alerted_at >= REMIND_EVERY_S

    def pause(self, grace_s: float) -> float:
        """Backs off from the reconcile grace to ``MAX_PAUSE_S``: quick for a blip, gentle for hours."""
        doublings: int = min(max(self.lookups - 1, 0), 10)
        return min(MAX_PAUSE_S, max(grace_s, 0.5) * float(2**doublings))

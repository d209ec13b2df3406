"""Why the daemon cannot do what its policy asks: a plan without a batch, explained in the words
``delever plan`` prints (the controller raises them as a critical alert and a metric)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Blocked:
    """The policy asks for a batch the plan cannot make: why (short, a metric label such as
    ``floor``, ``depth``, ``daily_limit``) and what would unblock it (the plan's own words)."""

    reason: str
    explanation: str


# A plan without a batch for these reasons has nothing left to do: not blocked.
_NOTHING_LEFT = ("target already reached", "target reached", "no debt", "debt repaid")


def blocked_by(the_plan: Any) -> Blocked | None:
    """Why a plan (``bot.engine.planner.Plan``) without a batch cannot meet the ask, in the
    words ``delever plan`` prints; None when it has nothing left to do."""
    stop = str(the_plan.stop_reason)
    if not stop or stop in _NOTHING_LEFT or stop.endswith("debt repaid"):
        return None
    reason = re.sub(r"\W+", "_", stop.split(" (")[0]).strip("_")[:40] or the_plan.status.value
    notes = tuple(the_plan.notes)
    if the_plan.blocked and notes:
        explanation = notes[-1]  # the planner's "withdraw is unsafe … add collateral or repay ≥ …"
    else:
        explanation = f"plan {the_plan.status.value}, limited by {stop}" + (f"; {notes[-1]}" if notes else "")
    return Blocked(reason, explanation)

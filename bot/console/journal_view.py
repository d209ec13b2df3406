"""The daemon's journal as the console's API shows it: batches (``history --json``'s objects),
events, the control state and the day's sales against the daily limit. Read-only, pure reads."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from bot.console.source import Thresholds
from bot.engine.guards import daily_cap_remaining, utc_day_bounds
from bot.engine.history import batch_json, summarize
from bot.engine.journal import Journal
from bot.engine.steps.sequence import STEP_NAMES, sold_quote_between, step_names

# Event kinds the page lists as halts, alerts and errors (the rest are transitions).
_ALERT_KINDS = frozenset(
    {"control:HALTED", "control:REDUCE_ONLY", "batch:FAILED", "batch:HALTED", "FAILED", "UNKNOWN", "NEEDS_REVIEW"}
)


def batches_payload(journal: Journal | None, *, limit: int, simulated: bool) -> dict[str, Any]:
    """The newest ``limit`` batches, oldest first, as ``history --json`` prints them."""
    if journal is None:
        return {"journal": None, "control": None, "batches": []}
    rows = journal.batches()[-limit:]
    state, reason = journal.control()
    return {
        "journal": str(journal.path),
        "control": {"state": state.value, "reason": reason},
        "batches": [
            {
                **batch_json(summarize(r, journal.steps(r.id), simulated=simulated)),
                "steps": list(step_names(str(r.spec.get("route", "cex")))),  # by the batch's route
            }
            for r in rows
        ],
    }


def events_payload(journal: Journal | None, *, after: int, limit: int = 500) -> dict[str, Any]:
    """Journal events with an id above ``after``, newest last (at most ``limit``); ``next`` is
    the cursor for the following call."""
    if journal is None:
        return {"events": [], "next": 0}
    rows = journal.events_after(after, limit=limit)
    events = [
        {
            "id": event_id,
            "ts": ts,
            "batch_id": batch_id,
            "step": step,
            "kind": kind,
            "detail": detail,
            "alert": kind in _ALERT_KINDS,
        }
        for event_id, ts, batch_id, step, kind, detail in rows
    ]
    return {"events": events, "next": rows[-1][0] if rows else after}


def limits_payload(journal: Journal | None, thresholds: Thresholds, *, now: float) -> dict[str, Any]:
    """The HF lines and the day's sales (UTC) against the daily limit, as the daemon counts them."""
    sold = Decimal(0)
    if journal is not None:
        start, end = utc_day_bounds(now)
        sold = sold_quote_between(journal, start, end)
    remaining = daily_cap_remaining(sold_today_usd=sold, max_daily_usd=thresholds.max_daily_usd)
    state, reason = journal.control() if journal is not None else (None, None)
    return {
        "mode": thresholds.mode,
        "hf_trigger": _s(thresholds.hf_trigger),
        "hf_target": _s(thresholds.hf_target),
        "hf_floor": _s(thresholds.hf_floor),
        "max_batch_usd": _s(thresholds.max_batch_usd),
        "max_daily_usd": _s(thresholds.max_daily_usd),
        "sold_today_usd": _s(sold),
        "daily_remaining_usd": _s(remaining),
        "control": None if state is None else {"state": state.value, "reason": reason},
        "steps": list(STEP_NAMES),
    }


CSV_COLUMNS = (
    "id",
    "seq",
    "status",
    "started_at",
    "finished_at",
    "duration_s",
    "collateral",
    "debt",
    "withdrawn",
    "sold",
    "avg_price",
    "repaid",
    "hf_before",
    "hf_after",
    "fee_quote",
    "gas_eth",
    "slippage_quote",
    "reason",
)


def batches_csv(batches: list[dict[str, Any]]) -> str:
    """One row per batch (the ``history --json`` fields that are numbers or words)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for b in batches:
        fill, costs = b.get("fill") or {}, b.get("costs") or {}
        extra = {
            "fee_quote": fill.get("fee_quote"),
            "gas_eth": costs.get("gas_eth"),
            "slippage_quote": costs.get("slippage_quote"),
        }
        writer.writerow(["" if (v := extra.get(c, b.get(c))) is None else v for c in CSV_COLUMNS])
    return out.getvalue()


def _s(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")

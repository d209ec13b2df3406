"""The steps of one batch, in order, and what is read back from their journal rows.

    repay_idle → withdraw → unwrap → deposit → await_deposit → sell → withdraw_quote →
    await_quote → repay → verify

or, for a batch routed to the DEX (``BatchSpec.route == "dex"``):

    atomic_deleverage → verify

Keys are ``{batch_id}:{step}``; batch ids are ``{journal_tag}-{seq}`` with the sequence
persisted before use, so a key is never reused, even across journals.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bot.engine.batch_spec import ROUTE_DEX, BatchSpec
from bot.engine.journal import Journal, StepRow
from bot.engine.steps.accounting import BatchAccounting
from bot.engine.steps.atomic import ATOMIC_DELEVERAGE
from bot.engine.steps.base import Kind, Step
from bot.engine.steps.closing import REPAY, VERIFY
from bot.engine.steps.exchange import AWAIT_DEPOSIT, AWAIT_QUOTE, SELL, WITHDRAW_QUOTE
from bot.engine.steps.outbound import DEPOSIT, REPAY_IDLE, UNWRAP, WITHDRAW

STEPS: tuple[Step[Any, Any], ...] = (
    REPAY_IDLE,
    WITHDRAW,
    UNWRAP,
    DEPOSIT,
    AWAIT_DEPOSIT,
    SELL,
    WITHDRAW_QUOTE,
    AWAIT_QUOTE,
    REPAY,
    VERIFY,
)
STEP_NAMES: tuple[str, ...] = tuple(s.name for s in STEPS)
DEX_STEPS: tuple[Step[Any, Any], ...] = (ATOMIC_DELEVERAGE, VERIFY)
# Every step some batch may journal: what probes, accounting and labels go through.
ALL_STEPS: tuple[Step[Any, Any], ...] = (*STEPS, ATOMIC_DELEVERAGE)
_BY_NAME = {s.name: s for s in ALL_STEPS}


def steps_for(spec: BatchSpec) -> tuple[Step[Any, Any], ...]:
    """The steps a batch runs, by its route."""
    return DEX_STEPS if spec.atomic else STEPS


def step_names(route: str) -> tuple[str, ...]:
    """The names of the steps a batch on ``route`` (as journaled in its spec) runs, in order."""
    return tuple(s.name for s in (DEX_STEPS if route == ROUTE_DEX else STEPS))


def crash_points(route: str = "cex") -> tuple[str, ...]:
    """Every named point a plain run of a batch on ``route`` passes, where a test may kill
    the executor.

    ``after_unknown:<step>`` (a write's outcome journalled UNKNOWN, before the lookup) is
    only reached under a fault, so it is not listed here."""
    points = ["after_open"]
    for step in DEX_STEPS if route == "dex" else STEPS:
        points.append(f"after_intent:{step.name}")
        if step.kind is Kind.WRITE:
            points += [f"before_act:{step.name}", f"after_act:{step.name}"]
        points.append(f"after_outcome:{step.name}")
    points.append("before_close")
    return tuple(points)


def account_batch(rows: Sequence[StepRow]) -> BatchAccounting:
    """What moved, from the batch's journal rows alone; each step adds its own part."""
    acc = BatchAccounting(statuses=tuple((r.step, r.status) for r in rows))
    by_name = {r.step: r for r in rows}
    for step in ALL_STEPS:
        row = by_name.get(step.name)
        if row is not None:
            acc = step.account(row, acc)
    return acc


def sold_quote_between(journal: Journal, start: float, end: float) -> Decimal:
    """Gross quote (USD stablecoin) sold by the sells that finished OK in [start, end)."""
    total = Decimal(0)
    for gross in journal.ok_outcome_field_between(SELL.name, "gross_quote", start, end):
        if gross is None:
            raise KeyError(f"a {SELL.name} outcome without gross_quote")
        total += Decimal(str(gross))  # as SellOutcome.from_payload reads it (written as a Decimal string)
    return total


def step_label(step: str) -> str:
    """What the daemon is doing while ``step`` runs, for people."""
    known = _BY_NAME.get(step)
    return known.label if known is not None else step

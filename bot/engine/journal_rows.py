"""The journal's step rows with their payloads typed, and the units and number formats every
reader of the journal shares (``history``, the daemon's lines, ``status``, the demo).

Each step is recognised by the type of its journalled payload (the steps package owns the
names); amounts on chain become tokens with the decimals the batch's start recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.domain.wadray import MAX_UINT256
from bot.engine.batch_spec import reserve_decimals
from bot.engine.journal import BatchRow, StepRow, StepStatus
from bot.engine.steps import STEP_NAMES, STEPS, QuoteArrivalOutcome, RepayIntent, Skip, Step

WAD = Decimal(10) ** 18
NATIVE_DECIMALS = 18
_BY_NAME: dict[str, Step[Any, Any]] = {s.name: s for s in STEPS}


# ---- typed rows ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypedRow:
    """A step row with its payloads typed (None when skipped, refused or not known)."""

    row: StepRow
    index: int  # position in the batch's sequence of steps
    intent: Any
    outcome: Any
    skipped: str | None
    refused: str | None


def typed(row: StepRow) -> TypedRow:
    step = _BY_NAME.get(row.step)
    index = STEP_NAMES.index(row.step) if step is not None else len(STEP_NAMES)
    skip = Skip.from_payload(row.intent)
    refused = row.intent.get("refused")
    intent = outcome = None
    if step is not None and skip is None and refused is None:
        try:
            intent = step.intent_of(row)
            outcome = step.outcome_of(row)
        except (KeyError, ValueError, TypeError, ArithmeticError):
            intent = outcome = None  # a payload this version cannot read: shown by status only
    return TypedRow(row, index, intent, outcome, None if skip is None else skip.reason, refused)


def last_ok(rows: Sequence[TypedRow], kind: type, *, outcome: bool = False) -> TypedRow | None:
    """The last OK row whose intent (or outcome) is of ``kind``."""
    found = None
    for r in rows:
        value = r.outcome if outcome else r.intent
        if r.row.status is StepStatus.OK and isinstance(value, kind):
            found = r
    return found


# ---- units -----------------------------------------------------------------------------------------


def decimals_of(start: Mapping[str, Any], symbol: str) -> int:
    if symbol == "ETH":
        return NATIVE_DECIMALS
    found = reserve_decimals(start, symbol)
    return NATIVE_DECIMALS if found is None else found


def tokens(units: int, start: Mapping[str, Any], symbol: str) -> Decimal:
    """Base units as tokens, without trailing zeros (and never in exponent form)."""
    return plain_decimal(Decimal(units).scaleb(-decimals_of(start, symbol)))


def plain_decimal(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def repaid_units(intent: RepayIntent) -> int:
    """MAX_UINT256 asks Aave for all of it: the debt it saw before is what was repaid."""
    return intent.debt_before if intent.amount == MAX_UINT256 else intent.amount


def amount_text(value: Decimal) -> str:
    """A token amount for people: thousands separated, at most 6 places, no trailing zeros."""
    text = f"{value.quantize(Decimal('0.000001')):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def money_text(value: Decimal) -> str:
    return f"{value:,.2f}"


def hf_text(value: Decimal | None) -> str:
    return "∞" if value is None else f"{value:.3f}"


def or_dash(text: str | None) -> str:
    """Hashes and addresses in full (copied into an explorer); a dash when unknown."""
    return text or "—"


def when(ts: float) -> str:
    """A journal timestamp (UTC) for people."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def debt_of(batch: BatchRow) -> str:
    return str(batch.spec.get("debt", "USDT"))


def arrived(landed: QuoteArrivalOutcome, batch: BatchRow) -> Decimal:
    """What landed in the wallet, in the debt token (the exchange's net when not recorded)."""
    if landed.arrived_units is None:
        return landed.transfer.amount - landed.transfer.fee
    return tokens(landed.arrived_units, batch.start, debt_of(batch))


def plain(value: Decimal) -> str:
    """A Decimal as text: plain digits, no exponent, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text

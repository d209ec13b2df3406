"""What a batch is asked to do (its spec) and where it started (its start position), as the
journal stores them: ints for base units, strings for Decimals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from bot.domain.position import Position, Reserve, Rounding, health_factor_wad

REPAY_FIRST = "repay_first"
WITHDRAW_FIRST = "withdraw_first"
ORDERS = (REPAY_FIRST, WITHDRAW_FIRST)


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """What the executor needs from a planned batch (amounts in base units)."""

    collateral: str  # Aave reserve symbol of the collateral to withdraw, e.g. "WETH"
    debt: str  # Aave reserve symbol of the debt to repay, e.g. "USDT"
    withdraw_amount: int  # 0: a sweep batch (idle funds only)
    expected_price: Decimal | None = None  # the planner's expectations, for the record
    worst_price: Decimal | None = None
    note: str = ""
    # Debt tokens idle in the wallet to repay first (base units): the plan's amount, so the
    # executor spends exactly what the dry-run showed; 0 leaves the wallet alone; None = all.
    repay_idle_amount: int | None = None
    # "repay_first": the idle repay lifted HF first, so the withdrawal must keep HF at or above
    # the batch's start (price for price); "withdraw_first": the HF floor bounds it.
    order: str = WITHDRAW_FIRST
    # Debt tokens the batch leaves in the wallet from what comes back (at most what its idle
    # repay spent): the revolving buffer it spent, refilled by the sale.
    refill_units: int = 0

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"batch order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if self.refill_units < 0:
            raise ValueError("refill_units must be >= 0")

    @property
    def repay_first(self) -> bool:
        return self.order == REPAY_FIRST

    def to_payload(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> BatchSpec:
        def dec(name: str) -> Decimal | None:
            return None if payload.get(name) is None else Decimal(payload[name])

        idle = payload.get("repay_idle_amount")
        return cls(
            collateral=payload["collateral"],
            debt=payload["debt"],
            withdraw_amount=int(payload["withdraw_amount"]),
            expected_price=dec("expected_price"),
            worst_price=dec("worst_price"),
            note=payload.get("note", ""),
            repay_idle_amount=None if idle is None else int(idle),
            order=payload.get("order", WITHDRAW_FIRST),
            refill_units=int(payload.get("refill_units", 0)),
        )


# ---- the batch's start position (verify compares the end against it) -------------------------


def position_payload(position: Position) -> dict[str, Any]:
    return {
        "rounding": position.rounding.value,
        "base_unit": position.base_unit,
        "reserves": [asdict(r) for r in position.reserves],
        "hf_wad": str(health_factor_wad(position)),
    }


def position_from_payload(payload: Mapping[str, Any]) -> Position:
    return Position(
        reserves=tuple(Reserve(**r) for r in payload["reserves"]),
        rounding=Rounding(payload["rounding"]),
        base_unit=int(payload["base_unit"]),
    )


def start_hf_wad(payload: Mapping[str, Any]) -> int | None:
    """The health factor a batch started from (WAD), None when the start holds none."""
    value = payload.get("hf_wad")
    return None if value is None else int(value)


def reserve_decimals(payload: Mapping[str, Any], symbol: str) -> int | None:
    """A reserve's token decimals as recorded in a batch's start, None when not recorded."""
    for reserve in payload.get("reserves", ()):
        if reserve.get("symbol") == symbol:
            return int(reserve["decimals"])
    return None

"""What a batch is asked to do (its spec) and where it started (its start position), as the
journal stores them: ints for base units, strings for Decimals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from bot.domain.position import Position, Reserve, Rounding, health_factor_wad

REPAY_FIRST = "repay_first"
WITHDRAW_FIRST = "withdraw_first"
ORDERS = (REPAY_FIRST, WITHDRAW_FIRST)
ROUTE_CEX = "cex"  # withdraw, sell on the exchange, bring the quote back, repay
ROUTE_DEX = "dex"  # one atomic flash-loan deleverage through the DEX adapter
ROUTES = (ROUTE_CEX, ROUTE_DEX)


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
    # "dex": one atomic deleverage repaying ``dex_repay_units`` on the pool of ``dex_pool_fee``,
    # selling at most ``withdraw_amount`` of collateral (the slippage cap); "cex": the legs.
    route: str = ROUTE_CEX
    dex_repay_units: int = 0
    dex_pool_fee: int = 0
    # Planned under limits.emergency_hf_floor (the HF floor left no room): the withdrawal's
    # guard holds that floor instead of hf_floor.
    emergency: bool = False

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"batch order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if self.refill_units < 0:
            raise ValueError("refill_units must be >= 0")
        if self.route not in ROUTES:
            raise ValueError(f"batch route must be one of {', '.join(ROUTES)}, got {self.route!r}")
        if self.route == ROUTE_DEX and (
            self.dex_repay_units <= 0 or self.dex_pool_fee <= 0 or self.withdraw_amount <= 0
        ):
            raise ValueError("a DEX batch needs a repay, a pool fee and a collateral cap")

    @property
    def atomic(self) -> bool:
        return self.route == ROUTE_DEX

    @property
    def repay_first(self) -> bool:
        return self.order == REPAY_FIRST

    def to_payload(self) -> dict[str, Any]:
        payload = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in _fields_of(self, _SPEC_FIELDS).items()}
        if not self.atomic:  # a CEX batch journals what it always has, plus its route
            del payload["dex_repay_units"], payload["dex_pool_fee"]
        if not self.emergency:
            del payload["emergency"]
        return payload

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
            route=payload.get("route", ROUTE_CEX),  # journals from before the DEX route
            dex_repay_units=int(payload.get("dex_repay_units", 0)),
            dex_pool_fee=int(payload.get("dex_pool_fee", 0)),
            emergency=bool(payload.get("emergency", False)),
        )


# ---- the batch's start position (verify compares the end against it) -------------------------


def position_payload(position: Position) -> dict[str, Any]:
    return {
        "rounding": position.rounding.value,
        "base_unit": position.base_unit,
        "reserves": [_fields_of(r, _RESERVE_FIELDS) for r in position.reserves],
        "hf_wad": str(health_factor_wad(position)),
    }


_SPEC_FIELDS = tuple(f.name for f in fields(BatchSpec))
_RESERVE_FIELDS = tuple(f.name for f in fields(Reserve))


def _fields_of(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """``dataclasses.asdict`` for ``BatchSpec`` and ``Reserve``, whose fields are all str, int,
    bool, Decimal or None: values asdict's deep copy hands back as they are (so the same dict),
    without its recursion and copies (two payloads a batch)."""
    return {name: getattr(obj, name) for name in names}


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

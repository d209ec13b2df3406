"""Aave v3 positions as the contracts see them, and their account data in exact integers.

A ``Position`` holds, per reserve, the user's aToken and variable-debt balances (token base
units, as ``balanceOf`` returns them at one block), the oracle price in base-currency units
(1e8 = $1 on USD markets) and the reserve's risk parameters in basis points.
``account_data`` reproduces ``Pool.getUserAccountData`` to the unit for either HF formula.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from enum import Enum
from typing import Any

from bot.domain.wadray import (
    MAX_UINT256,
    PERCENTAGE_FACTOR,
    WAD,
    mul_div_ceil,
    percent_mul,
    percent_mul_floor,
    wad_div,
)

USD_BASE_UNIT = 10**8


class Rounding(str, Enum):
    """Which release's health-factor rounding to mirror.

    V3_0: v3.0-v3.4 (aave-v3-core, npm @aave/core-v3): every base value floored, then
          ``wadDiv(percentMul(totalCollateral, avgLT), totalDebt)``.
    V3_5: v3.5+ (aave-v3-origin): collateral floored, debt ceiled, then
          ``wadDiv(sum(coll_i * LT_i), totalDebt) / 1e4``.
    """

    V3_0 = "v3.0"
    V3_5 = "v3.5"


@dataclass(frozen=True, slots=True)
class Reserve:
    symbol: str
    decimals: int
    price: int  # oracle price, base-currency units per whole token
    ltv_bps: int = 0
    liquidation_threshold_bps: int = 0
    liquidation_bonus_bps: int = 0
    collateral: int = 0  # aToken balance, token base units
    debt: int = 0  # variable-debt balance, token base units
    collateral_enabled: bool = True  # the user's usageAsCollateral flag
    asset: str = ""  # token address (empty in backtests)

    @property
    def unit(self) -> int:
        return int(10**self.decimals)

    @property
    def counts_as_collateral(self) -> bool:
        return self.collateral > 0 and self.collateral_enabled and self.liquidation_threshold_bps > 0


@dataclass(frozen=True, slots=True)
class AccountData:
    """The six values of ``Pool.getUserAccountData`` (health factor in wad)."""

    total_collateral_base: int
    total_debt_base: int
    available_borrows_base: int
    current_liquidation_threshold_bps: int
    ltv_bps: int
    health_factor_wad: int

    @property
    def health_factor(self) -> Decimal | None:
        """HF as a Decimal, or None when there is no debt (the contract returns max uint256)."""
        return wad_to_decimal(self.health_factor_wad)


@dataclass(frozen=True, slots=True)
class Position:
    reserves: tuple[Reserve, ...]
    rounding: Rounding = Rounding.V3_0
    base_unit: int = USD_BASE_UNIT

    def __post_init__(self) -> None:
        symbols = [r.symbol for r in self.reserves]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"duplicate reserve symbols: {symbols}")

    def reserve(self, symbol: str) -> Reserve:
        for r in self.reserves:
            if r.symbol == symbol:
                return r
        raise KeyError(f"no reserve {symbol!r} in position")

    def has(self, symbol: str) -> bool:
        return any(r.symbol == symbol for r in self.reserves)

    def with_reserve(self, symbol: str, **changes: Any) -> Position:
        reserves = self.reserves
        for i, r in enumerate(reserves):
            if r.symbol == symbol:
                # ``symbol`` cannot be among ``changes`` (it is this method's first parameter)
                return self._with_reserves((*reserves[:i], _changed(r, changes), *reserves[i + 1 :]))
        raise KeyError(f"no reserve {symbol!r} in position")

    def with_prices(self, prices: dict[str, int]) -> Position:
        unknown = set(prices) - {r.symbol for r in self.reserves}
        if unknown:
            raise KeyError(f"no reserve for prices {sorted(unknown)}")
        return self._with_reserves(
            tuple(_changed(r, {"price": prices[r.symbol]}) if r.symbol in prices else r for r in self.reserves)
        )

    def _with_reserves(self, reserves: tuple[Reserve, ...]) -> Position:
        """A copy holding ``reserves``, which carry this position's symbols (nothing to check)."""
        new = object.__new__(Position)
        object.__setattr__(new, "reserves", reserves)
        object.__setattr__(new, "rounding", self.rounding)
        object.__setattr__(new, "base_unit", self.base_unit)
        return new

    @property
    def collaterals(self) -> tuple[Reserve, ...]:
        return tuple(r for r in self.reserves if r.counts_as_collateral)

    @property
    def debts(self) -> tuple[Reserve, ...]:
        return tuple(r for r in self.reserves if r.debt > 0)


_RESERVE_FIELDS = tuple(f.name for f in fields(Reserve))
_RESERVE_FIELD_SET = frozenset(_RESERVE_FIELDS)


def _changed(reserve: Reserve, changes: dict[str, Any]) -> Reserve:
    """``dataclasses.replace`` without its per-call introspection: the planner and the backtest
    update positions hundreds of thousands of times per sweep. ``Reserve`` has no
    ``__post_init__``, so setting every field is all its ``__init__`` does."""
    unknown = changes.keys() - _RESERVE_FIELD_SET
    if unknown:
        raise TypeError(f"Reserve has no field {sorted(unknown)}")
    new = object.__new__(Reserve)
    for name in _RESERVE_FIELDS:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(reserve, name))
    return new


def collateral_base(reserve: Reserve, rounding: Rounding) -> int:
    # Both releases floor the collateral value: (balance * price) / unit.
    return reserve.collateral * reserve.price // reserve.unit


def debt_base(reserve: Reserve, rounding: Rounding) -> int:
    if rounding is Rounding.V3_5:
        return mul_div_ceil(reserve.debt, reserve.price, reserve.unit)
    return reserve.debt * reserve.price // reserve.unit


def account_data(position: Position) -> AccountData:
    """Mirror ``GenericLogic.calculateUserAccountData`` (+ available borrows) for eMode 0."""
    rounding = position.rounding
    total_coll = 0
    weighted_lt = 0
    weighted_ltv = 0
    for r in position.collaterals:
        value = collateral_base(r, rounding)
        total_coll += value
        weighted_lt += value * r.liquidation_threshold_bps
        weighted_ltv += value * r.ltv_bps
    total_debt = sum(debt_base(r, rounding) for r in position.debts)

    avg_lt = weighted_lt // total_coll if total_coll else 0
    avg_ltv = weighted_ltv // total_coll if total_coll else 0
    if total_debt == 0:
        hf = MAX_UINT256
    elif rounding is Rounding.V3_5:
        hf = wad_div(weighted_lt, total_debt) // PERCENTAGE_FACTOR
    else:
        hf = wad_div(percent_mul(total_coll, avg_lt), total_debt)

    if rounding is Rounding.V3_5:
        borrowable = percent_mul_floor(total_coll, avg_ltv)
    else:
        borrowable = percent_mul(total_coll, avg_ltv)
    available = max(0, borrowable - total_debt)
    return AccountData(total_coll, total_debt, available, avg_lt, avg_ltv, hf)


def health_factor_wad(position: Position) -> int:
    return account_data(position).health_factor_wad


def wad_to_decimal(value: int) -> Decimal | None:
    if value == MAX_UINT256:
        return None
    return Decimal(value) / Decimal(WAD)


def decimal_to_wad(value: Decimal | str | int | float) -> int:
    """A human health factor (1.05) as a wad, rounded half up to the unit."""
    return int((Decimal(str(value)) * WAD).to_integral_value())


def to_units(amount: Decimal | str | int, decimals: int) -> int:
    """Human token amount → base units, truncated toward zero (never more than asked)."""
    return int((Decimal(str(amount)) * (10**decimals)).to_integral_value(rounding="ROUND_DOWN"))


def from_units(amount: int, decimals: int) -> Decimal:
    return Decimal(amount).scaleb(-decimals)


def price_to_base(price_usd: Decimal | str | int, base_unit: int = USD_BASE_UNIT) -> int:
    return int((Decimal(str(price_usd)) * base_unit).to_integral_value())


def base_to_usd(value: int, base_unit: int = USD_BASE_UNIT) -> Decimal:
    return Decimal(value) / Decimal(base_unit)

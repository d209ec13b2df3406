"""Simulated Aave v3 lending: interest on the borrow index and the liquidation rules (notes A5, A6).

Integers throughout, on the ``bot.domain`` position: the oracle price follows the candles
(base units, 1e8 = $1), variable debt grows with the v3.0 binomial compounding of the borrow
index, and a liquidator acts whenever HF < 1 with the contract's close factor, bonus, protocol
fee and leftover (dust) rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from bot.domain.position import Position, Reserve, Rounding, account_data, health_factor_wad
from bot.domain.wadray import (
    PERCENTAGE_FACTOR,
    RAY,
    WAD,
    percent_div,
    percent_mul,
    ray_div,
    ray_mul,
)

SECONDS_PER_YEAR = 365 * 24 * 3600
DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS = 5_000
CLOSE_FACTOR_HF_THRESHOLD_WAD = 95 * WAD // 100
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2_000 * 10**8
MIN_LEFTOVER_BASE = 1_000 * 10**8


class NotLiquidatable(Exception):
    pass


class MustNotLeaveDust(Exception):
    pass


def compounded_interest_ray(rate_ray: int, seconds: int) -> int:
    """``MathUtils.calculateCompoundedInterest`` of aave-v3-core (binomial, 3 terms)."""
    if seconds <= 0:
        return RAY
    exp = seconds
    exp_minus_one = exp - 1
    exp_minus_two = exp - 2 if exp > 2 else 0
    base_power_two = ray_mul(rate_ray, rate_ray) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
    base_power_three = ray_mul(base_power_two, rate_ray) // SECONDS_PER_YEAR
    second = exp * exp_minus_one * base_power_two // 2
    third = exp * exp_minus_one * exp_minus_two * base_power_three // 6
    return RAY + rate_ray * exp // SECONDS_PER_YEAR + second + third


def apr_to_ray(apr: Decimal | str | float) -> int:
    return int((Decimal(str(apr)) * RAY).to_integral_value())


@dataclass(frozen=True, slots=True)
class DebtBook:
    """Scaled variable debt and the borrow index, as the vToken keeps them."""

    scaled: int
    index: int = RAY
    rate_ray: int = 0
    updated_at: int = 0

    @classmethod
    def opened(cls, amount: int, *, rate_ray: int, at: int) -> DebtBook:
        return cls(ray_div(amount, RAY), RAY, rate_ray, at)

    def at(self, timestamp: int) -> DebtBook:
        if timestamp <= self.updated_at:
            return self
        factor = compounded_interest_ray(self.rate_ray, timestamp - self.updated_at)
        # The constructor, not ``replace``: the simulation reads the debt at every new instant.
        return DebtBook(self.scaled, ray_mul(self.index, factor), self.rate_ray, timestamp)

    @property
    def balance(self) -> int:
        return ray_mul(self.scaled, self.index)

    def repaid(self, amount: int) -> DebtBook:
        if amount >= self.balance:
            return replace(self, scaled=0)
        return replace(self, scaled=max(0, self.scaled - ray_div(amount, self.index)))


@dataclass(frozen=True, slots=True)
class LiquidationResult:
    position: Position
    debt_repaid: int  # debt-token base units the liquidator paid
    collateral_seized: int  # collateral units that left the borrower (liquidator + protocol fee)
    protocol_fee: int  # collateral units to the treasury (part of collateral_seized)
    close_factor_bps: int
    hf_before_wad: int
    deficit: int = 0  # debt burned as bad debt when no collateral was left (v3.3+)

    def penalty_base(self, collateral: Reserve, debt: Reserve) -> int:
        """What the borrower lost at the oracle: seized collateral value minus debt cleared."""
        seized = self.collateral_seized * collateral.price // collateral.unit
        cleared = (self.debt_repaid + self.deficit) * debt.price // debt.unit
        return seized - cleared


def max_liquidatable_debt(position: Position, *, collateral: str, debt: str) -> tuple[int, int]:
    """(max debt units a liquidator may cover, close factor bps) under the v3.3+ rules."""
    data = account_data(position)
    coll_r, debt_r = position.reserve(collateral), position.reserve(debt)
    coll_base = coll_r.collateral * coll_r.price // coll_r.unit
    debt_base = debt_r.debt * debt_r.price // debt_r.unit
    if (
        coll_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
        and debt_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
        and data.health_factor_wad > CLOSE_FACTOR_HF_THRESHOLD_WAD
    ):
        half_total = percent_mul(data.total_debt_base, DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS)
        if debt_base > half_total:
            return half_total * debt_r.unit // debt_r.price, DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS
        return debt_r.debt, DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS
    return debt_r.debt, PERCENTAGE_FACTOR


def liquidation_call(
    position: Position, *, collateral: str, debt: str, debt_to_cover: int, protocol_fee_bps: int = 1_000
) -> LiquidationResult:
    """``Pool.liquidationCall`` for one collateral/debt pair (receiveAToken = false)."""
    hf = health_factor_wad(position)
    if hf >= WAD:
        raise NotLiquidatable(f"health factor {hf} >= 1e18")
    coll_r, debt_r = position.reserve(collateral), position.reserve(debt)
    max_debt, close_factor = max_liquidatable_debt(position, collateral=collateral, debt=debt)
    actual_debt = min(debt_to_cover, max_debt)
    # _calculateAvailableCollateralToLiquidate
    base_collateral = (debt_r.price * actual_debt * coll_r.unit) // (coll_r.price * debt_r.unit)
    max_collateral = percent_mul(base_collateral, coll_r.liquidation_bonus_bps)
    if max_collateral > coll_r.collateral:
        seized = coll_r.collateral
        actual_debt = percent_div(
            (coll_r.price * seized * debt_r.unit) // (debt_r.price * coll_r.unit), coll_r.liquidation_bonus_bps
        )
    else:
        seized = max_collateral
    bonus = seized - percent_div(seized, coll_r.liquidation_bonus_bps)
    fee = percent_mul(bonus, protocol_fee_bps)
    if actual_debt < debt_r.debt and seized < coll_r.collateral:
        left_debt = (debt_r.debt - actual_debt) * debt_r.price // debt_r.unit
        left_coll = (coll_r.collateral - seized) * coll_r.price // coll_r.unit
        if left_debt < MIN_LEFTOVER_BASE or left_coll < MIN_LEFTOVER_BASE:
            raise MustNotLeaveDust("the liquidation would leave less than $1,000 of debt or collateral")
    after = position.with_reserve(collateral, collateral=coll_r.collateral - seized)
    after = after.with_reserve(debt, debt=debt_r.debt - actual_debt)
    deficit = 0
    if not any(r.collateral > 0 and r.collateral_enabled for r in after.reserves) and after.reserve(debt).debt > 0:
        deficit = after.reserve(debt).debt  # v3.3 bad debt: burned, booked as reserve deficit
        after = after.with_reserve(debt, debt=0)
    return LiquidationResult(after, actual_debt, seized, fee, close_factor, hf, deficit)


def liquidate_max(
    position: Position, *, collateral: str, debt: str, protocol_fee_bps: int = 1_000
) -> LiquidationResult:
    """What a profit-maximising liquidator does: the largest call the contract accepts.

    When the maximum trips the dust rule it covers the largest amount that leaves $1,000 of
    collateral (searched on the contract's own check), which the contract then accepts.
    """
    max_debt, _ = max_liquidatable_debt(position, collateral=collateral, debt=debt)
    try:
        return liquidation_call(
            position, collateral=collateral, debt=debt, debt_to_cover=max_debt, protocol_fee_bps=protocol_fee_bps
        )
    except MustNotLeaveDust:
        pass
    lo, hi = 0, max_debt  # lo passes (or is zero), hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            liquidation_call(
                position, collateral=collateral, debt=debt, debt_to_cover=mid, protocol_fee_bps=protocol_fee_bps
            )
            lo = mid
        except MustNotLeaveDust:
            hi = mid
    if lo == 0:
        raise MustNotLeaveDust("no liquidation amount passes the dust rule")
    return liquidation_call(
        position, collateral=collateral, debt=debt, debt_to_cover=lo, protocol_fee_bps=protocol_fee_bps
    )


def weth_usdt_position(
    *,
    collateral_units: int,
    debt_units: int,
    weth_price_base: int,
    usdt_price_base: int = 10**8,
    liquidation_threshold_bps: int = 8_300,
    ltv_bps: int = 8_050,
    liquidation_bonus_bps: int = 10_500,
    rounding: Rounding = Rounding.V3_5,
) -> Position:
    """The Ethereum Core WETH/USDT position (eMode 0; parameters from notes B1)."""
    return Position(
        (
            Reserve(
                "WETH",
                18,
                weth_price_base,
                ltv_bps,
                liquidation_threshold_bps,
                liquidation_bonus_bps,
                collateral=collateral_units,
            ),
            Reserve("USDT", 6, usdt_price_base, 7_500, 7_800, 10_450, collateral=0, debt=debt_units),
        ),
        rounding,
    )


def debt_for_health_factor(
    *,
    collateral_units: int,
    price_base: int,
    lt_bps: int,
    hf: Decimal,
    collateral_decimals: int = 18,
    debt_decimals: int = 6,
) -> int:
    """Debt units making HF = ``hf`` for the given collateral (rounded up; a $1 debt token)."""
    coll_base_lt = collateral_units * price_base * lt_bps // (10**collateral_decimals * PERCENTAGE_FACTOR)
    debt_base = Decimal(coll_base_lt) / hf
    units = (debt_base * Decimal(10**debt_decimals) / Decimal(10**8)).to_integral_value(rounding="ROUND_CEILING")
    return int(units)

"""Uniswap v3 pool math for the devnet's DEX: prices, ticks, and a liquidity ladder for a depth.

Pure functions. Prices are USD per whole collateral token (``Decimal``); pool prices are raw
(token1 base units per token0 base unit) or ``sqrtPriceX96`` integers. "Depth within 1 %" is the
stablecoin a pool pays out while a seller pushes its price down by 1 % — the figure mainnet
dashboards quote for on-chain liquidity.

The liquidity is a ladder of adjacent tick ranges from price / ``price_range`` to price *
``price_range``, each holding the L that gives the profile's depth at its own price (L ∝ 1/√P).
So the depth within 1 % stays about the same wherever `devnet set-price` moves the pools, as it
does on mainnet where liquidity providers follow the price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext

Q96 = 2**96
MAX_TICK = 887272
TICK_SPACING = {500: 10, 3000: 60}  # fee (hundredths of a bip) -> tick spacing
ONE_PERCENT_DOWN_SQRT = Decimal("0.99").sqrt()
PRECISION = 80


@dataclass(frozen=True, slots=True)
class DepthProfile:
    """How much liquidity the devnet puts in each WETH/stablecoin pair, and over which prices.

    ``usd_within_1pct`` is per pair (WETH/USDT, WETH/USDC), split across fee tiers by
    ``fee_shares``. The ladder spans price / ``price_range`` .. price * ``price_range`` in
    ranges of ``step_ticks`` (1020 ticks ≈ 10.7 %; a multiple of every fee tier's spacing).
    """

    usd_within_1pct: Decimal = Decimal(3_000_000)
    fee_shares: tuple[tuple[int, Decimal], ...] = ((500, Decimal("0.75")), (3000, Decimal("0.25")))
    price_range: Decimal = Decimal(4)
    step_ticks: int = 1020
    stablecoins: tuple[str, ...] = ("USDT", "USDC")

    def __post_init__(self) -> None:
        if self.usd_within_1pct <= 0:
            raise ValueError("usd_within_1pct must be positive")
        if sum((share for _fee, share in self.fee_shares), Decimal(0)) != 1:
            raise ValueError("fee shares must add up to 1")
        if any(fee not in TICK_SPACING or self.step_ticks % TICK_SPACING[fee] for fee, _s in self.fee_shares):
            raise ValueError(
                f"fee tiers must be among {sorted(TICK_SPACING)} and step_ticks a multiple of their spacing"
            )
        if self.price_range <= Decimal("1.1"):
            raise ValueError("price_range must be above 1.1")


def raw_price(
    usd_per_collateral: Decimal, collateral_decimals: int, stable_decimals: int, *, collateral_is_token0: bool
) -> Decimal:
    """token1 base units per token0 base unit."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        stable_per_collateral_raw = usd_per_collateral * Decimal(10) ** (stable_decimals - collateral_decimals)
        return stable_per_collateral_raw if collateral_is_token0 else 1 / stable_per_collateral_raw


def usd_price(
    price_raw: Decimal, collateral_decimals: int, stable_decimals: int, *, collateral_is_token0: bool
) -> Decimal:
    """USD per whole collateral token at a raw pool price (the inverse of ``raw_price``)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        stable_per_collateral_raw = price_raw if collateral_is_token0 else 1 / price_raw
        return stable_per_collateral_raw * Decimal(10) ** (collateral_decimals - stable_decimals)


def sqrt_price_x96(price_raw: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return int(price_raw.sqrt() * Q96)


def price_from_sqrt_x96(sqrt_x96: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return (Decimal(sqrt_x96) / Q96) ** 2


def tick_at(price_raw: Decimal) -> int:
    """The tick whose price is at or below ``price_raw`` (floats are fine: ticks only place ranges)."""
    return math.floor(math.log(float(price_raw)) / math.log(1.0001))


def price_at_tick(tick: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return Decimal("1.0001") ** tick


def ladder(price_raw: Decimal, profile: DepthProfile, spacing: int) -> list[tuple[int, int]]:
    """Adjacent [lower, upper) tick ranges on the spacing grid, the middle one centred on the price."""
    step = profile.step_ticks
    first_lower = round((tick_at(price_raw) - step / 2) / spacing) * spacing
    half = math.ceil(math.log(float(profile.price_range)) / math.log(1.0001) / step)
    limit = MAX_TICK // spacing * spacing
    ranges = [(first_lower + k * step, first_lower + (k + 1) * step) for k in range(-half, half + 1)]
    return [(lower, upper) for lower, upper in ranges if -limit <= lower and upper <= limit]


def liquidity_for_depth(
    usd_within_1pct: Decimal, usd_per_collateral: Decimal, collateral_decimals: int, stable_decimals: int
) -> int:
    """The in-range liquidity L that pays out ``usd_within_1pct`` while the price falls 1 %.

    The stablecoin paid out is L * (sqrt(p) - sqrt(0.99 p)), p in stablecoin base units per
    collateral base unit, whichever token is token0.
    """
    with localcontext() as ctx:
        ctx.prec = PRECISION
        sqrt_p = (usd_per_collateral * Decimal(10) ** (stable_decimals - collateral_decimals)).sqrt()
        depth_raw = usd_within_1pct * Decimal(10) ** stable_decimals
        return int(depth_raw / (sqrt_p * (1 - ONE_PERCENT_DOWN_SQRT)))


def amounts_for_liquidity(liquidity: int, sqrt_x96: int, tick_lower: int, tick_upper: int) -> tuple[int, int]:
    """(amount0, amount1) base units a position of ``liquidity`` in [lower, upper) needs at the
    current price, rounded up (a range above the price holds only token0, below only token1)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        current = Decimal(sqrt_x96) / Q96
        lower, upper = price_at_tick(tick_lower).sqrt(), price_at_tick(tick_upper).sqrt()
        inside = min(max(current, lower), upper)
        amount0 = liquidity * (1 / inside - 1 / upper)
        amount1 = liquidity * (inside - lower)
        return math.ceil(amount0), math.ceil(amount1)

"""Uniswap v3 pool math for the devnet's DEX: prices, ticks, and liquidity for a depth profile.

Pure functions. Prices are USD per whole collateral token (``Decimal``); pool prices are raw
(token1 base units per token0 base unit) as ``sqrtPriceX96`` integers. "Depth within 1 %" is the
stablecoin a pool pays out while a seller pushes its price down by 1 % — the figure mainnet
dashboards quote for on-chain liquidity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext

Q96 = 2**96
MIN_TICK = -887272
MAX_TICK = 887272
TICK_SPACING = {500: 10, 3000: 60}  # fee (hundredths of a bip) -> tick spacing
ONE_PERCENT_DOWN_SQRT = Decimal("0.99").sqrt()


@dataclass(frozen=True, slots=True)
class Band:
    """A liquidity position from price/width to price*width, carrying ``share`` of the pool's L."""

    width: Decimal  # > 1: the band spans [p / width, p * width]
    share: Decimal


@dataclass(frozen=True, slots=True)
class DepthProfile:
    """How much liquidity the devnet puts in each WETH/stablecoin pair, and where.

    ``usd_within_1pct`` is per pair (WETH/USDT, WETH/USDC), split across fee tiers by
    ``fee_shares``; inside a pool the bands all contain the starting price, so within 1 % the
    whole depth is there and further out it thins (only the widest band survives a 50 % move).
    """

    usd_within_1pct: Decimal = Decimal(3_000_000)
    fee_shares: tuple[tuple[int, Decimal], ...] = ((500, Decimal("0.75")), (3000, Decimal("0.25")))
    bands: tuple[Band, ...] = (
        Band(Decimal("1.02"), Decimal("0.5")),
        Band(Decimal("1.10"), Decimal("0.3")),
        Band(Decimal("2"), Decimal("0.2")),
    )
    stablecoins: tuple[str, ...] = ("USDT", "USDC")

    def __post_init__(self) -> None:
        if self.usd_within_1pct <= 0:
            raise ValueError("usd_within_1pct must be positive")
        if (
            sum((s for _f, s in self.fee_shares), Decimal(0)) != 1
            or sum((b.share for b in self.bands), Decimal(0)) != 1
        ):
            raise ValueError("fee shares and band shares must each add up to 1")
        if any(fee not in TICK_SPACING for fee, _s in self.fee_shares):
            raise ValueError(f"fee tiers must be among {sorted(TICK_SPACING)}")
        if any(b.width <= Decimal("1.01") for b in self.bands):
            raise ValueError("every band must reach beyond 1 % of the price")


def raw_price(
    usd_per_collateral: Decimal, collateral_decimals: int, stable_decimals: int, *, collateral_is_token0: bool
) -> Decimal:
    """token1 base units per token0 base unit."""
    stable_per_collateral_raw = usd_per_collateral * Decimal(10) ** stable_decimals / Decimal(10) ** collateral_decimals
    return stable_per_collateral_raw if collateral_is_token0 else 1 / stable_per_collateral_raw


def sqrt_price_x96(price_raw: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 80
        return int(price_raw.sqrt() * Q96)


def price_from_sqrt_x96(sqrt_x96: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return (Decimal(sqrt_x96) / Q96) ** 2


def tick_at(price_raw: Decimal) -> int:
    """The tick whose price is at or below ``price_raw`` (floats are fine: ticks only place bands)."""
    return math.floor(math.log(float(price_raw)) / math.log(1.0001))


def band_ticks(price_raw: Decimal, width: Decimal, spacing: int) -> tuple[int, int]:
    """[lower, upper) ticks on the spacing grid covering price/width .. price*width."""
    lower = tick_at(price_raw / width) // spacing * spacing
    upper = -((-tick_at(price_raw * width)) // spacing) * spacing
    lower = max(lower, -(MAX_TICK // spacing) * spacing)
    upper = min(upper, (MAX_TICK // spacing) * spacing)
    return lower, upper


def sqrt_at_tick(tick: int) -> Decimal:
    """sqrt(1.0001 ** tick), the raw sqrt price at a tick (not X96)."""
    with localcontext() as ctx:
        ctx.prec = 80
        return (Decimal("1.0001") ** tick).sqrt()


def liquidity_for_depth(
    usd_within_1pct: Decimal, usd_per_collateral: Decimal, collateral_decimals: int, stable_decimals: int
) -> int:
    """The in-range liquidity L that pays out ``usd_within_1pct`` while the price falls 1 %.

    The stablecoin paid out between sqrt prices is L * (sqrt(p) - sqrt(0.99 p)) in raw units of
    stablecoin per raw collateral, whichever token is token0.
    """
    with localcontext() as ctx:
        ctx.prec = 80
        sqrt_stable_per_collateral = (
            usd_per_collateral * Decimal(10) ** stable_decimals / Decimal(10) ** collateral_decimals
        ).sqrt()
        depth_raw = usd_within_1pct * Decimal(10) ** stable_decimals
        return int(depth_raw / (sqrt_stable_per_collateral * (1 - ONE_PERCENT_DOWN_SQRT)))


def amounts_for_liquidity(liquidity: int, sqrt_x96: int, tick_lower: int, tick_upper: int) -> tuple[int, int]:
    """(amount0, amount1) base units a position of ``liquidity`` in [lower, upper) needs at the
    current price (which lies inside), rounded up."""
    with localcontext() as ctx:
        ctx.prec = 80
        current = Decimal(sqrt_x96) / Q96
        lower, upper = sqrt_at_tick(tick_lower), sqrt_at_tick(tick_upper)
        if not lower < current < upper:
            raise ValueError("the current price must lie inside the band")
        amount0 = liquidity * (1 / current - 1 / upper)
        amount1 = liquidity * (current - lower)
        return int(amount0) + 1, int(amount1) + 1

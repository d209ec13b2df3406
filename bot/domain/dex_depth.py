"""Uniswap v3 depth as the backtest sees it: a ladder of constant-product ranges.

Pure and exact (``Decimal`` at a fixed precision). Prices are debt coins per whole collateral
coin; a seller of collateral pushes the price down. Within one range of liquidity L the pool is
constant product: selling moves √P from √P0 to √P1 and pays out L·(√P0 − √P1) debt coins for
L·(1/√P1 − 1/√P0) collateral coins, plus the pool fee on the input.

The profile is the devnet's (``bot/devnet/dex/depth.py``): per pair, ``usd_within_1pct`` is the
debt the pools pay out while a seller moves the price 1 % down, split across fee tiers; the
liquidity is a ladder of adjacent ranges ``step_ticks`` wide from price / ``price_range`` to
price · ``price_range``, the middle one centred on the price, each holding the L that gives the
profile's depth at its own centre (L ∝ 1/√P), as liquidity providers who follow the price.

``cost`` is what the devnet measures for a swap raising ``out``: collateral paid, valued at
the pool's price before the swap, over ``out``, minus 1 (fee and impact together).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import lru_cache

PRECISION = 50
TICK_BASE = Decimal("1.0001")
ONE_PERCENT_DOWN_SQRT = Decimal("0.99").sqrt()
FEE_DENOMINATOR = 1_000_000  # Uniswap v3 fees are in hundredths of a bip: 500 = 0.05 %
SEARCH_STEPS = 60


@dataclass(frozen=True, slots=True)
class DepthProfile:
    """Liquidity per pair and its shape (the same fields and defaults as the devnet's)."""

    usd_within_1pct: Decimal = Decimal(3_000_000)
    fee_shares: tuple[tuple[int, Decimal], ...] = ((500, Decimal("0.75")), (3000, Decimal("0.25")))
    price_range: Decimal = Decimal(4)
    step_ticks: int = 1020

    def __post_init__(self) -> None:
        if self.usd_within_1pct < 0:
            raise ValueError("usd_within_1pct must not be negative")
        if sum((share for _fee, share in self.fee_shares), Decimal(0)) != 1:
            raise ValueError("fee shares must add up to 1")
        if any(not 0 < fee < FEE_DENOMINATOR for fee, _share in self.fee_shares):
            raise ValueError("fee tiers must be between 0 and 1,000,000 hundredths of a bip")
        if self.price_range <= Decimal("1.1") or self.step_ticks <= 0:
            raise ValueError("price_range must be above 1.1 and step_ticks positive")


@dataclass(frozen=True, slots=True)
class LiquidityRange:
    """[√lower, √upper) of the price holding ``liquidity`` (debt coins per unit of √P)."""

    sqrt_lower: Decimal
    sqrt_upper: Decimal
    liquidity: Decimal


@dataclass(frozen=True, slots=True)
class Pool:
    """One fee tier's pool at a price: its ranges sorted by price, ascending."""

    fee: int
    sqrt_price: Decimal
    ranges: tuple[LiquidityRange, ...]

    @property
    def price(self) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = PRECISION
            return self.sqrt_price * self.sqrt_price

    @property
    def fee_rate(self) -> Decimal:
        return Decimal(self.fee) / FEE_DENOMINATOR


@dataclass(frozen=True, slots=True)
class Swap:
    """A sale of collateral into a pool: what went in (fee included), what came out, where
    the price ended."""

    collateral_in: Decimal
    debt_out: Decimal
    end_sqrt_price: Decimal


def liquidity_for_depth(depth: Decimal, price: Decimal) -> Decimal:
    """The L that pays out ``depth`` debt coins while the price falls 1 % from ``price``."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return depth / (price.sqrt() * (1 - ONE_PERCENT_DOWN_SQRT))


def pool_at(price: Decimal, profile: DepthProfile, fee: int) -> Pool:
    """The fee tier's pool with its ladder centred on ``price`` (liquidity providers follow it).
    The ladder at any price is the one at 1 scaled: √ bounds by √price, L by 1/√price."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        sqrt_p = price.sqrt()
        ranges = tuple(
            LiquidityRange(r.sqrt_lower * sqrt_p, r.sqrt_upper * sqrt_p, r.liquidity / sqrt_p)
            for r in _unit_ladder(profile, fee)
        )
        return Pool(fee, sqrt_p, ranges)


@lru_cache(maxsize=64)
def _unit_ladder(profile: DepthProfile, fee: int) -> tuple[LiquidityRange, ...]:
    """The ladder centred on price 1."""
    share = dict(profile.fee_shares)[fee]
    with localcontext() as ctx:
        ctx.prec = PRECISION
        depth = profile.usd_within_1pct * share
        half = math.ceil(math.log(float(profile.price_range)) / math.log(1.0001) / profile.step_ticks)
        sqrt_step = (TICK_BASE**profile.step_ticks).sqrt()
        sqrt_half_step = (TICK_BASE ** Decimal(profile.step_ticks / 2)).sqrt()
        ranges = []
        for k in range(-half, half + 1):
            centre = sqrt_step**k
            ranges.append(
                LiquidityRange(
                    centre / sqrt_half_step, centre * sqrt_half_step, liquidity_for_depth(depth, centre * centre)
                )
            )
        return tuple(ranges)


def _below(pool: Pool) -> list[LiquidityRange]:
    """The ranges a seller walks through, from the price downwards."""
    return [r for r in reversed(pool.ranges) if r.sqrt_lower < pool.sqrt_price]


def exact_output(pool: Pool, debt_out: Decimal) -> Swap | None:
    """Collateral in (fee included) for exactly ``debt_out``; None when the pool cannot pay it."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        if debt_out <= 0:
            return Swap(Decimal(0), Decimal(0), pool.sqrt_price)
        left, net_in, sqrt_p = debt_out, Decimal(0), pool.sqrt_price
        for r in _below(pool):
            top = min(sqrt_p, r.sqrt_upper)
            room = r.liquidity * (top - r.sqrt_lower)
            if room >= left:
                end = top - left / r.liquidity
                return Swap((net_in + r.liquidity * (1 / end - 1 / top)) / (1 - pool.fee_rate), debt_out, end)
            net_in += r.liquidity * (1 / r.sqrt_lower - 1 / top)
            left -= room
            sqrt_p = r.sqrt_lower
        return None


def exact_input(pool: Pool, collateral_in: Decimal) -> Swap:
    """Debt out for ``collateral_in`` (fee included); the ladder's end stops the swap there."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        left = collateral_in * (1 - pool.fee_rate)
        out, sqrt_p = Decimal(0), pool.sqrt_price
        for r in _below(pool):
            top = min(sqrt_p, r.sqrt_upper)
            room = r.liquidity * (1 / r.sqrt_lower - 1 / top)
            if room >= left:
                end = 1 / (1 / top + left / r.liquidity)
                return Swap(collateral_in, out + r.liquidity * (top - end), end)
            out += r.liquidity * (top - r.sqrt_lower)
            left -= room
            sqrt_p = r.sqrt_lower
        spent = collateral_in - left / (1 - pool.fee_rate)
        return Swap(spent, out, sqrt_p)


def cost(pool: Pool, swap: Swap) -> Decimal:
    """Collateral paid at the pool's starting price over the debt raised, minus 1."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return swap.collateral_in * pool.price / swap.debt_out - 1 if swap.debt_out else Decimal(0)


def price_impact(pool: Pool, swap: Swap) -> Decimal:
    """How far the swap moved the pool's price down (a fraction)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return 1 - (swap.end_sqrt_price / pool.sqrt_price) ** 2


def largest_output_within(pool: Pool, max_cost: Decimal, *, at_most: Decimal) -> Decimal:
    """The most debt (≤ ``at_most``) one exact-output swap raises at a ``cost`` ≤ ``max_cost``;
    0 when even the smallest swap costs more (the fee alone is past the limit). Cost rises with
    size, so a bisection on it finds the edge."""
    with localcontext() as ctx:
        ctx.prec = PRECISION

        def passes(out: Decimal) -> bool:
            swap = exact_output(pool, out)
            return swap is not None and cost(pool, swap) <= max_cost

        if at_most <= 0 or not passes(at_most * Decimal("1e-9")):
            return Decimal(0)
        if passes(at_most):
            return at_most
        lo, hi = Decimal(0), at_most
        for _ in range(SEARCH_STEPS):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if passes(mid) else (lo, mid)
        return lo

"""The backtest's DEX depth model against the devnet's pools (same profile, same ladder)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bot.devnet.dex import depth as devnet_depth
from bot.domain.dex_depth import (
    DepthProfile,
    LiquidityRange,
    Pool,
    cost,
    exact_input,
    exact_output,
    largest_output_within,
    pool_at,
    price_impact,
)

PRICE = Decimal(2000)
WETH_DECIMALS, USDT_DECIMALS = 18, 6


def devnet_pool(fee: int) -> Pool:
    """The ladder ``devnet up`` lays for WETH (token0) / USDT at $2,000, in the model's units."""
    profile = devnet_depth.DepthProfile()
    share = dict(profile.fee_shares)[fee]
    raw = devnet_depth.raw_price(PRICE, WETH_DECIMALS, USDT_DECIMALS, collateral_is_token0=True)
    scale = Decimal(10) ** (WETH_DECIMALS - USDT_DECIMALS)
    unit_l = Decimal(10) ** ((WETH_DECIMALS + USDT_DECIMALS) // 2)
    ranges = []
    for lower, upper in devnet_depth.ladder(raw, profile, devnet_depth.TICK_SPACING[fee]):
        centre = devnet_depth.usd_price(
            devnet_depth.price_at_tick((lower + upper) // 2), WETH_DECIMALS, USDT_DECIMALS, collateral_is_token0=True
        )
        liquidity = devnet_depth.liquidity_for_depth(profile.usd_within_1pct * share, centre, 18, 6)
        ranges.append(
            LiquidityRange(
                (devnet_depth.price_at_tick(lower) * scale).sqrt(),
                (devnet_depth.price_at_tick(upper) * scale).sqrt(),
                Decimal(liquidity) / unit_l,
            )
        )
    return Pool(fee, (raw * scale).sqrt(), tuple(ranges))


def test_the_profile_is_the_devnets() -> None:
    ours, theirs = DepthProfile(), devnet_depth.DepthProfile()
    assert (ours.usd_within_1pct, ours.fee_shares, ours.price_range, ours.step_ticks) == (
        theirs.usd_within_1pct,
        theirs.fee_shares,
        theirs.price_range,
        theirs.step_ticks,
    )
    assert {f.name for f in dataclasses.fields(ours)} == {f.name for f in dataclasses.fields(theirs)} - {"stablecoins"}


@pytest.mark.parametrize(
    ("fee", "out", "measured_pct"),
    [(500, 1_000_000, "0.27"), (3000, 1_000_000, "0.98"), (500, 5_000_000, "1.18"), (3000, 5_000_000, "3.76")],
)
def test_raising_1m_and_5m_costs_what_the_devnet_measured(fee: int, out: int, measured_pct: str) -> None:
    pool = pool_at(PRICE, DepthProfile(), fee)
    ladder = devnet_pool(fee)

    model = cost(pool, exact_output(pool, Decimal(out)))  # type: ignore[arg-type]
    devnet = cost(ladder, exact_output(ladder, Decimal(out)))  # type: ignore[arg-type]

    assert abs(model * 100 - Decimal(measured_pct)) < Decimal("0.01")  # 1 bp
    assert abs(model - devnet) < Decimal("0.0002")  # the same pool within 2 bps


def test_depth_within_one_percent_is_the_fee_tiers_share() -> None:
    pool = pool_at(PRICE, DepthProfile(), 500)

    swap = exact_input(pool, Decimal(10**6))  # far more than 1 %
    one_pct = exact_output(pool, Decimal(2_250_000))

    assert swap.collateral_in < Decimal(10**6)  # the ladder ends at price / 4: the rest stays
    assert one_pct is not None and abs(price_impact(pool, one_pct) - Decimal("0.01")) < Decimal("0.00001")


def test_exact_input_inverts_exact_output() -> None:
    pool = pool_at(PRICE, DepthProfile(Decimal(1_000_000)), 3000)
    out = exact_output(pool, Decimal(400_000))
    assert out is not None

    back = exact_input(pool, out.collateral_in)

    # Inside the middle range: constant product with L for $250k within 1 % at $2,000.
    liquidity = Decimal(250_000) / (PRICE.sqrt() * (1 - Decimal("0.99").sqrt()))
    end = PRICE.sqrt() - Decimal(400_000) / liquidity
    assert abs(out.collateral_in - liquidity * (1 / end - 1 / PRICE.sqrt()) / Decimal("0.997")) < Decimal("1e-20")
    assert abs(back.debt_out - Decimal(400_000)) < Decimal("1e-20")
    assert round(out.collateral_in, 2) == Decimal("202.22")  # $1,978 a coin: 1.1 % below $2,000


def test_a_pool_cannot_pay_more_than_its_ladder_holds() -> None:
    pool = pool_at(PRICE, DepthProfile(Decimal(1_000_000)), 500)

    assert exact_output(pool, Decimal(10**9)) is None


def test_the_largest_swap_within_a_limit_costs_exactly_the_limit() -> None:
    pool = pool_at(PRICE, DepthProfile(), 500)

    out = largest_output_within(pool, Decimal("0.01"), at_most=Decimal(10**8))
    swap = exact_output(pool, out)

    assert swap is not None and round(out) == 4_221_954
    assert abs(cost(pool, swap) - Decimal("0.01")) < Decimal("1e-12")
    assert largest_output_within(pool, Decimal("0.01"), at_most=Decimal(1_000)) == Decimal(1_000)
    assert largest_output_within(pool, Decimal("0.0004"), at_most=Decimal(1_000)) == 0  # under the fee

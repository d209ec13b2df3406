"""The simulated DEX route: quotes from the depth model at the oracle, one atomic deleverage
that only raises HF, a revert past the cap that changes nothing, reconciliation by key."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from bot.backtest.adapters import SimWorld
from bot.backtest.dex import DexParams, SimDex
from bot.backtest.lending import DebtBook, weth_usdt_position
from bot.domain.dex_depth import DepthProfile, cost, exact_output, pool_at
from bot.ports import Dex, Outcome
from tests.support.sim_world import E6, E8, E18, sim_world

KEY = "b1:atomic_deleverage"


def world(collateral: int = 1_000, debt: int = 1_500_000) -> SimWorld:
    """``collateral`` WETH against ``debt`` USDT at $2,000 (1,000 / 1.5M: HF ≈ 1.1067)."""
    w = sim_world()
    w.position = weth_usdt_position(collateral_units=collateral * E18, debt_units=debt * E6, weth_price_base=2_000 * E8)
    w.debt = DebtBook.opened(debt * E6, rate_ray=0, at=0)
    return w


def dex(w: SimWorld, depth: int = 3_000_000) -> SimDex:
    built = DexParams(depth_usd=Decimal(depth)).build(w)
    assert built is not None
    return built


def test_it_is_the_dex_port_and_no_depth_means_no_dex() -> None:
    w = world()
    assert isinstance(dex(w), Dex)
    assert DexParams(depth_usd=Decimal(0)).build(w) is None


def test_a_quote_is_the_cheapest_pool_with_the_flash_premium() -> None:
    d = dex(world())

    quote = d.quote(collateral="WETH", debt="USDT", repay_units=100_000 * E6)

    assert quote is not None
    expected = exact_output(pool_at(Decimal(2_000), DepthProfile(), 500), Decimal("100050"))
    assert expected is not None
    assert (quote.pool_fee, quote.flash_premium_units, quote.source) == (500, 50 * E6, "depth model")
    assert quote.collateral_in_units == math.ceil(expected.collateral_in * E18)  # rounded up
    assert round(Decimal(quote.collateral_in_units) / E18, 4) == Decimal("50.0612")  # 0.07 % over $2,000


def test_an_atomic_deleverage_repays_withdraws_and_swaps_in_one_step() -> None:
    w = world()
    d = dex(w)
    quote = d.quote(collateral="WETH", debt="USDT", repay_units=300_000 * E6)
    assert quote is not None
    hf_before = w.health_factor_wad()

    result = d.atomic_deleverage(
        key=KEY,
        collateral="WETH",
        debt="USDT",
        repay_units=300_000 * E6,
        max_collateral_in_units=quote.collateral_in_units,
        pool_fee=quote.pool_fee,
    )
    again = d.atomic_deleverage(
        key=KEY, collateral="WETH", debt="USDT", repay_units=300_000 * E6, max_collateral_in_units=10**30, pool_fee=500
    )

    assert result.outcome is Outcome.OK and again == result and d.lookup(KEY) == result  # reconciled, not re-sent
    assert w.position.reserve("WETH").collateral == 1_000 * E18 - quote.collateral_in_units
    assert w.position.reserve("USDT").debt == 1_200_000 * E6
    assert hf_before < w.health_factor_wad()
    assert round(Decimal(w.health_factor_wad()) / E18, 4) == Decimal("1.1755")
    assert w.ledger.collateral_sold == Decimal(quote.collateral_in_units) / E18
    assert (w.ledger.fees_usd, w.ledger.debt_repaid_units) == (Decimal(150), 300_000 * E6)  # the premium
    assert w.ledger.gas_usd > 0 and not w.in_transit
    assert [(m.key, m.kind) for m in w.moves] == [(KEY, "dex")]


def test_past_the_cap_it_reverts_and_nothing_changes() -> None:
    w = world()
    d = dex(w)
    quote = d.quote(collateral="WETH", debt="USDT", repay_units=300_000 * E6)
    assert quote is not None
    before = (w.position, w.debt, dict(w.wallet), w.ledger.gas_usd, w.ledger.collateral_sold)

    result = d.atomic_deleverage(
        key=KEY,
        collateral="WETH",
        debt="USDT",
        repay_units=300_000 * E6,
        max_collateral_in_units=quote.collateral_in_units - 1,
        pool_fee=quote.pool_fee,
    )

    assert (result.outcome, result.error) == (Outcome.FAILED, "the pool's price is past the slippage cap: reverted")
    assert (w.position, w.debt, w.wallet, w.ledger.gas_usd, w.ledger.collateral_sold) == before
    assert d.lookup(KEY) == result and w.moves == [] and w.ledger.batch_log == {}


def test_a_swap_so_deep_that_hf_would_fall_reverts() -> None:
    w = world()
    d = dex(w, depth=10_000)  # a 53 % cost: more than HF / LT − 1 = 33 % loses HF
    hf_before = w.health_factor_wad()

    result = d.atomic_deleverage(
        key=KEY, collateral="WETH", debt="USDT", repay_units=600_000 * E6, max_collateral_in_units=10**30, pool_fee=500
    )

    assert (result.outcome, result.error) == (Outcome.FAILED, "the health factor would not rise: reverted")
    assert w.health_factor_wad() == hf_before and w.position.reserve("USDT").debt == 1_500_000 * E6


def test_a_second_swap_in_the_bar_starts_where_the_first_left_the_pool() -> None:
    w = world()
    d = dex(w)
    first = d.quote(collateral="WETH", debt="USDT", repay_units=500_000 * E6)
    assert first is not None
    d.atomic_deleverage(
        key=KEY,
        collateral="WETH",
        debt="USDT",
        repay_units=500_000 * E6,
        max_collateral_in_units=first.collateral_in_units,
        pool_fee=500,
    )

    same_bar = d.quote(collateral="WETH", debt="USDT", repay_units=500_000 * E6)
    w.enter_bar(w.bar + 1)
    next_bar = d.quote(collateral="WETH", debt="USDT", repay_units=500_000 * E6)

    assert same_bar is not None and next_bar is not None
    assert same_bar.collateral_in_units > first.collateral_in_units  # the impact stays in the bar
    assert next_bar.collateral_in_units == first.collateral_in_units  # arbitraged back to the oracle


@pytest.mark.parametrize("fee", [500, 3000])
def test_the_depth_models_cost_is_what_the_pool_charges(fee: int) -> None:
    d = dex(world())
    pool = d.pool(fee)
    units = d.swap_units(fee, 1_000_000 * E6)
    swap = exact_output(pool, Decimal("1000500"))

    assert swap is not None and units is not None
    assert abs(Decimal(units) / E18 * 2_000 / Decimal("1000500") - 1 - cost(pool, swap)) < Decimal("1e-12")

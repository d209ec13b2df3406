"""The simulated exchange builds a bar's book once while nothing it depends on moves."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from bot.backtest.data import Candles
from bot.backtest.market import Market, MarketParams


def _flat(n: int = 3_000, price: float = 2_000.0) -> Candles:
    ts = np.arange(n, dtype=np.int64) * 60
    p = np.full(n, price)
    return Candles(ts, p.copy(), p * 1.0001, p * 0.9999, p.copy(), np.full(n, 1_000.0))


def test_the_same_bar_and_time_reuse_the_book_until_a_sale_or_a_decision_price_moves_it():
    m = Market(_flat(), MarketParams(depth_usd_1pct=8e6))
    book = m.order_book(2_000, 120_000)
    assert m.order_book(2_000, 120_000) is book  # policy, plan and sell at one instant: one build
    assert m.order_book(2_001, 120_060) is not book

    fill, _ = m.sell(2_001, 120_060, Decimal(500), None)
    after = m.order_book(2_001, 120_060)  # the sale opened a gap: a new book, below the old one
    assert fill.qty == Decimal(500) and after.bids[0].price < book.bids[0].price
    assert after == Market._build_book(m, 2_001, 120_060, "ETH/USDT")

    m.override_mid = 1_900.0
    moved = m.order_book(2_001, 120_060)
    assert moved is not after and moved.bids[0].price < Decimal(1_900)


def test_the_params_part_of_a_book_is_made_once_read_only_and_equal_to_a_fresh_one():
    from bot.backtest.market import _level_edges_bps, _profile

    p = MarketParams()
    profile = _profile(p.level_step_bps, p.book_max_bps, p.depth_exponent, p.half_spread_bps)
    assert _profile(p.level_step_bps, p.book_max_bps, p.depth_exponent, p.half_spread_bps) is profile
    steps = _level_edges_bps(p.level_step_bps, p.book_max_bps)
    inner = np.concatenate(([0.0], steps[:-1]))
    assert np.array_equal(profile.inner_share, (inner / 100.0) ** p.depth_exponent)
    assert np.array_equal(profile.outer_share, (steps / 100.0) ** p.depth_exponent)
    assert np.array_equal(profile.price_factor, 1.0 - (inner + p.half_spread_bps) / 10_000.0)
    for array in (profile.inner_share, profile.outer_share, profile.price_factor):
        assert not array.flags.writeable

"""The execution model: depth profile, crash regime, refill between batches, impact, fees."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from bot.backtest.data import Candles
from bot.backtest.market import Market, MarketParams
from bot.domain.book import depth_above


def flat(n: int = 3_000, price: float = 2_000.0, volume: float = 1_000.0) -> Candles:
    ts = np.arange(n, dtype=np.int64) * 60
    p = np.full(n, price)
    return Candles(ts, p.copy(), p * 1.0001, p * 0.9999, p.copy(), np.full(n, volume))


def crash(n: int = 3_000) -> Candles:
    ts = np.arange(n, dtype=np.int64) * 60
    close = np.where(np.arange(n) < n // 2, 2_000.0, 1_600.0)  # -20 %
    return Candles(ts, close.copy(), close * 1.001, close * 0.999, close.copy(), np.full(n, 1_000.0))


def usd_within(book, pct: str) -> float:
    mid = book.bids[0].price
    limit = mid * (1 - Decimal(pct) / 100)
    return float(sum(lv.qty * lv.price for lv in book.bids if lv.price >= limit))


def test_calm_book_holds_the_configured_depth_within_1pct():
    m = Market(flat(), MarketParams(depth_usd_1pct=8e6))
    book = m.order_book(2_000, 2_000 * 60)
    assert m.depth_factor(2_000) == 1.0
    assert usd_within(book, "1") == pytest.approx(8e6, rel=0.02)
    assert usd_within(book, "4") == pytest.approx(16e6, rel=0.02)  # exponent 0.5: 4 % holds 2x


def test_crash_regime_thins_the_book_to_the_crash_factor():
    m = Market(crash(), MarketParams(depth_usd_1pct=8e6, crash_depth_factor=0.4))
    assert m.stress(2_000) == 1.0  # a 20 % drawdown within a day
    assert usd_within(m.order_book(2_000, 2_000 * 60), "1") == pytest.approx(3.2e6, rel=0.02)


def test_a_sweep_moves_the_mid_which_refills_with_the_half_life():
    m = Market(flat(), MarketParams(depth_usd_1pct=8e6, refill_half_life_s=600, impact_coef=0.0))
    t = 2_000 * 60
    fill, fee = m.sell(2_000, t, Decimal(20_000), None)  # $40M: far through the 1 % band
    assert fill.qty == Decimal(20_000)
    gap = 1 - float(fill.worst_price) / 2_000
    assert gap > 0.05
    assert m.mid(2_000, t) == pytest.approx(2_000 * (1 - gap), rel=1e-9)
    assert m.mid(2_010, t + 600) == pytest.approx(2_000 * (1 - gap / 2), rel=1e-9)
    assert fee == (fill.notional * Decimal("0.001")).quantize(Decimal("0.000001"))


def test_ioc_floor_caps_the_fill_at_the_depth_above_it():
    m = Market(flat(), MarketParams(depth_usd_1pct=8e6))
    book = m.order_book(100, 6_000)
    floor = Decimal("1980")  # 1 % below mid
    fill, _ = m.sell(100, 6_000, Decimal(100_000), floor)
    assert fill.qty == depth_above(book.bids, floor)
    assert fill.worst_price >= floor


def test_square_root_impact_grows_with_the_quantity_sold():
    p = MarketParams(depth_usd_1pct=1e12, refill_half_life_s=1, impact_coef=1.0)
    small, big = Market(flat(volume=1_000.0), p), Market(flat(volume=1_000.0), p)
    small.sell(2_000, 0, Decimal(1_000), None)
    big.sell(2_000, 0, Decimal(4_000), None)
    d_small, d_big = small.displacement(2_000, 600), big.displacement(2_000, 600)
    assert d_big == pytest.approx(2 * d_small, rel=0.01)  # 4x the size, 2x the impact

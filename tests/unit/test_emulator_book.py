"""The synthetic depth model: profile shape, spread, depletion and half-life refill."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.clock import ManualClock
from bot.devnet.exchange.book import SyntheticBook
from bot.devnet.exchange.config import DepthProfile, MarketConfig

ETH = MarketConfig("ETHUSDT", "ETH", "USDT")
MID = Decimal(3000)


def _book(clock: ManualClock | None = None, **profile) -> SyntheticBook:
    return SyntheticBook(ETH, DepthProfile(**profile), clock or ManualClock())


def _usd_within(book: SyntheticBook, side: str, fraction: Decimal) -> Decimal:
    levels = book.levels(side, MID)
    if side == "bids":
        return sum((lv.price * lv.qty for lv in levels if lv.price >= MID * (1 - fraction)), Decimal(0))
    return sum((lv.price * lv.qty for lv in levels if lv.price <= MID * (1 + fraction)), Decimal(0))


@pytest.mark.parametrize("shape", ["linear", "sqrt"])
def test_book_depth_within_one_percent_matches_profile(shape: str) -> None:
    book = _book(depth_usd_1pct=Decimal(5_000_000), shape=shape, level_bps=Decimal(1), spread_bps=Decimal(0))
    assert _usd_within(book, "bids", Decimal("0.01")) == pytest.approx(Decimal(5_000_000), rel=Decimal("0.005"))
    assert _usd_within(book, "asks", Decimal("0.01")) == pytest.approx(Decimal(5_000_000), rel=Decimal("0.005"))


def test_book_sqrt_shape_concentrates_liquidity_near_the_touch() -> None:
    linear = _usd_within(_book(shape="linear"), "bids", Decimal("0.0025"))
    sqrt = _usd_within(_book(shape="sqrt"), "bids", Decimal("0.0025"))
    assert linear == pytest.approx(Decimal(1_250_000), rel=Decimal("0.05"))
    assert sqrt == pytest.approx(Decimal(2_500_000), rel=Decimal("0.05"))


def test_book_spread_and_tick_rounding_are_conservative() -> None:
    book = _book(spread_bps=Decimal(10))
    best_bid, best_ask = book.levels("bids", MID)[0], book.levels("asks", MID)[0]
    assert best_bid.price == Decimal("2998.50") and best_ask.price == Decimal("3001.50")
    assert all(lv.price == lv.price.quantize(Decimal("0.01")) for lv in book.levels("bids", MID))
    assert all(lv.qty == lv.qty.quantize(Decimal("0.0001")) for lv in book.levels("bids", MID))


def test_book_depletion_refills_with_half_life() -> None:
    clock = ManualClock()
    book = _book(clock, half_life_s=30)
    full = book.levels("bids", MID)[0]
    book.consume("bids", MID, full.index, full.qty)
    assert book.levels("bids", MID)[0].qty == 0
    clock.advance(30)
    assert book.levels("bids", MID)[0].qty == pytest.approx(full.qty / 2, abs=Decimal("0.0001"))
    clock.advance(300)
    assert book.levels("bids", MID)[0].qty == pytest.approx(full.qty, rel=Decimal("0.001"))


def test_book_without_half_life_never_refills_and_zero_refills_at_once() -> None:
    clock = ManualClock()
    never = _book(clock, half_life_s=None)
    level = never.levels("bids", MID)[0]
    never.consume("bids", MID, level.index, level.qty)
    clock.advance(10_000)
    assert never.levels("bids", MID)[0].qty == 0
    instant = _book(clock, half_life_s=0)
    instant.consume("bids", MID, level.index, level.qty)
    assert instant.levels("bids", MID)[0].qty == level.qty


def test_book_depletion_follows_the_level_when_price_moves() -> None:
    book = _book(half_life_s=None)
    top = book.levels("bids", MID)[0]
    book.consume("bids", MID, top.index, top.qty)
    moved = book.levels("bids", Decimal(2500))
    assert moved[0].qty == 0 and moved[1].qty > 0


def test_book_profile_rejects_unknown_shape() -> None:
    with pytest.raises(ValueError):
        DepthProfile(shape="cubic")
    with pytest.raises(ValueError):
        DepthProfile().replace(colour="red")


def test_scripted_price_interpolates_over_the_market_clock() -> None:
    from bot.devnet.exchange.prices import ScriptedPrice

    clock = ManualClock()
    price = ScriptedPrice([(0, 3000), (600, 2100), (900, 2400)], clock)
    assert price() == Decimal(3000)
    clock.advance(300)
    assert price() == Decimal(2550)
    clock.advance(450)
    assert price() == Decimal(2250)
    clock.advance(10_000)
    assert price() == Decimal(2400)

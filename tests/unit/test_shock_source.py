"""A plan states its in-transit shock and where it came from: σ from candles, or the floor
and the reason (never a silent fallback)."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal

from bot.cli.plan_view import render_plan
from bot.domain import Snapshot
from bot.engine.book_model import synthetic_book
from bot.engine.plan_io import snapshot_from_dict, snapshot_to_dict
from bot.engine.planner import plan
from bot.engine.volatility import price_shock, read_price_history
from strategies import Intent
from tests.support.engine_kit import plan_limits
from tests.support.fakes import RETRY, FakeVenue, make_world

D = Decimal
T0 = 1_770_000_000
CANDLES = "1m candles (ccxt fetch_ohlcv)"
LIMITS = plan_limits(hf_floor=D("1.05"), max_slippage_bps=50, price_shock_bps=300)


def _minutes(n: int, swing: str) -> tuple[tuple[int, Decimal], ...]:
    """n one-minute closes alternating around 2000 by ``swing`` (a fraction)."""
    return tuple((T0 - 60 * (n - i), D(2000) * (1 + D(swing) * (i % 2))) for i in range(n))


def _snapshot(history: tuple[tuple[int, Decimal], ...], source: str) -> Snapshot:
    world = make_world(price=2000, collateral_eth=100, debt_usdt=132_800)
    return Snapshot(
        world.position,
        1,
        T0,
        book=synthetic_book(D(2000), D(5_000_000)),
        price_history=history,
        price_history_source=source,
    )


def test_a_plan_on_volatile_candles_says_sigma_sized_its_shock() -> None:
    result = plan(_snapshot(_minutes(60, "0.01"), CANDLES), Intent.restore_hf("1.6"), limits=LIMITS)
    # |r| = ln 1.01 each minute: σ = 0.00995/√60 per √s; 3·σ·√670 s = 997.4 bps, rounded up.
    assert result.shock_bps == 998
    assert result.shock_source == f"volatility: σ from 60 × {CANDLES}, z=3, round trip 670 s"
    assert result.to_dict()["shock_source"] == result.shock_source


def test_a_plan_without_candles_uses_the_floor_and_says_why() -> None:
    source = "candles unavailable: the exchange does not answer: klines HTTP 503"
    result = plan(_snapshot((), source), Intent.restore_hf("1.6"), limits=LIMITS)
    assert result.shock_bps == 300
    assert result.shock_source == f"floor: limits.price_shock_bps ({source})"
    assert plan(_snapshot((), ""), Intent.restore_hf("1.6"), limits=LIMITS).shock_source == (
        "floor: limits.price_shock_bps (no price history)"
    )


def test_calm_candles_keep_the_floor_and_say_what_sigma_gave() -> None:
    result = plan(_snapshot(_minutes(60, "0.0001"), CANDLES), Intent.restore_hf("1.6"), limits=LIMITS)
    assert result.shock_bps == 300
    assert result.shock_source == (
        f"floor: limits.price_shock_bps (volatility: σ from 60 × {CANDLES}, z=3, round trip 670 s gives 10 bps)"
    )


def test_a_crash_is_capped_and_old_candles_are_named() -> None:
    crash = price_shock(
        _minutes(60, "0.2"), source=CANDLES, now=T0, window_s=86_400, horizon_s=670, z=D(3), floor_bps=300, max_bps=5000
    )
    assert crash.bps == 5000 and crash.source.startswith(f"cap: 5000 bps (volatility: σ from 60 × {CANDLES}")
    stale = price_shock(
        _minutes(60, "0.01"), source=CANDLES, now=T0 + 2 * 86_400, window_s=86_400, horizon_s=670, z=D(3), floor_bps=300
    )
    assert (stale.bps, stale.source) == (300, "floor: limits.price_shock_bps (no σ from 0 of 60 prices within 86400 s)")


def test_reading_candles_turns_a_venue_failure_or_too_few_into_the_reason() -> None:
    world = make_world()
    venue = FakeVenue(world)
    world.price_history = _minutes(60, "0.01")
    ok = read_price_history(venue, "ETH/USDT", timeframe="1m", limit=30)
    assert ok.points == world.price_history[-30:] and ok.source == CANDLES
    world.fault("recent_prices", RETRY)
    failed = read_price_history(venue, "ETH/USDT", timeframe="1m", limit=30)
    assert failed == type(failed)((), "candles unavailable: recent_prices: connection reset")
    world.price_history = _minutes(3, "0.01")
    few = read_price_history(venue, "ETH/USDT", timeframe="1m", limit=30)
    assert (few.points, few.source) == ((), "candles unavailable: 3 × 1m candles, too few for σ")
    assert read_price_history(venue, "ETH/USDT", timeframe="1m", limit=0).source == (
        "candles off (exchange.candles_limit = 0)"
    )


def test_a_saved_snapshot_keeps_its_history_and_source() -> None:
    snapshot = _snapshot(_minutes(5, "0.01"), CANDLES)
    again = snapshot_from_dict(snapshot_to_dict(snapshot))
    assert again.price_history == snapshot.price_history and again.price_history_source == CANDLES
    assert replace(again, book=None) == replace(snapshot, book=None)


def test_the_plan_table_names_its_shock_and_status() -> None:
    result = plan(_snapshot(_minutes(60, "0.01"), CANDLES), Intent.restore_hf("1.6"), limits=LIMITS)
    out = io.StringIO()
    render_plan(result, file=out)
    head = out.getvalue().splitlines()[:2]
    assert head[0].endswith("floor 1.05 at a 9.98 % shock   [reaches_target]")
    assert head[1] == f"shock 998 bps: volatility: σ from 60 × {CANDLES}, z=3, round trip 670 s"

"""The demo's price path: resampling real candles, rescaling to $2,000, the time-lapse clock,
and the shipped CSVs."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.demo.path import (
    WINDOWS,
    Candle,
    Pace,
    PathPoint,
    Timelapse,
    build_path,
    in_window,
    load_path,
    parse_path,
    read_candles,
    resample,
    rescale,
    write_path,
)

D = Decimal
T0 = 1_700_000_000  # a 5-minute boundary is not needed: buckets align to the first candle


def candles(closes: list[str], lows: list[str] | None = None) -> list[Candle]:
    lows = lows or closes
    return [Candle(T0 + 300 * i, D(lo), D(c)) for i, (c, lo) in enumerate(zip(closes, lows, strict=True))]


def test_resample_buckets_take_the_last_close_of_each_bucket():
    got = resample(candles(["100", "101", "102", "103", "104", "105", "106"]), bucket_s=900)
    assert got == [(T0, D(100)), (T0 + 900, D(103)), (T0 + 1800, D(106))]


def test_resample_bucket_holding_the_lowest_low_gives_that_low():
    rows = candles(["100", "99", "98", "97", "96", "95", "94"], lows=["100", "99", "80", "97", "96", "95", "94"])
    got = resample(rows, bucket_s=900)
    assert got[1] == (T0 + 600, D(80))  # the bottom, at its own candle's time
    assert got[2] == (T0 + 1800, D(94))


def test_resample_partial_last_bucket_keeps_its_last_close():
    got = resample(candles(["100", "101", "102", "103", "104"]), bucket_s=900)
    assert got[-1] == (T0 + 1200, D(104))


def test_resample_without_candles_raises():
    with pytest.raises(ValueError):
        resample([], bucket_s=900)


def test_rescale_starts_at_the_target_and_keeps_relative_moves():
    points = rescale([(T0, D("2704.79")), (T0 + 900, D("1747.8"))], D(2000))
    assert points[0].price_usd == D("2000.00")
    assert points[1].price_usd == D("1292.37")  # 1747.8 / 2704.79 * 2000, to cents
    assert [p.step for p in points] == [0, 1]
    assert points[1].source_price == D("1747.8")


def test_rescale_non_positive_first_price_raises():
    with pytest.raises(ValueError):
        rescale([(T0, D(0))], D(2000))


def test_in_window_is_start_inclusive_end_exclusive():
    rows = candles(["1", "2", "3"])
    start = datetime.fromtimestamp(T0 + 300, UTC)
    end = datetime.fromtimestamp(T0 + 600, UTC)
    assert [c.close for c in in_window(rows, start, end)] == [D(2)]


def test_path_csv_round_trips(tmp_path):
    points = [PathPoint(0, T0, D("2704.79"), D("2000.00")), PathPoint(1, T0 + 900, D("2600"), D("1922.37"))]
    write_path(tmp_path / "p.csv", points)
    assert parse_path(io.StringIO((tmp_path / "p.csv").read_text())) == points


def test_parse_path_rejects_steps_out_of_order():
    text = "step,source_time_utc,source_timestamp,source_price,price_usd\n1,x,1,1,1\n0,x,2,1,1\n"
    with pytest.raises(ValueError):
        parse_path(io.StringIO(text))


def test_parse_path_rejects_a_non_positive_price():
    text = "step,source_time_utc,source_timestamp,source_price,price_usd\n0,x,1,1,1\n1,x,2,1,0\n"
    with pytest.raises(ValueError):
        parse_path(io.StringIO(text))


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_shipped_path_starts_at_2000_and_keeps_the_crash(name):
    window, points = load_path(name)
    assert points[0].price_usd == D("2000.00")
    low = min(points, key=lambda p: p.price_usd)
    assert low.price_usd < D(1400)  # below the demo position's liquidation price ($1,379.31) or near it
    assert window.start.timestamp() <= points[0].source_timestamp
    assert points[-1].source_timestamp < window.end.timestamp()
    factor = points[0].price_usd / points[0].source_price
    for p in points:
        assert abs(p.price_usd - p.source_price * factor) <= D("0.005")


def test_shipped_2026_path_matches_its_source_when_present():
    from pathlib import Path

    source = Path("/work/shared/data") / WINDOWS["2026-02"].source_file
    if not source.exists():
        pytest.skip("source candles not on this machine")
    with open(source) as handle:
        rebuilt = build_path(read_candles(handle), WINDOWS["2026-02"])
    assert rebuilt == load_path("2026-02")[1]


def _points(prices: list[str], spacing: int = 900) -> list[PathPoint]:
    return [PathPoint(i, T0 + spacing * i, D(p), D(p)) for i, p in enumerate(prices)]


def test_timelapse_runs_fast_when_idle_and_slow_when_busy():
    clock = Timelapse(
        _points(["2000", "1990", "1980", "1970", "1960"]), Pace(idle_market_s_per_s=900, busy_market_s_per_s=90)
    )
    assert clock.advance(1.0, busy=False).step == 1
    assert clock.advance(5.0, busy=True).step == 1  # 450 s of market: not yet the next point
    assert clock.advance(5.0, busy=True).step == 2
    assert not clock.done
    assert clock.advance(100, busy=False).step == 4
    assert clock.done


def test_timelapse_stops_on_the_bottom_instead_of_stepping_over_it():
    clock = Timelapse(
        _points(["2000", "1990", "1500", "1900", "1950"]), Pace(idle_market_s_per_s=3000, busy_market_s_per_s=90)
    )
    assert clock.advance(1.0, busy=False).price_usd == D(1500)  # would have landed on step 3
    assert clock.at_bottom
    assert clock.advance(1.0, busy=False).step == 4


def test_pace_speed_scales_only_the_idle_rate():
    pace = Pace(idle_market_s_per_s=100, busy_market_s_per_s=10).scaled(3)
    assert pace == Pace(idle_market_s_per_s=300, busy_market_s_per_s=10)
    with pytest.raises(ValueError):
        pace.scaled(0)

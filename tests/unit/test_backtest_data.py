"""Candle loading and validation, the cache lookup by pair, and the synthesised minute bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.backtest import data
from bot.errors import UserInputError

HEADER = "timestamp,open,high,low,close,volume\n"


def write(tmp_path: Path, body: str, name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_load_csv_reads_columns_and_ignores_a_cut_off_last_line(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "0,10,11,9,10.5,2\n60,10.5,12,10,11,3\n120,11,1")
    c = data.load_csv(path)
    assert list(c.timestamp) == [0, 60]
    assert list(c.close) == [10.5, 11.0]
    assert c.interval_s == 60


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("60,1,1,1,1,1\n0,1,1,1,1,1\n", "strictly increasing"),
        ("0,1,1,1,1,1\n0,1,1,1,1,1\n", "strictly increasing"),
        ("0,1,1,1,nan,1\n", "NaN"),
        ("0,0,1,0,1,1\n", "non-positive"),
        ("0,1,1,1,1,-1\n", "negative volume"),
        ("0,1,2,1.5,1,1\n", "OHLC out of order"),
        ("0,1,1,1\n", "six"),
        ("", "no candles"),
    ],
)
def test_load_csv_rejects_bad_candles(tmp_path, body, message):
    with pytest.raises(UserInputError, match=message):
        data.load_csv(write(tmp_path, body))


def test_load_csv_needs_the_header(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("0,1,1,1,1,1\n")
    with pytest.raises(UserInputError, match="header"):
        data.load_csv(path)


def test_shipped_slices_are_valid_and_match_their_provenance():
    text = (data.SHIPPED_DIR / "PROVENANCE.md").read_text()
    for name in (*data.CRASH_WINDOWS, "eth_usd_1h_2025.csv"):
        c = data.shipped(name)
        assert name in text
        assert np.all(np.diff(c.timestamp) == c.interval_s)  # no gaps


def test_load_range_prefers_the_finest_source_that_covers_the_range(tmp_path, monkeypatch):
    monkeypatch.setenv("DELEVER_DATA_DIR", str(tmp_path))
    lo, hi = data.parse_date("2025-10-08"), data.parse_date("2025-10-12")
    c = data.load_range("ETH/USDT", lo, hi)  # the 5m crash window beats the 2025 hourly file
    assert c.source == "eth_usd_5m_2025-10-10.csv"
    assert (int(c.timestamp[0]), len(c)) == (lo, 4 * 288)
    c = data.load_range("ETH/USDT", data.parse_date("2025-03-01"), data.parse_date("2025-04-01"))
    assert c.source == "eth_usd_1h_2025.csv" and len(c) == 31 * 24


def test_load_range_uses_the_download_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DELEVER_DATA_DIR", str(tmp_path))
    rows = [[1_700_000_000 + 60 * k, 10.0, 11.0, 9.0, 10.0, 1.0] for k in range(100)]
    data.write_rows(data.cache_path("binance", "ETH/USDT", "1m"), rows, append=True)
    c = data.load_range("ETH/USDT", 1_700_000_000 + 600, 1_700_000_000 + 1_200)
    assert len(c) == 10 and c.source == "ETH_USDT-1m.csv"
    with pytest.raises(UserInputError, match="download-data"):
        data.load_range("BTC/USDT", 1_700_000_000, 1_700_000_600)


def test_minute_bars_from_hourly_keep_every_hourly_high_and_low():
    hourly = data.shipped("eth_usd_1h_2025.csv").slice(0, 500)
    minutes = data.minute_bars_from_hourly(hourly)
    data.validate(minutes)
    assert len(minutes) == 60 * len(hourly)
    assert np.array_equal(minutes.high.reshape(-1, 60).max(axis=1), hourly.high)
    assert np.array_equal(minutes.low.reshape(-1, 60).min(axis=1), hourly.low)
    assert np.array_equal(minutes.open[::60], hourly.open)
    assert np.allclose(minutes.close[59::60], hourly.close)

"""The shipped price history the in-transit shock is measured on, and its table (cached).

The series are the project's real Binance ETH/USDT candles (``bot/backtest/data``, provenance
in ``PROVENANCE.md``): the 1-minute and 5-minute crash windows for the short horizons and the
full hourly series (2017–2026) for the long ones. The table is built once per quantile and
process (about a second) and shared by every plan.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from bot.backtest.data import CRASH_WINDOWS, SHIPPED_DIR, load_csv
from bot.domain.shock_table import PriceSeries, ShockTable, build_shock_table
from bot.engine.plan_types import MarketModel
from bot.settings.sections import LimitsConfig

HOURLY = SHIPPED_DIR / "history" / "eth_usd_1h.csv"
SOURCE = "Binance ETH/USDT 1m/5m crash windows and 1h 2017–2026"


@lru_cache(maxsize=1)
def shipped_series() -> tuple[PriceSeries, ...]:
    series = []
    for path in (*(SHIPPED_DIR / name for name in CRASH_WINDOWS), HOURLY):
        candles = load_csv(path)
        series.append(
            PriceSeries(
                name=path.name,
                interval_s=candles.interval_s,
                timestamps=candles.timestamp.tolist(),
                lows=candles.low.tolist(),
                closes=candles.close.tolist(),
            )
        )
    return tuple(series)


@lru_cache(maxsize=4)
def shock_table(quantile: Decimal) -> ShockTable:
    """The ``quantile`` worst-fall table over the shipped history (``limits.shock_quantile``)."""
    return build_shock_table(shipped_series(), quantile=quantile, source=SOURCE)


def market_model(limits: LimitsConfig) -> MarketModel:
    """The planner's market assumptions for the daemon and ``plan``: the schema's, with the
    shock table of ``limits.shock_quantile``."""
    return MarketModel(shock_table=shock_table(limits.shock_quantile))

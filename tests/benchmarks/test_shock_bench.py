"""The shock table: built once per process and quantile from the shipped history (the 1m/5m
crash windows and nine years of hourly candles), then a lookup per plan.

The backtest pays the build once per process (a sweep: once per worker), about a second of
one core; ``make bench`` prints it. A plan's lookup is a σ of its recent prices and a
bisection.
"""

from __future__ import annotations

from decimal import Decimal

from bot.compose.shock_history import shipped_series, shock_table
from bot.domain.shock_table import build_shock_table
from bot.engine.volatility import history_shock

D = Decimal
T0 = 1_770_000_000


def test_bench_build_the_shock_table_from_the_shipped_history(benchmark) -> None:  # type: ignore[no-untyped-def]
    series = shipped_series()

    def build():  # type: ignore[no-untyped-def]
        return build_shock_table(series, quantile=D("0.999"))

    table = benchmark.pedantic(build, rounds=3, iterations=1) if benchmark.enabled else benchmark(build)
    assert sum(map(sum, table.samples)) > 500_000
    if benchmark.enabled:
        assert benchmark.stats.stats.mean < 5


def test_bench_a_plans_shock_lookup(benchmark) -> None:  # type: ignore[no-untyped-def]
    table = shock_table(D("0.999"))
    history = tuple((T0 - 60 * (60 - i), D(2000) + D(i % 7)) for i in range(60))

    def lookup():  # type: ignore[no-untyped-def]
        return history_shock(table, history, source="1m", now=T0, horizon_s=970, floor_bps=300)

    assert benchmark(lookup).bps >= 300

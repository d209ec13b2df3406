"""The backtest sizes the batch and daily USD limits from the position when the user names
neither: 5 % of the collateral value a batch and all of it a day, never below the schema's
$100,000 and $1,000,000. Named limits (``--set`` or the config file) are kept as given."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bot.backtest import data
from bot.backtest.scenario import prepare
from bot.settings import load_backtest_settings

D = Decimal
WINDOW = "eth_usd_5m_2022-06-13.csv"  # first open $1,788.80


def _limits(collateral: int, values: dict[str, str], config_path: Path | None = None) -> tuple[Decimal, Decimal]:
    config = load_backtest_settings(config_path) if config_path else None
    _, _, _, actors, inputs = prepare(
        data.shipped(WINDOW),
        "threshold",
        values,
        collateral=D(collateral),
        start_hf=D("1.4"),
        baselines=(),
        config=config,
    )
    engine_limits = actors[0].engine.limits
    assert (str(engine_limits.max_batch_usd), str(engine_limits.max_daily_usd)) == (
        inputs["limits"]["max_batch_usd"],
        inputs["limits"]["max_daily_usd"],
    )
    return engine_limits.max_batch_usd, engine_limits.max_daily_usd


def test_a_17_million_dollar_position_gets_batches_of_5_percent_and_a_day_of_all_of_it() -> None:
    # 10,000 WETH × $1,788.80 = $17,888,000.
    assert _limits(10_000, {}) == (D(894_400), D(17_888_000))


def test_a_small_position_keeps_the_schemas_limits() -> None:
    assert _limits(100, {}) == (D(100_000), D(1_000_000))  # $178,880: 5 % is below $100,000


def test_limits_named_with_set_or_in_the_config_are_kept() -> None:
    assert _limits(10_000, {"max_batch_usd": "250000"}) == (D(250_000), D(17_888_000))
    assert _limits(10_000, {"position_batch_share": "0.1", "position_daily_share": "0.5"}) == (
        D(1_788_800),
        D(8_944_000),
    )


def test_limits_in_the_config_file_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "fund.toml"
    path.write_text("[limits]\nmax_daily_usd = 2000000\n")
    assert _limits(10_000, {}, path) == (D(894_400), D(2_000_000))

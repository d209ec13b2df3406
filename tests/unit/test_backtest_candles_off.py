"""``exchange.candles_limit = 0`` means the same in a backtest as in the daemon: no price history,
so every plan sizes the in-transit shock from ``limits.price_shock_bps`` and says why. With
candles on (the default) the backtest's plans read the regime from the bars they have seen."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bot.backtest import data
from bot.backtest.scenario import run_scenario
from bot.settings import load_backtest_settings

WINDOW = "eth_usd_5m_2020-03-12.csv"


def _plans(config_text: str, tmp_path: Path) -> list[dict]:
    path = tmp_path / "fund.toml"
    path.write_text(config_text)
    out = run_scenario(
        data.shipped(WINDOW),
        "threshold",
        {},
        collateral=Decimal(100),
        start_hf=Decimal("1.4"),
        record=True,
        baselines=(),
        config=load_backtest_settings(path),
    )
    return [choice.detail for snapshot, _, choice in out.actors[0].plans if choice.detail]


def test_candles_off_plans_every_batch_at_the_configured_floor(tmp_path: Path) -> None:
    plans = _plans("[exchange]\ncandles_limit = 0\n[limits]\nprice_shock_bps = 400\n", tmp_path)
    assert len(plans) >= 3
    assert {(p["shock_bps"], p["shock_source"]) for p in plans} == {
        (400, "floor: limits.price_shock_bps (candles off (exchange.candles_limit = 0))")
    }


def test_candles_on_plans_read_the_regime_from_history(tmp_path: Path) -> None:
    plans = _plans("[limits]\nprice_shock_bps = 400\n", tmp_path)
    sources = [p["shock_source"] for p in plans]
    assert any(source.startswith("history: ") for source in sources), sources[:3]
    assert all(p["shock_bps"] >= 400 for p in plans)

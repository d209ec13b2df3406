"""The shipped history's shock table, built once per quantile, and a plan sized by it: the
shock and its source on the plan and on every batch, the floor (and why) without candles,
and a saved plan input that replays to the same shock."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from bot.compose.shock_history import HOURLY, market_model, shock_table
from bot.engine.book_model import synthetic_book
from bot.engine.plan_io import PlanInput
from bot.engine.planner import PlanCosts, plan
from bot.settings.sections import ExchangeConfig, LimitsConfig
from strategies import Intent
from tests.support.engine_kit import plan_limits
from tests.support.fakes import make_world

D = Decimal
T0 = 1_770_000_000
CANDLES = "1m candles (ccxt fetch_ohlcv)"
LIMITS = plan_limits(hf_floor=D("1.05"), max_slippage_bps=50, price_shock_bps=300)


def test_the_shipped_table_holds_the_99_9_percent_falls_per_regime_and_is_built_once() -> None:
    table = shock_table(D("0.999"))
    assert shock_table(D("0.999")) is table
    assert table.horizons_s == (60, 300, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 86_400)
    # 15 minutes: 2.45 % when calm (< 3 %/day), 16.02 % from 4.5 %/day (the 5 August 2024 crash).
    assert [row[2] for row in table.bps] == [245, 389, 1_602, 1_602, 1_703]
    assert [row[4] for row in table.bps] == [488, 700, 2_039, 2_463, 2_908]  # one hour
    assert table.samples[0][4] == 36_608  # calm hours: mostly the hourly series
    assert hashlib.sha256(HOURLY.read_bytes()).hexdigest() in (HOURLY.parent.parent / "PROVENANCE.md").read_text()
    assert [row[2] for row in shock_table(D("0.99")).bps] == [132, 195, 211, 389, 670]


def _minutes(n: int, swing: str) -> tuple[tuple[int, Decimal], ...]:
    return tuple((T0 - 60 * (n - i), D(2000) * (1 + D(swing) * (i % 2))) for i in range(n))


def _input(history: tuple[tuple[int, Decimal], ...], source: str) -> PlanInput:
    from bot.domain import Snapshot

    world = make_world(price=2000, collateral_eth=100, debt_usdt=132_800)
    snapshot = Snapshot(
        world.position,
        1,
        T0,
        book=synthetic_book(D(2000), D(5_000_000)),
        price_history=history,
        price_history_source=source,
    )
    market = market_model(LimitsConfig())
    return PlanInput(snapshot, Intent.restore_hf("1.6"), LIMITS, PlanCosts(), market)


def _plan(p: PlanInput):  # type: ignore[no-untyped-def]
    return plan(p.snapshot, p.intent, limits=p.limits, costs=p.costs, market=p.market)  # type: ignore[arg-type]


def test_a_plan_sizes_its_shock_from_history_in_the_candles_regime_and_every_batch_says_so() -> None:
    # |r| = ln 1.002 a minute: σ 7.6 %/day, regime 7–10 % (470 bps at 300 s, 1,602 at 900 s);
    # 670 s is 0.675 of the way in √s: 470 + 0.675 · 1,132 = 1,234.5, rounded up.
    result = _plan(_input(_minutes(60, "0.002"), CANDLES))
    source = (
        "history: 99.9 % worst fall over a 670 s round trip at σ 7.6 %/day (regime 7–10 %/day; "
        f"σ from 60 × {CANDLES}; Binance ETH/USDT 1m/5m crash windows and 1h 2017–2026)"
    )
    assert (result.shock_bps, result.shock_source) == (1_235, source)
    batches = result.to_dict()["batches"]
    assert batches and all((b["shock_bps"], b["shock_source"]) == (1_235, source) for b in batches)


def test_calm_candles_keep_the_floor_and_no_candles_use_it_saying_why() -> None:
    calm = _plan(_input(_minutes(60, "0.0001"), CANDLES))
    assert calm.shock_bps == 300
    assert calm.shock_source.startswith("floor: limits.price_shock_bps (history: 99.9 % worst fall over a 670 s")
    assert calm.shock_source.endswith("gives 206 bps)")  # 122 + 0.675 · 123, up
    none = _plan(_input((), "candles unavailable: the exchange does not answer: klines HTTP 503"))
    assert (none.shock_bps, none.shock_source) == (
        300,
        "floor: limits.price_shock_bps (candles unavailable: the exchange does not answer: klines HTTP 503)",
    )


def test_a_saved_plan_input_carries_its_table_and_replays_to_the_same_shock() -> None:
    saved = _input(_minutes(60, "0.002"), CANDLES)
    replayed = PlanInput.from_dict(saved.to_dict())
    assert replayed.market.shock_table == saved.market.shock_table
    assert _plan(replayed).to_dict() == _plan(saved).to_dict()


def test_the_default_live_candles_cover_the_day_the_regime_is_read_over() -> None:
    exchange = ExchangeConfig()
    seconds = {"1m": 60, "5m": 300, "15m": 900, "1h": 3_600}[exchange.candles_timeframe]
    assert (exchange.candles_timeframe, exchange.candles_limit) == ("5m", 288)
    assert exchange.candles_limit * seconds == shock_table(D("0.999")).regime_window_s == 86_400

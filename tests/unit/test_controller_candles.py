"""The daemon's observe reads the exchange's candles for the shock and logs their source once
per change."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.engine.controller import Controller, PlanChoice
from tests.support.engine_kit import Rig, controller_config
from tests.support.fakes import RETRY

CANDLES = tuple((1_770_000_000 + 60 * i, Decimal(2000 + i % 2)) for i in range(30))


def _controller(rig: Rig, seen: list) -> Controller:
    def plan_fn(snapshot, context):
        seen.append((snapshot.price_history, snapshot.price_history_source))
        kind = "volatility" if snapshot.price_history else "floor"
        return PlanChoice(None, "nothing", {"shock_bps": 300, "shock_source": f"{kind}: {len(seen)}"})

    return Controller(
        executor=rig.executor(),
        lending=rig.lending,
        venue=rig.venue,
        clock=rig.clock,
        plan_fn=plan_fn,
        config=controller_config(candles_limit=20),
    )


def test_each_tick_plans_on_the_newest_candles_or_the_reason_there_are_none(tmp_path, caplog) -> None:
    rig = Rig(tmp_path)
    rig.world.price_history = CANDLES
    rig.world.fault("recent_prices", RETRY)
    seen: list = []
    controller = _controller(rig, seen)
    with caplog.at_level(logging.INFO, logger="delever.controller"):
        for _ in range(3):
            controller.tick()
    assert seen == [
        ((), "candles unavailable: recent_prices: connection reset"),
        (CANDLES[-20:], "1m candles (ccxt fetch_ohlcv)"),
        (CANDLES[-20:], "1m candles (ccxt fetch_ohlcv)"),
    ]
    assert [r.getMessage() for r in caplog.records if "price history" in r.getMessage()] == [
        "price history for the in-transit shock: candles unavailable: recent_prices: connection reset",
        "price history for the in-transit shock: 1m candles (ccxt fetch_ohlcv)",
    ]
    assert [r.getMessage() for r in caplog.records if "in-transit shock 300" in r.getMessage()] == [
        "in-transit shock 300 bps: floor: 1",
        "in-transit shock 300 bps: volatility: 2",
    ]
    assert ("recent_prices", "1m") in rig.world.calls

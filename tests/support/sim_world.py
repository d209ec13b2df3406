"""A small simulated world for tests that run ports over the backtest's simulated adapters:
100 flat one-minute bars at $2,000, 10 WETH against 10,000 USDT (HF ≈ 1.66)."""

from __future__ import annotations

import numpy as np

from bot.backtest.adapters import SimWorld
from bot.backtest.data import Candles
from bot.backtest.lending import DebtBook, weth_usdt_position
from bot.backtest.market import Market, MarketParams

E18, E6, E8 = 10**18, 10**6, 10**8


def sim_world() -> SimWorld:
    n = 100
    ts = np.arange(n, dtype=np.int64) * 60
    p = np.full(n, 2_000.0)
    candles = Candles(ts, p, p * 1.001, p * 0.999, p.copy(), np.full(n, 1_000.0))
    pos = weth_usdt_position(collateral_units=10 * E18, debt_units=10_000 * E6, weth_price_base=2_000 * E8)
    return SimWorld(
        position=pos,
        debt=DebtBook.opened(10_000 * E6, rate_ray=0, at=0),
        market=Market(candles, MarketParams()),
        deposit_delay_s=300,
        withdrawal_delay_s=600,
        gas_gwei=10,
    )

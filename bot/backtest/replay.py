"""Replay one price path through the backtest's engine and list the batches it ran, for a
comparison with the daemon's journal over the same path on the devnet (same depth profile,
same transfer timings).

    batches = replay_path(prices, settings, depth_usd_1pct=5e6, deposit_delay_s=300,
                          withdrawal_delay_s=600, collateral=Decimal(100), start_hf=Decimal("1.45"))
    batches[0].withdrawn_units, batches[0].sell_floor, batches[0].filled, batches[0].repaid_units

``prices`` is a sequence of (UNIX seconds, price): each becomes a flat bar (open = high = low =
close) lasting until the next one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np

from bot.backtest.data import Candles
from bot.backtest.pair import ETH_USDT, Pair
from bot.backtest.scenario import run_scenario
from bot.settings import BacktestSettings


@dataclass(frozen=True)
class ReplayedBatch:
    batch_id: str
    started_at: int
    withdrawn_units: int  # collateral base units (0: a sweep of idle funds)
    sell_floor: Decimal | None  # the IOC's floor price (None: nothing was offered)
    filled: Decimal  # coins sold
    repaid_units: int  # debt base units repaid (idle wallet funds and the batch's proceeds)


def path_candles(prices: Sequence[tuple[int, Decimal | float]], *, source: str = "replay") -> Candles:
    ts = np.array([int(t) for t, _ in prices], dtype=np.int64)
    p = np.array([float(v) for _, v in prices], dtype=np.float64)
    return Candles(ts, p, p.copy(), p.copy(), p.copy(), np.full(len(p), 1e9), source=source)


def replay_path(
    prices: Sequence[tuple[int, Decimal | float]],
    settings: BacktestSettings,
    *,
    depth_usd_1pct: float,
    deposit_delay_s: int,
    withdrawal_delay_s: int,
    collateral: Decimal,
    start_hf: Decimal,
    pair: Pair = ETH_USDT,
    position: dict[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> list[ReplayedBatch]:
    """The batches the settings' policy runs over ``prices``, in order. ``values``: further
    ``--set`` keys (market model, simulation, planner), routed as the CLI routes them."""
    values = {
        **(values or {}),
        "depth_usd_1pct": str(depth_usd_1pct),
        "deposit_delay_s": str(deposit_delay_s),
        "withdrawal_delay_s": str(withdrawal_delay_s),
    }
    out = run_scenario(
        path_candles(prices),
        None,
        values,
        collateral=collateral,
        start_hf=start_hf,
        position=position,
        baselines=(),
        config=settings,
        pair=pair,
    )
    batches: dict[str, ReplayedBatch] = {}
    for move in out.results[0].world.moves:
        batch_id = move.key.split(":", 1)[0]  # the executor's keys are "<batch id>:<step>"
        row = batches.get(batch_id) or ReplayedBatch(batch_id, move.t, 0, None, Decimal(0), 0)
        if move.kind == "withdraw":
            row = replace(row, withdrawn_units=row.withdrawn_units + int(move.amount))
        elif move.kind == "sell":
            row = replace(row, sell_floor=row.sell_floor or move.floor_price, filled=row.filled + move.amount)
        elif move.kind == "repay":
            row = replace(row, repaid_units=row.repaid_units + int(move.amount))
        batches[batch_id] = row
    return list(batches.values())

"""Per-run metrics with a fixed key order and fixed-precision decimal strings (byte-stable JSON).

Definitions (a seller's implementation shortfall, notes C4):
- ``arrival_price``: the oracle price when the strategy first acted (the decision price).
- ``shortfall_usd`` = Σ q_k·(arrival − fill_k) + exchange fees; ``shortfall_bps`` of arrival·Σq.
- ``liquidation_penalty_usd``: value (at the oracle) of collateral seized by liquidators,
  protocol fee included, minus the debt they cleared — what liquidations cost the borrower.
- ``final_equity_usd``: at the last close: collateral on Aave and everywhere else (wallet,
  exchange, in transit) plus stablecoins, minus debt, minus gas spent.
- ``equity_vs_hold_usd``: final equity minus that of holding the starting position untouched
  and never liquidated (same interest). Mostly the market's move: a strategy that sold before
  a fall "beats" holding whatever it paid. It splits exactly into
  ``market_drift_usd − protection_cost_usd − liquidation_penalty_usd``.
- ``execution_cost_usd`` = Σ q_k·(market price when sale k was sent − fill_k): what the book
  took below the market (spread, depth, the bot's own impact and its refill gap).
- ``transit_drift_usd`` = Σ q_k·(decision price of k's batch − market price at the sale): the
  market's move while the coins travelled to the exchange. Execution cost plus transit drift
  is the shortfall against the decision-time price.
- ``protection_cost_usd`` = exchange fees + gas + execution cost: what protection cost, to
  compare with the liquidation penalty it avoided (the do-nothing baseline's penalty).
- ``engine_halted``: when and why the engine halted (a halt, or failed ticks up to
  ``engine.max_consecutive_failures``), as the daemon would; None if it never did.
- ``max_in_transit_usd``: the most collateral (at the market) and stablecoins off the pool at
  once — withdrawn, on the way, on the exchange — not counting the wallet's stablecoins.
- ``min_hf_in_transit``: the lowest HF while anything was in transit.
- ``time_to_target_s``: from the policy's first batch (its trigger) to the end of the first
  batch that left HF at the policy's target; None when no batch ever did (or no target).
- ``max_hf_dip_below_batch_start``: how far HF in transit fell below its value at the start of
  its batch, at most (0: never below); the market's own move while coins travel counts.
- ``min_hf_vs_batch_start_same_price``: the lowest HF in transit over the HF the batch's start
  position would have at the same price (≥ 1: no batch ever left HF below where it started,
  whatever the price did; a repay-first batch keeps it ≥ 1 by construction).
- ``batches_repay_first``, ``batches_withdraw_first``: finished batches that withdrew, by
  order; ``batches_sweep``: those that only moved idle funds.
- ``collateral_sold_by_route``, ``batches_by_route``: collateral sold and batches, by route:
  ``cex`` (withdraw → exchange → repay) and ``dex`` (one atomic flash-loan deleverage).
- ``sold_vs_hindsight``: ``collateral_sold`` over the hindsight baseline's (the least sale at
  the first bar that survives the whole path, ``bot.backtest.baselines.Hindsight``).
- ``market_drift_usd``: the rest of ``equity_vs_hold_usd``: coins sold at the decision prices
  instead of held to the last close, the transit drift (the market's direction, not the bot's
  skill), and the interest saved on the debt repaid early.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from bot.backtest.adapters import NATIVE, to_base
from bot.backtest.data import iso
from bot.backtest.dex import DEX_MOVE
from bot.backtest.runner import RunResult
from bot.domain.position import from_units, health_factor_wad

USD, QTY, PRICE, HF, BPS_PLACES = 2, 6, 2, 4, 2
RATIO = 2
ORDERS = ("repay_first", "withdraw_first", "sweep")


def q(value: Decimal | None, places: int) -> str | None:
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def _f(value: float, places: int) -> str:
    return q(Decimal(repr(round(value, places + 2))), places)


def summarise(result: RunResult) -> dict[str, Any]:
    w = result.world
    p = w.pair
    cd, dd = p.collateral_decimals, p.debt_decimals
    led = w.ledger
    c = result.candles
    end_t = int(c.timestamp[-1])
    p_end = from_units(to_base(float(c.close[-1])), 8)
    debt_end = w.debt.at(end_t).balance
    coll_units = w.position.reserve(p.collateral).collateral
    coins = from_units(coll_units + w.wallet[p.collateral] + w.wallet[NATIVE], cd) + w.exchange[p.base]
    usd = from_units(w.wallet[p.debt] - w.funded_units, dd) + w.exchange[p.quote]
    for tr in w.transfers.values():
        if not tr.done:
            if tr.coin == p.base:
                coins += tr.amount
            else:
                usd += tr.amount
    equity = coins * p_end + usd - from_units(debt_end, dd) - led.gas_usd
    start = result.start_position
    hold = from_units(start.reserve(p.collateral).collateral, cd) * p_end - from_units(
        result.start_debt.at(end_t).balance, dd
    )

    penalty = Decimal(0)
    for _, liq in led.liquidations:
        penalty += from_units(liq.penalty_base(liq.position.reserve(p.collateral), liq.position.reserve(p.debt)), 8)
    sold = led.collateral_sold
    avg = led.gross_quote / sold if sold else None
    shortfall = led.shortfall_usd + led.fees_usd if sold else Decimal(0)
    shortfall_bps = (shortfall / (led.arrival_price * sold) * 10_000) if sold and led.arrival_price else Decimal(0)
    final_pos = w.position.with_prices({p.collateral: to_base(float(c.close[-1]))}).with_reserve(p.debt, debt=debt_end)
    final_hf = health_factor_wad(final_pos)
    protection = led.fees_usd + led.gas_usd + led.execution_cost_usd
    tr = w.transit
    return {
        "policy": result.name,
        "liquidated": bool(led.liquidations),
        "liquidations": len(led.liquidations),
        "liquidation_penalty_usd": q(penalty, USD),
        "min_health_factor": _f(result.min_hf, HF) if result.min_hf != float("inf") else None,
        "collateral_sold": q(sold, QTY),
        "debt_repaid": q(from_units(led.debt_repaid_units, dd), USD),
        "avg_fill_price": q(avg, PRICE),
        "arrival_price": q(led.arrival_price, PRICE),
        "shortfall_usd": q(shortfall, USD),
        "shortfall_bps": q(shortfall_bps, BPS_PLACES),
        "fees_usd": q(led.fees_usd, USD),
        "gas_usd": q(led.gas_usd, USD),
        "final_equity_usd": q(equity, USD),
        "equity_vs_hold_usd": q(equity - hold, USD),
        "batches": len(led.batches),
        "first_liquidation": iso(led.liquidations[0][0]) if led.liquidations else None,
        "final_health_factor": None if final_hf >= 2**255 else q(Decimal(final_hf) / Decimal(10**18), HF),
        "final_debt": q(from_units(debt_end, dd), USD),
        "execution_cost_usd": q(led.execution_cost_usd, USD),
        "transit_drift_usd": q(led.transit_drift_usd, USD),
        "protection_cost_usd": q(protection, USD),
        "market_drift_usd": q(equity - hold + protection + penalty, USD),
        "max_in_transit_usd": q(Decimal(repr(round(tr.max_usd, 2))), USD),
        "min_hf_in_transit": None if math.isinf(tr.min_hf) else _f(tr.min_hf, HF),
        "time_to_target_s": (
            None
            if led.target_reached_at is None or led.triggered_at is None
            else led.target_reached_at - led.triggered_at
        ),
        "max_hf_dip_below_batch_start": _f(tr.max_dip_below_start, HF),
        "min_hf_vs_batch_start_same_price": (
            None if math.isinf(tr.min_vs_start_same_price) else _f(tr.min_vs_start_same_price, 6)
        ),
        **{f"batches_{order}": led.batch_orders.get(order, 0) for order in ORDERS},
        **_by_route(result),
        "engine_halted": next((f"{iso(t)}: {d}" for t, kind, d in result.events if kind == "halted"), None),
    }


def _by_route(result: RunResult) -> dict[str, Any]:
    """The atomic route's batches are its moves; every other batch went through the exchange."""
    w = result.world
    dex_keys = {m.key.split(":", 1)[0]: m.amount for m in w.moves if m.kind == DEX_MOVE}
    dex_sold = sum(dex_keys.values(), Decimal(0))
    return {
        "collateral_sold_by_route": {"cex": q(w.ledger.collateral_sold - dex_sold, QTY), "dex": q(dex_sold, QTY)},
        "batches_by_route": {"cex": len(set(w.ledger.batch_log) - set(dex_keys)), "dex": len(dex_keys)},
    }


def batch_rows(result: RunResult) -> list[dict[str, Any]]:
    """The batches of a run in start order: time, collateral withdrawn, average sale price,
    debt repaid, HF before → after (None: no debt)."""
    rows = []
    for b in result.world.ledger.batch_log.values():
        rows.append(
            {
                "time": iso(b.t),
                "withdrawn": q(b.withdrawn, QTY),
                "sold": q(b.sold, QTY),
                "avg_price": q(b.proceeds / b.sold, PRICE) if b.sold else None,
                "decision_price": q(b.decision_price, PRICE),
                "repaid_usd": q(b.repaid, USD),
                "hf_before": None if b.hf_before is None else q(b.hf_before, HF),
                "hf_after": None if b.hf_after is None else q(b.hf_after, HF),
                "in_flight": result.world.ledger.in_flight_at_start.get(b.batch_id, 0),
            }
        )
    return rows


def with_sold_vs_hindsight(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each summary gains ``sold_vs_hindsight``: its ``collateral_sold`` over the hindsight
    baseline's (None without that baseline, or when hindsight sold nothing)."""
    least = next((s["collateral_sold"] for s in summaries if s["policy"] == "hindsight"), None)
    base = Decimal(least) if least is not None else Decimal(0)
    for s in summaries:
        sold = s["collateral_sold"]
        s["sold_vs_hindsight"] = q(Decimal(sold) / base, RATIO) if base > 0 and sold is not None else None
    return summaries

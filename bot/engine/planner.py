"""The planner: turn a policy's ``Intent`` into batches that hold the HF floor throughout.

``plan(snapshot, intent, limits=..., rules=..., costs=..., market=...) -> Plan`` is pure and
deterministic (Decimal at a fixed context, integers on chain). Per DESIGN "One batch":

1. Idle debt tokens repay first (wallet, then the exchange's free quote balance).
2. Each unwind batch withdraws ``w`` = the least of
   - the HF-floor bound at a shocked price: ``max_withdraw(shocked(pos, δ), floor)``, with
     δ = max(price_shock_bps, the history's quantile fall over T_roundtrip in the regime of the
     recent σ) — or z·σ·√T_roundtrip without a table — HF stays ≥ floor while collateral is in transit;
   - the bid depth at or above the cap price ``reference·(1 − max_slippage)`` (so an IOC
     limit order there fills it: the cap holds by construction);
   - per-batch and per-day limits (USD and coins), the intent's ``max_sell``, the collateral held;
   - and no more than what reaches the target,
   rounded down to the exchange's lot step and dropped if under its minimums.
3. Each batch is simulated: sell at the walk average, net of the taker fee and the exchange
   withdrawal fee, repay; the book is depleted by what the batch ate and refills between
   batches (``MarketModel.refill_half_life_s``). As HF recovers the floor bound widens, so
   batches grow.
4. With a buffer (``limits.buffer_usd``) and debt tokens in the wallet, a batch repays from the
   wallet first (order ``repay_first``) and withdraws no more than keeps HF at or above its
   pre-batch value price for price, at the current and at the shocked price
   (``bot.domain.repay_first``); of what the sale brings back it keeps what it spent (up to the
   buffer) in the wallet and repays the rest. Otherwise it withdraws first (``withdraw_first``).
5. When no withdrawal can keep the floor and the daemon's plans have been blocked so for
   ``limits.emergency_after_s``, the plan tries the emergency floor (``limits.emergency_hf_floor``,
   HF ≥ 1.01 at the shocked price by default): after a crash the data-sized shock can hold the
   floor out of reach for a day while HF slides, and a smaller batch that even the shocked price
   cannot liquidate beats standing still. Such batches are marked ``emergency`` and the plan
   warns. When even that leaves no room, the plan says so (status BLOCKED) and names the
   outside action that would help; it never emits a batch that breaks the floor it was
   planned under.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Context, Decimal, localcontext

from bot.domain import (
    OrderBook,
    Position,
    Snapshot,
    after_repay,
    after_withdraw,
    decimal_to_wad,
    depth_above,
    floor_price,
    from_units,
    health_factor_wad,
    max_withdraw,
    repay_for_target,
    shocked,
    to_units,
    wad_to_decimal,
)
from bot.domain.book import round_down_to_step
from bot.domain.repay_first import keeps_start_hf, repay_first_withdraw
from bot.engine.book_model import BookState, synthetic_book
from bot.engine.fast_sizing import max_withdraw_fast, repay_for_target_fast
from bot.engine.plan_types import (
    Batch,
    MarketModel,
    Plan,
    PlanCosts,
    PlanLimits,
    PlanStatus,
    PlanTotals,
    TransferTimings,
)
from bot.engine.volatility import FLOOR, Shock, daily_volatility, history_shock, price_shock
from bot.ports import MarketRules
from strategies.base import Intent
from strategies.helpers import main_collateral, main_debt

__all__ = [
    "Batch",
    "MarketModel",
    "Plan",
    "PlanCosts",
    "PlanLimits",
    "PlanStatus",
    "PlanTotals",
    "TransferTimings",
    "default_rules",
    "no_action_plan",
    "plan",
    "synthetic_book",
]

D = Decimal
BPS = D(10_000)
PLAN_CONTEXT = Context(prec=34, rounding="ROUND_HALF_EVEN")
DIVERGENCE_WARN_BPS = D(100)
# A repay-first withdrawal keeps HF this much above its start, for the interest that accrues
# before the withdrawal lands (1 bp of HF is hours of interest).
REPAY_FIRST_MARGIN_BPS = 1


def default_rules(symbol: str = "ETH/USDT") -> MarketRules:
    """Binance-like ETH/USDT rules when the venue's are not known."""
    base, _, quote = symbol.partition("/")
    return MarketRules(
        symbol=symbol,
        base=base,
        quote=quote or "USDT",
        tick_size=D("0.01"),
        step_size=D("0.0001"),
        min_qty=D("0.0001"),
        min_notional=D("5"),
        taker_fee=D("0.001"),
    )


@dataclass(slots=True)
class _Run:
    """Mutable state of one planning run (private; the Plan is frozen)."""

    pos: Position
    book: BookState
    batches: list[Batch] = field(default_factory=list)
    t: int = 0
    day: int = 0
    day_usd: Decimal = D(0)
    day_qty: Decimal = D(0)
    sold_qty: Decimal = D(0)
    wallet: int = 0  # debt tokens in the wallet repay-first batches may spend
    buffer: int = 0  # of which the sale refills at most this much
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Setup:
    snapshot: Snapshot
    intent: Intent
    limits: PlanLimits
    costs: PlanCosts
    market: MarketModel
    rules: MarketRules
    collateral: str
    debt: str
    target_wad: int | None  # None: repay everything
    floor_wad: int
    shock: int
    shock_source: str
    shock_symbols: frozenset[str]
    reference: Decimal
    cap_price: Decimal
    taker_fee: Decimal
    emergency: bool = False  # planned under limits.emergency_hf_floor (floor_wad is that)


def plan(
    snapshot: Snapshot,
    intent: Intent,
    *,
    limits: PlanLimits,
    rules: MarketRules | None = None,
    costs: PlanCosts | None = None,
    market: MarketModel | None = None,
    book: OrderBook | None = None,
) -> Plan:
    """Plan the batches that carry out ``intent`` from ``snapshot``. Pure and deterministic.

    ``book`` overrides ``snapshot.book``; with neither, a synthetic book of
    ``market.synthetic_depth_usd_1pct`` around the oracle price is used (and noted).
    """
    with localcontext(PLAN_CONTEXT):
        return _plan(snapshot, intent, limits, rules, costs or PlanCosts(), market or MarketModel(), book)


def _plan(
    snapshot: Snapshot,
    intent: Intent,
    limits: PlanLimits,
    rules: MarketRules | None,
    costs: PlanCosts,
    market: MarketModel,
    book: OrderBook | None,
) -> Plan:
    pos = snapshot.position
    coll_r = (
        next((r for r in pos.collaterals if r.symbol == intent.collateral), None)
        if intent.collateral
        else main_collateral(pos)
    )
    debt_r = next((r for r in pos.debts if r.symbol == intent.debt), None) if intent.debt else main_debt(pos)
    hf0 = health_factor_wad(pos)
    if coll_r is None or debt_r is None:
        what = "no debt" if debt_r is None else "no collateral to sell"
        if intent.debt and debt_r is None:
            what = f"no {intent.debt} debt to repay"
        if intent.collateral and coll_r is None:
            what = f"{intent.collateral} is not collateral of this position"
        return _empty_plan(
            snapshot,
            intent,
            limits,
            coll_r.symbol if coll_r else "",
            debt_r.symbol if debt_r else "",
            coll_r.decimals if coll_r else 18,
            debt_r.decimals if debt_r else 6,
            what,
        )

    oracle = D(coll_r.price) / D(debt_r.price)  # quote (debt token) per collateral coin
    warnings: list[str] = []
    notes: list[str] = []
    book_source = "snapshot"
    book = book if book is not None else snapshot.book
    if book is None or not book.bids:
        coin = market.collateral_coin.get(coll_r.symbol, coll_r.symbol)
        book = synthetic_book(oracle, market.synthetic_depth_usd_1pct, symbol=f"{coin}/{debt_r.symbol}")
        book_source = "synthetic"
        notes.append(
            f"no order book: planned on a synthetic book with ${market.synthetic_depth_usd_1pct:,.0f} "
            f"within 1 % of the oracle price"
        )
    rules = rules or default_rules(book.symbol)
    if rules.quote != debt_r.symbol:
        warnings.append(f"sells into {rules.quote} but repays {debt_r.symbol}: assumed 1:1")
    reference = book.mid if book.mid is not None else oracle
    divergence = abs(reference / oracle - 1) * BPS
    if divergence > DIVERGENCE_WARN_BPS:
        warnings.append(f"exchange price {reference} is {divergence:.0f} bps from the oracle's {oracle:.2f}")

    shock = _shock_of(snapshot, limits, costs, market)
    setup = _Setup(
        snapshot=snapshot,
        intent=intent,
        limits=limits,
        costs=costs,
        market=market,
        rules=rules,
        collateral=coll_r.symbol,
        debt=debt_r.symbol,
        target_wad=decimal_to_wad(intent.target_hf) if intent.target_hf is not None else None,
        floor_wad=decimal_to_wad(limits.hf_floor),
        shock=shock.bps,
        shock_source=shock.source,
        shock_symbols=frozenset(r.symbol for r in pos.collaterals if r.symbol not in market.stable_symbols),
        reference=reference,
        cap_price=floor_price(reference, limits.max_slippage_bps, tick=rules.tick_size),
        taker_fee=costs.taker_fee if costs.taker_fee is not None else rules.taker_fee,
    )
    run = _Run(
        pos=pos,
        book=BookState.of(book),
        day=snapshot.timestamp // 86_400,
        day_usd=limits.sold_today_usd,
        day_qty=limits.sold_today_qty,
        notes=notes,
        warnings=warnings,
    )
    if hf0 < 10**18:
        warnings.append(f"HF {wad_to_decimal(hf0):.4f} is below 1: the position can be liquidated now")

    if _reached(setup, run.pos):
        stop = "target already reached" if setup.target_wad is not None else "no debt"
        return _finish(setup, run, hf0, PlanStatus.NO_ACTION, stop, book_source)

    run.buffer = to_units(limits.buffer_usd, debt_r.decimals)
    _repay_idle(setup, run)
    stop = _unwind(setup, run)
    if _blocked_by_floor(stop, run):
        stop = _unwind_in_emergency(setup, run) or stop
    if _reached(setup, run.pos):
        status = PlanStatus.REACHES_TARGET
    elif _blocked_by_floor(stop, run):
        status = PlanStatus.BLOCKED
        _explain_blocked(setup, run)
    else:
        status = PlanStatus.PARTIAL if run.batches else PlanStatus.NO_ACTION
    return _finish(setup, run, hf0, status, stop, book_source)


def _blocked_by_floor(stop: str, run: _Run) -> bool:
    return stop.startswith("floor") and not _has_unwind(run)


def _has_unwind(run: _Run) -> bool:
    return any(b.kind == "unwind" for b in run.batches)


def _unwind_in_emergency(s: _Setup, run: _Run) -> str | None:
    """Unwind under the emergency floor when the HF floor blocks every withdrawal; the stop
    reason, or None when the emergency floor is off or leaves no room either."""
    emergency = s.limits.emergency_hf_floor
    if emergency >= s.limits.hf_floor:
        return None
    waited, after = s.limits.floor_blocked_for_s, s.limits.emergency_after_s
    if waited < after:
        run.notes.append(
            f"blocked by the floor for {waited:.0f} s: emergency batches (HF ≥ {emergency} at the shocked price, "
            f"limits.emergency_hf_floor) start after {after} s"
        )
        return None
    urgent = replace(s, floor_wad=decimal_to_wad(emergency), emergency=True)
    stop = _unwind(urgent, run)
    if not _has_unwind(run):
        return None
    hf_shocked = wad_to_decimal(health_factor_wad(_shock(s, s.snapshot.position)))
    run.warnings.append(
        f"emergency: HF at a {s.shock / 100:.2f} % price shock is {hf_shocked:.4f}, under the floor "
        f"{s.limits.hf_floor}, so no withdrawal keeps it; emergency batches keep HF ≥ {emergency} at the "
        f"shocked price (limits.emergency_hf_floor)"
    )
    return stop


def _shock_of(snapshot: Snapshot, limits: PlanLimits, costs: PlanCosts, market: MarketModel) -> Shock:
    if market.shock_table is not None:
        return history_shock(
            market.shock_table,
            snapshot.price_history,
            source=snapshot.price_history_source,
            now=snapshot.timestamp,
            horizon_s=costs.timings.round_trip_s,
            floor_bps=limits.price_shock_bps,
            max_bps=market.max_shock_bps,
        )
    return price_shock(
        snapshot.price_history,
        source=snapshot.price_history_source,
        now=snapshot.timestamp,
        window_s=market.vol_window_s,
        horizon_s=costs.timings.round_trip_s,
        z=market.shock_z,
        floor_bps=limits.price_shock_bps,
        max_bps=market.max_shock_bps,
    )


def _recent(snapshot: Snapshot, market: MarketModel) -> tuple[tuple[int, Decimal], ...]:
    """The price history inside the volatility window (recent volatility is what matters)."""
    since = snapshot.timestamp - market.vol_window_s
    return tuple(point for point in snapshot.price_history if point[0] >= since)


def _reached(s: _Setup, pos: Position) -> bool:
    if s.target_wad is None:
        return pos.reserve(s.debt).debt == 0
    return health_factor_wad(pos) >= s.target_wad


# --- idle repay -------------------------------------------------------------------------


def _repay_idle(s: _Setup, run: _Run) -> None:
    """Idle debt tokens repay first: on the exchange, and in the wallet beyond the buffer (the
    buffer is left to the repay-first batches, which spend it and refill it)."""
    pos = run.pos
    debt_r = pos.reserve(s.debt)
    needed = debt_r.debt
    if s.target_wad is not None:
        for_target = repay_for_target_fast(pos, s.debt, target_hf_wad=s.target_wad)
        needed = debt_r.debt if for_target is None else for_target
    wallet = max(0, s.snapshot.wallet_balances.get(s.debt, 0))
    run.wallet = min(wallet, run.buffer)
    wallet -= run.wallet
    on_exchange = s.snapshot.exchange_balances.get(s.rules.quote, D(0)) - s.costs.exchange_withdrawal_fee
    exchange_units = to_units(on_exchange, debt_r.decimals) if on_exchange > 0 else 0
    from_wallet = min(wallet, needed)
    from_exchange = min(exchange_units, needed - from_wallet)
    if from_wallet + from_exchange == 0:
        return
    repay = from_wallet + from_exchange
    end = after_repay(pos, s.debt, repay)
    timings = s.costs.timings
    duration = timings.idle_exchange_s if from_exchange else timings.repay_tx_s
    hf_before = health_factor_wad(pos)
    run.batches.append(
        Batch(
            index=len(run.batches),
            kind="repay_idle",
            collateral=s.collateral,
            debt=s.debt,
            collateral_decimals=pos.reserve(s.collateral).decimals,
            debt_decimals=debt_r.decimals,
            withdraw_units=0,
            repay_units=repay,
            repay_all=repay >= debt_r.debt,
            repay_from_wallet_units=from_wallet,
            repay_from_exchange_units=from_exchange,
            reference_price=None,
            floor_price=None,
            expected_price=None,
            worst_price=None,
            slippage_bps=D(0),
            gross_quote=D(0),
            fee_quote=s.costs.exchange_withdrawal_fee if from_exchange else D(0),
            gas_usd=s.costs.gas_usd_per_repay,
            shock_bps=s.shock,
            shock_source=s.shock_source,
            hf_before_wad=hf_before,
            hf_after_withdraw_wad=hf_before,
            hf_after_withdraw_shocked_wad=health_factor_wad(_shock(s, pos)),
            hf_after_repay_wad=health_factor_wad(end),
            start_s=run.t,
            duration_s=duration,
            limited_by="idle_balance" if repay < needed else "target",
            order="repay_first",
        )
    )
    run.pos = end
    run.t += duration


# --- unwind batches ----------------------------------------------------------------------


def _shock(s: _Setup, pos: Position) -> Position:
    return shocked(pos, shock_bps=s.shock, symbols=s.shock_symbols) if s.shock else pos


@dataclass(frozen=True, slots=True)
class _Sim:
    units: int
    qty: Decimal
    gross: Decimal
    worst: Decimal | None
    fees: Decimal
    repay: int
    proceeds: int
    end: Position
    mid: Position
    end_debt: int  # debt units left after the repay
    spend: int = 0  # repaid from the wallet before the withdrawal (repay-first)
    refill: int = 0  # kept in the wallet from the proceeds


def _simulate(s: _Setup, run: _Run, qty: Decimal, spend: int = 0) -> _Sim:
    coll = run.pos.reserve(s.collateral)
    units = to_units(qty, coll.decimals)
    fill = run.book.walk(qty, limit_price=s.cap_price)
    fees = fill.notional * s.taker_fee + s.costs.exchange_withdrawal_fee
    net = fill.notional - fees
    unit = run.pos.reserve(s.debt).unit
    proceeds = int((net * unit).to_integral_value(rounding=ROUND_FLOOR)) if net > 0 else 0
    start = after_repay(run.pos, s.debt, spend) if spend else run.pos
    # Back to the buffer's level (rebuilding what an earlier, partly filled batch left short).
    refill = min(proceeds, max(0, run.buffer - (run.wallet - spend))) if spend else 0
    mid = after_withdraw(start, s.collateral, units)
    repay = min(proceeds - refill, mid.reserve(s.debt).debt)
    end = after_repay(mid, s.debt, repay)
    end_debt = end.reserve(s.debt).debt
    return _Sim(
        units, qty, fill.notional, fill.worst_price, fees, spend + repay, proceeds, end, mid, end_debt, spend, refill
    )


def _spend(s: _Setup, run: _Run) -> int:
    """What a repay-first batch repays from the wallet before it withdraws (0: withdraw first)."""
    return min(run.wallet, run.pos.reserve(s.debt).debt) if run.buffer > 0 else 0


def _bounds(s: _Setup, run: _Run, spend: int = 0) -> dict[str, Decimal]:
    """Upper bounds on this batch's sale, in collateral coins, by name."""
    coll = run.pos.reserve(s.collateral)
    lim = s.limits
    start = after_repay(run.pos, s.debt, spend) if spend else run.pos
    floor = max_withdraw_fast(_shock(s, start), s.collateral, min_hf_wad=s.floor_wad)
    out: dict[str, Decimal] = {
        "floor": from_units(floor, coll.decimals),
        "depth": depth_above(run.book.bids, s.cap_price),
        "collateral": from_units(coll.collateral, coll.decimals),
    }
    if lim.max_batch_usd is not None:
        out["batch_limit"] = lim.max_batch_usd / s.reference
    if lim.max_batch_qty is not None:
        out["batch_limit_qty"] = lim.max_batch_qty
    if lim.max_daily_usd is not None:
        out["daily_limit"] = max(D(0), lim.max_daily_usd - run.day_usd) / s.reference
    if lim.max_daily_qty is not None:
        out["daily_limit_qty"] = max(D(0), lim.max_daily_qty - run.day_qty)
    if s.intent.max_sell is not None:
        out["sell_cap"] = max(D(0), s.intent.max_sell - run.sold_qty)
    if spend:
        keeps = _keeps_start_hf(s, run, spend)
        out["repay_first"] = from_units(keeps, coll.decimals)
    return out


def _min_qty(s: _Setup) -> Decimal:
    """The smallest sale the exchange and the limits accept, valued at the cap price."""
    r = s.rules
    least = max(r.min_qty, r.min_notional / s.cap_price, s.limits.min_batch_usd / s.cap_price)
    steps = (least / r.step_size).to_integral_value(rounding="ROUND_CEILING") if r.step_size > 0 else least
    return steps * r.step_size if r.step_size > 0 else least


def _unwind(s: _Setup, run: _Run) -> str:
    step = s.rules.step_size
    min_qty = _min_qty(s)
    while True:
        if _reached(s, run.pos):
            return "target reached" if s.target_wad is not None else "debt repaid"
        if len(run.batches) >= s.limits.max_batches:
            return "max_batches"
        if run.pos.reserve(s.debt).debt == 0:
            run.notes.append(f"all {s.debt} debt is repaid; the other debts need their own plan")
            return f"{s.debt} debt repaid"
        _roll_day(s, run)
        spend = _spend(s, run)
        bounds = _bounds(s, run, spend)
        limited_by = min(bounds, key=lambda k: (bounds[k], k))
        bound = round_down_to_step(bounds[limited_by], step)
        if spend and bound < min_qty:
            # The wallet's stablecoins keep too little room for a sale the exchange takes:
            # this batch withdraws first and leaves them alone.
            run.notes.append(
                f"batch {len(run.batches)}: the buffer of {from_units(spend, run.pos.reserve(s.debt).decimals)} "
                f"{s.debt} leaves room for less than the minimum sale: withdraw first"
            )
            spend = 0
            bounds = _bounds(s, run)
            limited_by = min(bounds, key=lambda k: (bounds[k], k))
            bound = round_down_to_step(bounds[limited_by], step)
        if bound <= 0 or bound < min_qty:
            return limited_by if bound <= 0 else f"{limited_by} (below the exchange/batch minimum)"
        sim = _simulate(s, run, bound, spend)
        if not _done(s, sim) or not _refills(run, sim):
            chosen = sim
        else:
            # The least sale that reaches the target and still refills the buffer: a buffer
            # left short makes every later batch smaller.
            chosen = _smallest_reaching(s, run, bound, min_qty, lambda x: _done(s, x) and _refills(run, x), spend)
            limited_by = "target" if s.target_wad is not None else "repay_all"
        if _leaves_dust(s, chosen) and _repays_all(sim):
            # What would be left is too small for another batch to clear (exchange minimum
            # plus the fixed withdrawal fee): repay everything now instead.
            chosen = _smallest_reaching(s, run, bound, min_qty, _repays_all, spend)
            limited_by = "repay_all"
        if chosen.spend:
            least = _least_spend(s, run, chosen.units, chosen.spend)
            if least < chosen.spend:
                chosen = _simulate(s, run, chosen.qty, least)
        hf_before = health_factor_wad(run.pos)
        if health_factor_wad(chosen.end) <= hf_before:
            run.warnings.append(
                f"selling at {s.cap_price} or better no longer raises HF (fill below LT × liquidation price): stopped"
            )
            return "no_progress"
        _commit(s, run, chosen, limited_by, hf_before)


def _done(s: _Setup, sim: _Sim) -> bool:
    if s.target_wad is None:
        return sim.end.reserve(s.debt).debt == 0
    return health_factor_wad(sim.end) >= s.target_wad


def _keeps_start_hf(s: _Setup, run: _Run, spend: int) -> int:
    """The most a batch that repays ``spend`` first may withdraw and keep its start HF (shocked)."""
    return repay_first_withdraw(
        run.pos,
        collateral=s.collateral,
        debt=s.debt,
        repay_units=spend,
        shock_bps=s.shock,
        symbols=s.shock_symbols,
        margin_bps=REPAY_FIRST_MARGIN_BPS,
        search=max_withdraw_fast,
    )


def _repay_first_room(s: _Setup, run: _Run, spend: int) -> int:
    """The most a batch that repays ``spend`` first may withdraw: its start HF, then the floor."""
    keeps = _keeps_start_hf(s, run, spend)
    floor = max_withdraw_fast(_shock(s, after_repay(run.pos, s.debt, spend)), s.collateral, min_hf_wad=s.floor_wad)
    return min(keeps, floor)


def _least_spend(s: _Setup, run: _Run, units: int, spend: int) -> int:
    """About the least repay-first spend that still makes room for ``units``: a smaller sale
    than the buffer allows spends only its share, so the sale refills all it spent. Starts at
    the collateral-to-debt ratio with the margin (exact with one collateral) and steps up
    until it fits."""
    coll = run.pos.reserve(s.collateral).collateral
    debt = run.pos.reserve(s.debt).debt
    keep = 10_000 + REPAY_FIRST_MARGIN_BPS
    least = min(spend, debt - (coll - units) * debt * 10_000 // (keep * coll) + 1) if coll else spend
    step = max(1, least // 10_000)
    while least < spend and _repay_first_room(s, run, least) < units:
        least, step = min(spend, least + step), step * 2
    return least


def _refills(run: _Run, sim: _Sim) -> bool:
    return sim.refill >= max(0, run.buffer - (run.wallet - sim.spend)) if sim.spend else True


def _repays_all(sim: _Sim) -> bool:
    return sim.repay > 0 and sim.end_debt == 0


def _leaves_dust(s: _Setup, sim: _Sim) -> bool:
    """Debt left after ``sim`` is positive but under what one more batch could repay."""
    left = from_units(sim.end_debt, sim.end.reserve(s.debt).decimals)
    dust = max(s.rules.min_notional, s.limits.min_batch_usd) + s.costs.exchange_withdrawal_fee
    return 0 < left < dust * 2


def _smallest_reaching(
    s: _Setup, run: _Run, bound: Decimal, min_qty: Decimal, reaches: Callable[[_Sim], bool], spend: int
) -> _Sim:
    """The least lot-step multiple in [min_qty, bound] whose batch ``reaches`` (HF after
    repay and the repaid amount grow with the sale while fills beat LT × liquidation price)."""
    step = s.rules.step_size
    lo = int(min_qty / step) if step > 0 else 0  # steps; lo may or may not reach
    hi = int(bound / step)  # reaches
    lo_sim = _simulate(s, run, lo * step, spend)
    if lo > 0 and reaches(lo_sim):
        return lo_sim
    best = _simulate(s, run, hi * step, spend)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        sim = _simulate(s, run, mid * step, spend)
        if reaches(sim):
            hi, best = mid, sim
        else:
            lo = mid
    return best


def _commit(s: _Setup, run: _Run, sim: _Sim, limited_by: str, hf_before: int) -> None:
    coll = run.pos.reserve(s.collateral)
    debt = run.pos.reserve(s.debt)
    duration = s.costs.timings.round_trip_s
    avg = sim.gross / sim.qty if sim.qty else None
    shocked_mid = health_factor_wad(_shock(s, sim.mid))
    if shocked_mid < s.floor_wad:  # by construction of the floor bound; never emit otherwise
        raise AssertionError("planned batch breaks the HF floor at the shocked price")
    if s.emergency and limited_by == "floor":
        limited_by = "floor (emergency)"
    if sim.spend and not keeps_start_hf(run.pos, sim.mid, shock_bps=s.shock, symbols=s.shock_symbols):
        raise AssertionError("planned repay-first batch leaves HF below its start")
    run.batches.append(
        Batch(
            index=len(run.batches),
            kind="unwind",
            collateral=s.collateral,
            debt=s.debt,
            collateral_decimals=coll.decimals,
            debt_decimals=debt.decimals,
            withdraw_units=sim.units,
            repay_units=sim.repay,
            repay_all=sim.repay >= debt.debt,
            repay_from_wallet_units=sim.spend,
            repay_from_exchange_units=0,
            reference_price=s.reference,
            floor_price=s.cap_price,
            expected_price=_q(avg),
            worst_price=sim.worst,
            slippage_bps=_q_exact((1 - avg / s.reference) * BPS, "0.01") if avg else D(0),
            gross_quote=_q_exact(sim.gross),
            fee_quote=_q_exact(sim.fees),
            gas_usd=s.costs.gas_usd_per_batch,
            shock_bps=s.shock,
            shock_source=s.shock_source,
            hf_before_wad=hf_before,
            hf_after_withdraw_wad=health_factor_wad(sim.mid),
            hf_after_withdraw_shocked_wad=shocked_mid,
            hf_after_repay_wad=health_factor_wad(sim.end),
            start_s=run.t,
            duration_s=duration,
            limited_by=limited_by,
            order="repay_first" if sim.spend else "withdraw_first",
            refill_units=sim.refill,
            emergency=s.emergency,
        )
    )
    run.wallet += sim.refill - sim.spend
    run.pos = sim.end
    run.book = run.book.after_sell(sim.qty, limit_price=s.cap_price).refilled(
        elapsed_s=duration, half_life_s=s.market.refill_half_life_s
    )
    run.t += duration
    run.sold_qty += sim.qty
    run.day_qty += sim.qty
    run.day_usd += sim.qty * s.reference


def _roll_day(s: _Setup, run: _Run) -> None:
    day = (s.snapshot.timestamp + run.t) // 86_400
    if day != run.day:
        run.day, run.day_usd, run.day_qty = day, D(0), D(0)


def _explain_blocked(s: _Setup, run: _Run) -> None:
    hf_shocked = wad_to_decimal(health_factor_wad(_shock(s, run.pos)))
    debt = run.pos.reserve(s.debt)
    need = repay_for_target(_shock(s, run.pos), s.debt, target_hf_wad=s.floor_wad + 10**14)
    outside = (
        f"repay ≥ {from_units(need, debt.decimals):,.2f} {s.debt} from outside funds"
        if need
        else "repay from outside funds"
    )
    if run.pos.reserve(s.collateral).collateral and max_withdraw(
        _shock(s, run.pos), s.collateral, min_hf_wad=s.floor_wad
    ):
        run.notes.append("the floor leaves room only for a sale below the exchange or batch minimum")
    run.notes.append(
        f"withdraw is unsafe: HF at a {s.shock / 100:.2f} % price shock is {hf_shocked:.4f}, at or below the "
        f"floor {s.limits.hf_floor}; add collateral or {outside} (that lifts the shocked HF back to the floor)"
    )


# --- assembly ----------------------------------------------------------------------------


def _finish(s: _Setup, run: _Run, hf0: int, status: PlanStatus, stop: str, book_source: str) -> Plan:
    batches = tuple(run.batches)
    sold = sum((from_units(b.withdraw_units, b.collateral_decimals) for b in batches), D(0))
    gross = sum((b.gross_quote for b in batches), D(0))
    totals = PlanTotals(
        withdraw_units=sum(b.withdraw_units for b in batches),
        repay_units=sum(b.repay_units for b in batches),
        gross_quote=gross,
        fees_quote=sum((b.fee_quote for b in batches), D(0)),
        gas_usd=sum((b.gas_usd for b in batches), D(0)),
        duration_s=run.t,
        avg_price=_q(gross / sold) if sold else None,
    )
    pos = s.snapshot.position
    coll, debt = pos.reserve(s.collateral), pos.reserve(s.debt)
    return Plan(
        status=status,
        collateral=s.collateral,
        debt=s.debt,
        collateral_decimals=coll.decimals,
        debt_decimals=debt.decimals,
        health_factor_wad=hf0,
        target_hf=s.intent.target_hf,
        hf_floor=s.limits.hf_floor,
        final_health_factor_wad=health_factor_wad(run.pos),
        batches=batches,
        totals=totals,
        shock_bps=s.shock,
        shock_source=s.shock_source,
        volatility_daily=_q(daily_volatility(_recent(s.snapshot, s.market)), "0.000001"),
        oracle_price=_q(D(coll.price) / D(debt.price)),
        reference_price=s.reference,
        book_source=book_source,
        stop_reason=stop,
        notes=tuple(run.notes),
        warnings=tuple(run.warnings),
        reason=s.intent.reason,
        urgency=s.intent.urgency,
        market=s.rules.symbol,
    )


def no_action_plan(snapshot: Snapshot, *, limits: PlanLimits, reason: str = "no intent") -> Plan:
    """The plan when there is nothing to do (e.g. the policy returned None): HF only."""
    pos = snapshot.position
    coll, debt = main_collateral(pos), main_debt(pos)
    return _empty_plan(
        snapshot,
        Intent(target_hf=None, reason=reason),
        limits,
        coll.symbol if coll else "",
        debt.symbol if debt else "",
        coll.decimals if coll else 18,
        debt.decimals if debt else 6,
        reason,
    )


def _empty_plan(
    snapshot: Snapshot, intent: Intent, limits: PlanLimits, coll: str, debt: str, coll_dec: int, debt_dec: int, why: str
) -> Plan:
    hf = health_factor_wad(snapshot.position)
    return Plan(
        status=PlanStatus.NO_ACTION,
        collateral=coll,
        debt=debt,
        collateral_decimals=coll_dec,
        debt_decimals=debt_dec,
        health_factor_wad=hf,
        target_hf=intent.target_hf,
        hf_floor=limits.hf_floor,
        final_health_factor_wad=hf,
        batches=(),
        totals=PlanTotals(),
        shock_bps=limits.price_shock_bps,
        shock_source=f"{FLOOR} (nothing planned)",
        volatility_daily=None,
        oracle_price=None,
        reference_price=None,
        book_source="none",
        stop_reason=why,
        reason=intent.reason,
        urgency=intent.urgency,
        notes=(f"nothing to plan: {why}",),
    )


def _q(value: Decimal | None, places: str = "0.00000001") -> Decimal | None:
    return None if value is None else value.quantize(D(places))


def _q_exact(value: Decimal, places: str = "0.00000001") -> Decimal:
    return value.quantize(D(places))

"""Which route each planned batch takes: the exchange's legs (CEX) or one atomic flash-loan
deleverage through a DEX pool (``Dex`` port).

Both are priced in bps of the collateral's value at the oracle price:

- CEX: the batch's walk of the book below the oracle (impact), the taker and withdrawal fees,
  and the gas of its transactions (``PlanCosts.gas_usd_per_batch``);
- DEX: the quote's collateral in against the debt repaid (pool fee, impact, flash premium),
  and its gas at the same USD per gas unit.

``auto`` takes the cheaper one whose quote is within the slippage cap, the DEX when the HF
floor in transit holds the CEX batch short of the target, and the DEX whenever
the CEX path cannot act (the plan is blocked by the HF floor at the shocked price, or the
exchange does not answer). A DEX batch is not bounded by that floor (nothing is in transit, HF
only rises): it is sized to the target, within the batch limits and the cap. ``cex`` (the
default) leaves the plan exactly as the planner made it; no ``Dex`` means ``cex``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal
from typing import Protocol

from bot.domain.position import Position, decimal_to_wad, from_units, health_factor_wad, to_units, wad_to_decimal
from bot.domain.snapshot import Snapshot
from bot.engine.plan_types import Batch, Plan, PlanCosts, PlanLimits, PlanStatus, PlanTotals
from bot.ports import DexQuote
from strategies.base import Intent

BPS = Decimal(10_000)
# The gas a CEX batch's transactions take together (withdraw, transfer, repay), which
# ``PlanCosts.gas_usd_per_batch`` prices: the DEX's gas is priced at the same USD per unit.
CEX_BATCH_GAS_UNITS = 450_000
# A DEX batch's size before its first quote: pool fee + premium + impact, a guess the quote corrects.
FIRST_GUESS_COST = Decimal("0.005")
MAX_QUOTES_PER_BATCH = 8  # halving the repay until the quote is within the cap
# Sized a hair past the target: the quote's rounding and a block's interest would otherwise
# leave HF a few wei short and ask for a second, dust-sized batch.
TARGET_MARGIN_WAD = 10**13


class Quoter(Protocol):
    def quote(self, *, collateral: str, debt: str, repay_units: int) -> DexQuote | None: ...


@dataclass(frozen=True, slots=True)
class Routing:
    """What routing needs besides the plan: the setting, the DEX, and why the CEX cannot act."""

    setting: str  # "auto" | "cex" | "dex"
    dex: Quoter | None
    cex_down: str | None = None  # e.g. "the exchange does not answer (503)"


def route_plan(
    plan: Plan, snapshot: Snapshot, intent: Intent, *, limits: PlanLimits, costs: PlanCosts, routing: Routing
) -> Plan:
    """``plan`` with a route and its reason on every batch (the planner's, unchanged, for "cex")."""
    if routing.setting == "cex" or routing.dex is None or (plan.status is PlanStatus.NO_ACTION and not plan.batches):
        return plan
    if not plan.collateral or not plan.debt:
        return plan
    dex = routing.dex
    oracle = plan.oracle_price or _oracle(snapshot.position, plan.collateral, plan.debt)
    if routing.setting == "dex":
        return _dex_plan(plan, snapshot, intent, limits, costs, dex, oracle, "dex: the configured route")
    if routing.cex_down is not None:
        return _dex_plan(plan, snapshot, intent, limits, costs, dex, oracle, f"dex: {routing.cex_down}")
    unwinds = [b for b in plan.batches if b.kind == "unwind"]
    if not unwinds:
        if plan.status is PlanStatus.BLOCKED:
            hf = wad_to_decimal(plan.health_factor_wad)
            why = (
                f"dex: CEX cannot withdraw at HF {hf:.4f} "
                f"(floor {plan.hf_floor} at a {Decimal(plan.shock_bps) / 100:.2f} % shock)"
            )
            return _dex_plan(plan, snapshot, intent, limits, costs, dex, oracle, why)
        return plan
    first = unwinds[0]
    cex_bps = cex_cost_bps(first, costs)
    repay = to_units(first.gross_quote - first.fee_quote, first.debt_decimals)
    quote = dex.quote(collateral=plan.collateral, debt=plan.debt, repay_units=repay) if repay > 0 else None
    if quote is None:
        return _label(plan, "cex: no DEX pool returns the repay")
    dex_bps = dex_cost_bps(quote, oracle, costs, plan.collateral_decimals, plan.debt_decimals)
    if quote.collateral_in_units > cap_units(quote, oracle, limits, plan.collateral_decimals, plan.debt_decimals):
        return _label(plan, f"cex: the DEX is past the {limits.max_slippage_bps} bps cap ({_pct(dex_bps)})")
    if first.limited_by.startswith("floor") or first.emergency:
        # The CEX batch is as large as its in-transit exposure allows, short of the target: the
        # atomic route, never exposed, gets there without a dip.
        why = f"dex: the CEX batch is held back by the HF floor in transit; {_pct(dex_bps)} vs cex {_pct(cex_bps)}"
        return _dex_plan(plan, snapshot, intent, limits, costs, dex, oracle, why)
    if dex_bps < cex_bps:
        why = f"dex: {_pct(dex_bps)} vs cex {_pct(cex_bps)}"
        return _dex_plan(plan, snapshot, intent, limits, costs, dex, oracle, why)
    return _label(plan, f"cex: {_pct(cex_bps)} vs dex {_pct(dex_bps)}")


# ---- prices ------------------------------------------------------------------------------------


def cex_cost_bps(batch: Batch, costs: PlanCosts) -> Decimal:
    """Impact below the reference, fees and gas, in bps of the sold collateral's reference value."""
    value = batch.withdraw_amount * (batch.reference_price or Decimal(0))
    if value <= 0:
        return Decimal(0)
    lost = value - (batch.gross_quote - batch.fee_quote) + batch.gas_usd
    return lost / value * BPS


def dex_gas_usd(quote: DexQuote, costs: PlanCosts) -> Decimal:
    return costs.gas_usd_per_batch * quote.gas_units / CEX_BATCH_GAS_UNITS


def dex_cost_bps(
    quote: DexQuote, oracle: Decimal, costs: PlanCosts, collateral_decimals: int, debt_decimals: int
) -> Decimal:
    """Pool fee, impact and flash premium (collateral in vs debt repaid) and gas, in bps of the
    collateral's value at the oracle price."""
    value = from_units(quote.collateral_in_units, collateral_decimals) * oracle
    if value <= 0:
        return Decimal(0)
    lost = value - from_units(quote.repay_units, debt_decimals) + dex_gas_usd(quote, costs)
    return lost / value * BPS


def cap_units(
    quote: DexQuote, oracle: Decimal, limits: PlanLimits, collateral_decimals: int, debt_decimals: int
) -> int:
    """The most collateral the swap may take: the loan plus premium at the oracle price less
    the slippage cap (what the transaction passes as ``amountInMaximum``)."""
    bought = from_units(quote.repay_units + quote.flash_premium_units, debt_decimals)
    coins = bought / oracle / (1 - Decimal(limits.max_slippage_bps) / BPS)
    return int((coins * Decimal(10) ** collateral_decimals).to_integral_value(rounding=ROUND_CEILING))


# ---- the DEX plan ------------------------------------------------------------------------------


def _dex_plan(
    plan: Plan,
    snapshot: Snapshot,
    intent: Intent,
    limits: PlanLimits,
    costs: PlanCosts,
    dex: Quoter,
    oracle: Decimal,
    reason: str,
) -> Plan:
    """Batches of atomic deleverages from the snapshot's position to the target."""
    cd, dd = plan.collateral_decimals, plan.debt_decimals
    pos = snapshot.position
    target_wad = decimal_to_wad(intent.target_hf) if intent.target_hf is not None else None
    batches: list[Batch] = []
    cost = FIRST_GUESS_COST
    stop = "target reached"
    while len(batches) < limits.max_batches:
        debt_units = pos.reserve(plan.debt).debt
        if debt_units <= 0 or (target_wad is not None and health_factor_wad(pos) >= target_wad):
            break
        repay, limited_by = _repay_for(pos, plan, target_wad, cost, oracle, limits)
        quote, repay = _quote_within_cap(dex, plan, repay, oracle, limits)
        if quote is not None and limited_by == "target":  # sized on a guess: once more at the quote's cost
            cost = from_units(quote.collateral_in_units, cd) * oracle / from_units(repay, dd) - 1
            repay, limited_by = _repay_for(pos, plan, target_wad, cost, oracle, limits)
            quote, repay = _quote_within_cap(dex, plan, repay, oracle, limits)
        if quote is None:
            stop = f"no DEX pool returns a repay within the {limits.max_slippage_bps} bps cap"
            break
        if from_units(repay, dd) < limits.min_batch_usd and batches:
            stop = "the next DEX batch would be below the batch minimum"
            break
        if repay < _repay_for(pos, plan, target_wad, cost, oracle, limits)[0]:
            limited_by = "dex cap"
        cost = from_units(quote.collateral_in_units, cd) * oracle / from_units(repay, dd) - 1
        coll = pos.reserve(plan.collateral)
        end = pos.with_reserve(plan.collateral, collateral=coll.collateral - quote.collateral_in_units)
        end = end.with_reserve(plan.debt, debt=debt_units - repay)
        hf_before, hf_after = health_factor_wad(pos), health_factor_wad(end)
        value = from_units(quote.collateral_in_units, cd) * oracle
        gas = dex_gas_usd(quote, costs)
        bps = dex_cost_bps(quote, oracle, costs, cd, dd)
        batches.append(
            Batch(
                index=len(batches),
                kind="unwind",
                collateral=plan.collateral,
                debt=plan.debt,
                collateral_decimals=cd,
                debt_decimals=dd,
                withdraw_units=quote.collateral_in_units,
                repay_units=repay,
                repay_all=repay >= debt_units,
                repay_from_wallet_units=0,
                repay_from_exchange_units=0,
                reference_price=oracle,
                floor_price=None,
                expected_price=_q(from_units(repay, dd) / from_units(quote.collateral_in_units, cd)),
                worst_price=None,
                slippage_bps=(bps - gas / value * BPS).quantize(Decimal("0.01")) if value else Decimal(0),
                gross_quote=_q(from_units(repay, dd)),
                fee_quote=_q(value - from_units(repay, dd)),
                gas_usd=_q(gas),
                shock_bps=0,  # nothing in transit
                hf_before_wad=hf_before,
                hf_after_withdraw_wad=hf_after,
                hf_after_withdraw_shocked_wad=hf_after,
                hf_after_repay_wad=hf_after,
                start_s=0,
                duration_s=0,
                limited_by=limited_by,
                route="dex",
                route_reason=reason if " vs " in reason else f"{reason}; {_pct(bps)} on pool fee {quote.pool_fee}",
                dex_pool_fee=quote.pool_fee,
                dex_max_collateral_in_units=min(cap_units(quote, oracle, limits, cd, dd), coll.collateral),
            )
        )
        pos = end
        if target_wad is None and intent.max_sell is not None:
            break  # a paced slice: one batch
    else:
        stop = f"max_batches ({limits.max_batches})"
    if not batches:
        return replace(plan, stop_reason=f"{reason}, but {stop}", batches=(), status=plan.status)
    reached = (target_wad is None and pos.reserve(plan.debt).debt == 0) or (
        target_wad is not None and health_factor_wad(pos) >= target_wad
    )
    return replace(
        plan,
        status=PlanStatus.REACHES_TARGET if reached else PlanStatus.PARTIAL,
        batches=tuple(batches),
        totals=_totals(batches),
        final_health_factor_wad=health_factor_wad(pos),
        stop_reason="target reached" if reached else stop,
        notes=(*plan.notes, f"routed to the DEX ({reason})"),
    )


def _repay_for(
    pos: Position, plan: Plan, target_wad: int | None, cost: Decimal, oracle: Decimal, limits: PlanLimits
) -> tuple[int, str]:
    """The repay that reaches the target when the swap costs ``cost`` (a fraction), bounded by
    the debt and the batch limits."""
    debt_units = pos.reserve(plan.debt).debt
    cd, dd = plan.collateral_decimals, plan.debt_decimals

    def after(repay: int) -> Position:
        sold = to_units(from_units(repay, dd) * (1 + cost) / oracle, cd) + 1
        coll = pos.reserve(plan.collateral).collateral
        moved = pos.with_reserve(plan.collateral, collateral=max(0, coll - sold))
        return moved.with_reserve(plan.debt, debt=debt_units - repay)

    repay, limited_by = debt_units, "debt"
    if target_wad is not None:
        low, high = 0, debt_units
        while low < high:  # the least repay whose end reaches the target
            mid = (low + high) // 2
            if health_factor_wad(after(mid)) >= target_wad + TARGET_MARGIN_WAD:
                high = mid
            else:
                low = mid + 1
        repay, limited_by = low, "target"
    if limits.max_batch_usd is not None:
        most = to_units(limits.max_batch_usd, dd)
        if repay > most:
            repay, limited_by = most, "batch_limit"
    return max(repay, 1), limited_by


def _quote_within_cap(
    dex: Quoter, plan: Plan, repay: int, oracle: Decimal, limits: PlanLimits
) -> tuple[DexQuote | None, int]:
    """The quote for ``repay``, halved until the pool returns it within the cap."""
    for _ in range(MAX_QUOTES_PER_BATCH):
        quote = dex.quote(collateral=plan.collateral, debt=plan.debt, repay_units=repay)
        if quote is not None and quote.collateral_in_units <= cap_units(
            quote, oracle, limits, plan.collateral_decimals, plan.debt_decimals
        ):
            return quote, repay
        repay //= 2
        if repay <= 0:
            break
    return None, repay


def _label(plan: Plan, reason: str) -> Plan:
    return replace(plan, batches=tuple(replace(b, route="cex", route_reason=reason) for b in plan.batches))


def _totals(batches: list[Batch]) -> PlanTotals:
    sold = sum((b.withdraw_amount for b in batches), Decimal(0))
    gross = sum((b.gross_quote for b in batches), Decimal(0))
    return PlanTotals(
        withdraw_units=sum(b.withdraw_units for b in batches),
        repay_units=sum(b.repay_units for b in batches),
        gross_quote=gross,
        fees_quote=sum((b.fee_quote for b in batches), Decimal(0)),
        gas_usd=sum((b.gas_usd for b in batches), Decimal(0)),
        duration_s=0,
        avg_price=_q(gross / sold) if sold else None,
    )


def _oracle(pos: Position, collateral: str, debt: str) -> Decimal:
    return Decimal(pos.reserve(collateral).price) / Decimal(pos.reserve(debt).price)


def _pct(bps: Decimal) -> str:
    return f"{bps / 100:.2f} %"


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.00000001"))

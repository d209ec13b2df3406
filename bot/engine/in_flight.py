"""Batches in flight (``engine.max_in_flight``): what each still holds off the pool, and how a
new batch is sized while they travel. Pure: journal rows and snapshots in, values out.

A new batch is sized twice and the smaller one is taken:
- for the HF floor, from the pool with ALL collateral in transit counted as gone (what the
  in-flight batches have not withdrawn yet leaves the pool too) and none of their debt repaid:
  the floor then holds at the shocked price whatever happens to the coins on their way;
- for the target, from the pool as it will be once they land (their collateral gone, their
  debt repaid at their worst planned price), so that the batches in flight and the new one
  together do not overshoot the policy's target.
The wallet's stablecoins and the exchange's balances belong to the batches in flight (their
proceeds, on their way to their repay), so a batch planned beside them spends none of them;
collateral on the exchange that no batch in flight is about to sell stays in view, and the
controller sells it before it withdraws more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from bot.domain.position import to_units
from bot.domain.snapshot import Snapshot
from bot.engine.batch_spec import BatchSpec
from bot.engine.journal import BatchRow, StepRow, StepStatus
from bot.engine.plan_types import Plan
from bot.engine.steps import DepositIntent, WithdrawIntent
from bot.engine.steps.closing import REPAY
from bot.engine.steps.exchange import AWAIT_DEPOSIT, AWAIT_QUOTE, SELL, WITHDRAW_QUOTE
from bot.engine.steps.outbound import DEPOSIT, WITHDRAW

# A batch's stablecoins are told to have arrived by the wallet's balance (at least its balance
# before the exchange withdrawal plus the amount): no batch repays (spends from the wallet)
# while another's are on their way, and none starts its way while another's landed unrepaid.
WITHDRAW_NAME = WITHDRAW.name  # whose amount batches in flight count as gone from each other's start


@dataclass(frozen=True, slots=True)
class InFlight:
    """An open batch, as far as sizing the next one is concerned."""

    batch_id: str
    collateral: str
    debt: str
    pending_withdraw_units: int  # the spec's withdrawal not yet off the pool
    withdrawn_units: int  # off the pool, not yet repaid for
    on_exchange_base: Decimal  # credited on the exchange and not yet sold (whole coins)
    worst_price: Decimal | None  # the planner's lowest price for it (quote per coin)
    awaiting_quote: bool  # its exchange withdrawal begun, its arrival not yet seen
    landed_unrepaid: bool  # its stablecoins arrived, its repay not yet final
    # Its repay spends the wallet's whole balance (a sweep, no amount planned): it runs alone.
    spends_whole_wallet: bool = False


def in_flight_of(batch: BatchRow, steps: Sequence[StepRow]) -> InFlight:
    """What an open batch still holds off the pool, from its journal rows alone."""
    spec = BatchSpec.from_payload(batch.spec)
    rows = {r.step: r for r in steps}
    withdraw = rows.get(WITHDRAW.name)
    withdrawn = 0
    pending = spec.withdraw_amount
    if withdraw is not None and withdraw.status.terminal:
        pending = 0
        if withdraw.status is StepStatus.OK and "amount" in withdraw.intent:
            withdrawn = WithdrawIntent.from_payload(withdraw.intent).amount
    deposit, credit, sell = rows.get(DEPOSIT.name), rows.get(AWAIT_DEPOSIT.name), rows.get(SELL.name)
    on_exchange = Decimal(0)
    credited = credit is not None and credit.status is StepStatus.OK
    if deposit is not None and credited and "amount" in deposit.intent and (sell is None or not sell.status.terminal):
        units = DepositIntent.from_payload(deposit.intent).amount
        on_exchange = Decimal(units).scaleb(-_decimals(batch.start, spec.collateral))
    quote, landed, repay = rows.get(WITHDRAW_QUOTE.name), rows.get(AWAIT_QUOTE.name), rows.get(REPAY.name)
    repaid = repay is not None and repay.status.terminal
    awaiting = quote is not None and not repaid and (landed is None or not landed.status.terminal)
    landed_unrepaid = landed is not None and landed.status is StepStatus.OK and not repaid
    return InFlight(
        batch_id=batch.id,
        collateral=spec.collateral,
        debt=spec.debt,
        pending_withdraw_units=pending,
        withdrawn_units=withdrawn if repay is None or not repay.status.terminal else 0,
        on_exchange_base=on_exchange,
        worst_price=spec.worst_price,
        awaiting_quote=awaiting,
        landed_unrepaid=landed_unrepaid,
        spends_whole_wallet=spec.repay_idle_amount is None,
    )


def _decimals(start: dict[str, Any], symbol: str) -> int:
    for reserve in start.get("reserves", ()):
        if reserve.get("symbol") == symbol:
            return int(reserve["decimals"])
    return 18


def floor_view(snapshot: Snapshot, in_flight: Sequence[InFlight], *, base_coin: str, quote_coin: str) -> Snapshot:
    """The snapshot the floor is checked on: every batch in flight's collateral gone from the
    pool (withdrawn or still to be), none of its debt repaid; the wallet's stablecoins and the
    exchange's quote left to them, their coins on the exchange out of view."""
    if not in_flight:
        return snapshot
    position = snapshot.position
    for batch in in_flight:
        if batch.pending_withdraw_units and position.has(batch.collateral):
            reserve = position.reserve(batch.collateral)
            position = position.with_reserve(
                batch.collateral, collateral=max(0, reserve.collateral - batch.pending_withdraw_units)
            )
    wallet = dict(snapshot.wallet_balances)
    exchange = dict(snapshot.exchange_balances)
    debts = {b.debt for b in in_flight}
    for debt in debts:
        wallet[debt] = 0
    exchange[quote_coin] = Decimal(0)
    on_exchange = sum((b.on_exchange_base for b in in_flight), Decimal(0))
    exchange[base_coin] = max(Decimal(0), exchange.get(base_coin, Decimal(0)) - on_exchange)
    return replace(snapshot, position=position, wallet_balances=wallet, exchange_balances=exchange)


def landed_view(floor: Snapshot, in_flight: Sequence[InFlight]) -> Snapshot:
    """``floor_view`` once the batches in flight have landed: their debt repaid at their worst
    planned price (none when they have no price), for sizing toward the target."""
    position = floor.position
    for batch in in_flight:
        units = batch.pending_withdraw_units + batch.withdrawn_units
        if batch.worst_price is None or units == 0 or not position.has(batch.debt):
            continue
        coll, debt = position.reserve(batch.collateral), position.reserve(batch.debt)
        repaid = to_units(Decimal(units).scaleb(-coll.decimals) * batch.worst_price, debt.decimals)
        position = position.with_reserve(batch.debt, debt=max(0, debt.debt - repaid))
    return replace(floor, position=position)


def smaller_plan(for_floor: Plan, for_target: Plan) -> Plan:
    """Of the two sizings of the next batch, the one that withdraws less (no batch from
    either: none)."""
    a, b = for_floor.next_batch, for_target.next_batch
    if a is None:
        return for_floor
    if b is None:
        return for_target
    return for_floor if a.withdraw_units <= b.withdraw_units else for_target


GATED_STEPS = (WITHDRAW_QUOTE.name, REPAY.name)  # the only steps ``may_start`` can hold back


def may_start(step: str, batch_id: str, in_flight: Sequence[InFlight]) -> bool:
    """May ``batch_id`` journal ``step`` now, beside the others in flight? Its exchange
    withdrawal waits while another batch's stablecoins landed unrepaid; its repay waits while
    another's are on their way (each arrival is told by the wallet's balance)."""
    others = [b for b in in_flight if b.batch_id != batch_id]
    if step == WITHDRAW_QUOTE.name:
        return not any(b.landed_unrepaid for b in others)
    if step == REPAY.name:
        return not any(b.awaiting_quote for b in others)
    return True

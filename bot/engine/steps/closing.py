"""The chain side after the exchange: repay with what came back, then check HF rose."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bot.domain.position import Position, health_factor_wad, to_units
from bot.engine import guards
from bot.engine.batch_run import BatchRun
from bot.engine.journal import StepRow
from bot.engine.steps.accounting import BatchAccounting
from bot.engine.steps.base import Act, Kind, Skip, Step
from bot.engine.steps.exchange import AWAIT_DEPOSIT, AWAIT_QUOTE, SELL
from bot.engine.steps.outbound import REPAY_IDLE, WITHDRAW, RepayStep, repay_amount
from bot.engine.steps.payloads import RepayIntent, VerifyIntent, VerifyOutcome
from bot.ports import Outcome


class Repay(RepayStep):
    name = "repay"
    label = "repaying USDT on Aave"

    def prepare(self, run: BatchRun) -> RepayIntent | Skip:
        snap = run.snapshot()
        balance = snap.wallet_balances.get(run.spec.debt, 0)
        debt = snap.position.reserve(run.spec.debt).debt
        if not run.config.repay_idle or run.spec.repay_idle_amount is not None:
            # Only what this batch brought back: the wallet's own funds were the plan's to spend.
            landed = AWAIT_QUOTE.ok_outcome(run)
            arrived = landed.arrived_units if landed is not None else None
            balance = min(balance, arrived) if arrived is not None else 0
        kept = _refill(run, balance)
        balance -= kept
        if balance <= 0 or debt <= 0:
            if debt > 0 and kept > 0:
                return Skip("what arrived refilled the buffer; nothing left to repay")
            return Skip("nothing arrived to repay" if debt > 0 else "no debt")
        return RepayIntent(run.spec.debt, repay_amount(run, balance=balance, debt=debt), balance, debt)


REPAY = Repay()


def _refill(run: BatchRun, balance: int) -> int:
    """What the batch keeps in the wallet: the buffer it spent on its idle repay, back from the
    sale (the plan's amount, up to the buffer's level); nothing when it spent none."""
    if run.spec.refill_units <= 0 or REPAY_IDLE.ok_intent(run) is None:
        return 0
    return max(0, min(run.spec.refill_units, balance))


class Verify(Step[VerifyIntent, VerifyOutcome]):
    name = "verify"
    kind = Kind.CHECK
    label = "verifying HF rose"
    failure_means_reduce_only = True
    intent_type = VerifyIntent
    outcome_type = VerifyOutcome

    def prepare(self, run: BatchRun) -> VerifyIntent | Skip:
        sold = SELL.ok_outcome(run)
        sold_any = sold is not None and sold.filled > 0  # an IOC that filled nothing moved nothing
        moved = tuple(
            s.name
            for s in (REPAY_IDLE, WITHDRAW, SELL, REPAY)
            if (sold_any if s is SELL else run.ok_row(s.name) is not None)
        )
        if not moved:
            return Skip("nothing moved")
        if run.start_hf_wad is None:
            raise ValueError(f"batch {run.batch_id} has no start health factor to verify against")
        return VerifyIntent(run.start_hf_wad, moved)

    def poll(self, run: BatchRun, key: str, intent: VerifyIntent) -> Act[VerifyOutcome] | None:
        snap = run.snapshot()
        end = snap.position
        elapsed = max(0, snap.timestamp - run.start_timestamp) if run.start_timestamp is not None else 0
        improved = guards.hf_improved(start=run.start_position, end=end, elapsed_s=elapsed)
        unsold = Decimal(0) if improved else _unsold_on_exchange(run)
        # A sell the book filled only in part lowers HF by the collateral still waiting on the
        # exchange: that is the market's depth, not a fault. Nothing is missing when HF counting
        # that collateral is at least where it started; the next tick sells it first.
        explained = unsold > 0 and guards.hf_kept(
            start=run.start_position, end=_with_held(run, end, unsold), elapsed_s=elapsed
        )
        outcome = VerifyOutcome(intent.hf_before_wad, health_factor_wad(end), improved, unsold if explained else None)
        if explained:
            sold = SELL.ok_outcome(run)
            run.alert(
                "warning",
                f"the book filled {_plain(sold.filled if sold else Decimal(0))} {run.config.base_coin} above "
                f"the floor; {_plain(unsold)} {run.config.base_coin} wait on the exchange for the next batch",
            )
        return Act(Outcome.OK if improved or explained else Outcome.FAILED, outcome)

    def account(self, row: StepRow, acc: BatchAccounting) -> BatchAccounting:
        # Whatever its status: a failed verify's reading is the one a human needs.
        verdict = self.outcome_of(row)
        if verdict is None:
            return acc
        return replace(
            acc, hf_before_wad=verdict.hf_before_wad, hf_after_wad=verdict.hf_after_wad, improved=verdict.improved
        )


VERIFY = Verify()


def _unsold_on_exchange(run: BatchRun) -> Decimal:
    """What this batch deposited and the exchange credited but the sell did not fill, as far as
    the exchange still holds it."""
    credited = AWAIT_DEPOSIT.ok_outcome(run)
    if credited is None:
        return Decimal(0)
    sold = SELL.ok_outcome(run)
    left = credited.transfer.amount - credited.transfer.fee - (sold.filled if sold is not None else Decimal(0))
    held = run.venue.balances().get(run.config.base_coin, Decimal(0))
    return max(Decimal(0), min(left, held))


def _with_held(run: BatchRun, end: Position, unsold: Decimal) -> Position:
    reserve = end.reserve(run.spec.collateral)
    return end.with_reserve(run.spec.collateral, collateral=reserve.collateral + to_units(unsold, reserve.decimals))


def _plain(amount: Decimal) -> str:
    return f"{amount.normalize():f}"

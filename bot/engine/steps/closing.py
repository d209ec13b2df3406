"""The chain side after the exchange: repay with what came back, then check HF rose."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.position import health_factor_wad
from bot.engine import guards
from bot.engine.batch_run import BatchRun
from bot.engine.journal import StepRow
from bot.engine.steps.accounting import BatchAccounting
from bot.engine.steps.base import Act, Kind, Skip, Step
from bot.engine.steps.exchange import AWAIT_QUOTE, SELL
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
        if balance <= 0 or debt <= 0:
            return Skip("nothing arrived to repay" if debt > 0 else "no debt")
        return RepayIntent(run.spec.debt, repay_amount(run, balance=balance, debt=debt), balance, debt)


REPAY = Repay()


class Verify(Step[VerifyIntent, VerifyOutcome]):
    name = "verify"
    kind = Kind.CHECK
    label = "verifying HF rose"
    failure_means_reduce_only = True
    intent_type = VerifyIntent
    outcome_type = VerifyOutcome

    def prepare(self, run: BatchRun) -> VerifyIntent | Skip:
        moved = tuple(s.name for s in (REPAY_IDLE, WITHDRAW, SELL, REPAY) if run.ok_row(s.name) is not None)
        if not moved:
            return Skip("nothing moved")
        if run.start_hf_wad is None:
            raise ValueError(f"batch {run.batch_id} has no start health factor to verify against")
        return VerifyIntent(run.start_hf_wad, moved)

    def poll(self, run: BatchRun, key: str, intent: VerifyIntent) -> Act[VerifyOutcome] | None:
        end = run.snapshot().position
        improved = guards.hf_improved(start=run.start_position, end=end)
        outcome = VerifyOutcome(intent.hf_before_wad, health_factor_wad(end), improved)
        return Act(Outcome.OK if improved else Outcome.FAILED, outcome)

    def account(self, row: StepRow, acc: BatchAccounting) -> BatchAccounting:
        # Whatever its status: a failed verify's reading is the one a human needs.
        verdict = self.outcome_of(row)
        if verdict is None:
            return acc
        return replace(
            acc, hf_before_wad=verdict.hf_before_wad, hf_after_wad=verdict.hf_after_wad, improved=verdict.improved
        )


VERIFY = Verify()

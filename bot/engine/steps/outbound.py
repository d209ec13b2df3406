"""The chain side before the exchange: repay idle funds, withdraw collateral, unwrap it, send
it to the exchange."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.position import Position, health_factor_wad
from bot.domain.repay_first import withdrawal_keeps_start_hf
from bot.domain.wadray import MAX_UINT256
from bot.engine import guards
from bot.engine.batch_run import BatchRun
from bot.engine.batch_spec import BatchSpec
from bot.engine.executor_config import ExecutorConfig
from bot.engine.journal import StepRow, StepStatus
from bot.engine.steps.accounting import BatchAccounting
from bot.engine.steps.base import Act, Skip, TxStep, tx_act
from bot.engine.steps.payloads import DepositIntent, RepayIntent, TxOutcome, UnwrapIntent, WithdrawIntent


def repay_amount(run: BatchRun, *, balance: int, debt: int) -> int:
    """All of the debt (MAX_UINT256) when the balance covers it with a margin for interest."""
    margin = debt * run.config.repay_all_margin_bps // 10_000 + 1
    return MAX_UINT256 if balance >= debt + margin else balance


def wants_unwrap(config: ExecutorConfig, spec: BatchSpec) -> bool:
    if config.unwrap_native is not None:
        return config.unwrap_native
    return spec.collateral == "WETH" and config.base_coin == "ETH"


class RepayStep(TxStep[RepayIntent]):
    intent_type = RepayIntent

    def act(self, run: BatchRun, key: str, intent: RepayIntent) -> Act[TxOutcome]:
        return tx_act(run.lending.repay(key=key, symbol=intent.symbol, amount=intent.amount))

    def account(self, row: StepRow, acc: BatchAccounting) -> BatchAccounting:
        if row.status is not StepStatus.OK:
            return acc
        return replace(acc, repay_requested_units=(*acc.repay_requested_units, self.intent_of(row).amount))


class RepayIdle(RepayStep):
    name = "repay_idle"
    label = "repaying idle USDT"

    def prepare(self, run: BatchRun) -> RepayIntent | Skip:
        if not run.config.repay_idle:
            return Skip("repaying idle funds is off")
        if run.spec.repay_idle_amount == 0:
            return Skip("the plan spends nothing from the wallet")
        snap = run.snapshot()
        idle = snap.wallet_balances.get(run.spec.debt, 0)
        if run.spec.repay_idle_amount is not None:
            idle = min(idle, run.spec.repay_idle_amount)
        debt = snap.position.reserve(run.spec.debt).debt
        if idle <= 0 or debt <= 0:
            return Skip("no idle debt token in the wallet" if debt > 0 else "no debt")
        return RepayIntent(run.spec.debt, repay_amount(run, balance=idle, debt=debt), idle, debt)


class Withdraw(TxStep[WithdrawIntent]):
    name = "withdraw"
    label = "withdrawing WETH from Aave"
    intent_type = WithdrawIntent

    def prepare(self, run: BatchRun) -> WithdrawIntent | Skip:
        amount = run.spec.withdraw_amount
        if amount <= 0:
            return Skip("sweep batch: nothing to withdraw")
        if run.reduce_only:
            return Skip("reduce-only: no withdrawals")
        snap = run.snapshot()
        verdict = guards.check_withdraw(
            snap.position,
            symbol=run.spec.collateral,
            amount=amount,
            hf_floor_wad=run.config.emergency_hf_floor_wad if run.spec.emergency else run.config.hf_floor_wad,
            shock_bps=run.config.shock_bps,
        )
        if verdict.ok and run.spec.repay_first:
            verdict = _keeps_start(run, snap.position, amount)
        if not verdict.ok:
            run.alert("warning", f"withdraw skipped: {verdict.reason}")
            return Skip(verdict.reason)
        return WithdrawIntent(run.spec.collateral, amount, health_factor_wad(snap.position))

    def act(self, run: BatchRun, key: str, intent: WithdrawIntent) -> Act[TxOutcome]:
        return tx_act(run.lending.withdraw(key=key, symbol=intent.symbol, amount=intent.amount))

    def account(self, row: StepRow, acc: BatchAccounting) -> BatchAccounting:
        if row.status is StepStatus.OK:
            return replace(acc, withdrawn_units=self.intent_of(row).amount)
        if row.status is StepStatus.SKIPPED and (skip := Skip.from_payload(row.intent)) is not None:
            return replace(acc, withdraw_skipped=skip.reason)
        return acc


def _keeps_start(run: BatchRun, now: Position, amount: int) -> guards.Verdict:
    """A repay-first batch withdraws only what keeps HF at or above where the batch started,
    price for price (at today's price and at the shocked one), re-checked on fresh reads."""
    if withdrawal_keeps_start_hf(
        run.start_position,
        now,
        collateral=run.spec.collateral,
        amount=amount,
        shock_bps=run.config.shock_bps,
        symbols=frozenset({run.spec.collateral}),
    ):
        return guards.OK
    return guards.Verdict(False, "repay-first: the withdrawal would leave HF below the batch's start")


class Unwrap(TxStep[UnwrapIntent]):
    name = "unwrap"
    label = "unwrapping WETH"
    intent_type = UnwrapIntent

    def prepare(self, run: BatchRun) -> UnwrapIntent | Skip:
        withdrawn = WITHDRAW.ok_intent(run)
        if withdrawn is None:
            return Skip("nothing withdrawn")
        if not wants_unwrap(run.config, run.spec):
            return Skip("the exchange takes the wrapped token")
        return UnwrapIntent(withdrawn.amount)

    def act(self, run: BatchRun, key: str, intent: UnwrapIntent) -> Act[TxOutcome]:
        return tx_act(run.lending.unwrap(key=key, amount=intent.amount))


class Deposit(TxStep[DepositIntent]):
    name = "deposit"
    label = "depositing ETH to the exchange"
    intent_type = DepositIntent

    def prepare(self, run: BatchRun) -> DepositIntent | Skip:
        withdrawn = WITHDRAW.ok_intent(run)
        if withdrawn is None:
            return Skip("nothing withdrawn")
        symbol = "ETH" if UNWRAP.ok_intent(run) is not None else run.spec.collateral
        address = run.venue.deposit_address(run.config.base_coin, run.config.network)
        return DepositIntent(symbol, withdrawn.amount, address, run.config.base_coin)

    def act(self, run: BatchRun, key: str, intent: DepositIntent) -> Act[TxOutcome]:
        return tx_act(run.lending.transfer(key=key, symbol=intent.symbol, to=intent.to, amount=intent.amount))


REPAY_IDLE = RepayIdle()
WITHDRAW = Withdraw()
UNWRAP = Unwrap()
DEPOSIT = Deposit()

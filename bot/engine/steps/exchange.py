"""The exchange side: wait for the deposit's credit, sell under the slippage cap, withdraw the
quote coin, wait for it on chain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal

from bot.domain.book import floor_price, round_down_to_step
from bot.domain.position import from_units, to_units
from bot.engine import guards
from bot.engine.batch_run import BatchRun, StepPorts
from bot.engine.journal import StepRow, StepStatus
from bot.engine.steps.accounting import BatchAccounting
from bot.engine.steps.base import Act, Kind, Skip, Step
from bot.engine.steps.outbound import DEPOSIT
from bot.engine.steps.payloads import (
    AwaitDepositIntent,
    AwaitQuoteIntent,
    DepositCreditOutcome,
    QuoteArrivalOutcome,
    SellIntent,
    SellOutcome,
    TransferOutcome,
    WithdrawQuoteIntent,
)
from bot.errors import GuardRefused, NeedsReview, OutcomeUnknown, RateLimited, Retryable, VenueUnreachable
from bot.ports import Outcome, Transfer, TransferState


class AwaitDeposit(Step[AwaitDepositIntent, DepositCreditOutcome]):
    name = "await_deposit"
    kind = Kind.AWAIT
    label = "waiting for the exchange to credit ETH"
    intent_type = AwaitDepositIntent
    outcome_type = DepositCreditOutcome

    def prepare(self, run: BatchRun) -> AwaitDepositIntent | Skip:
        row = run.ok_row(DEPOSIT.name)
        sent = None if row is None else DEPOSIT.outcome_of(row)
        if row is None or sent is None:
            return Skip("nothing deposited")
        if sent.tx_hash is None:
            raise NeedsReview(f"{run.key(DEPOSIT.name)} is journalled OK without a transaction hash")
        decimals = run.start_position.reserve(run.spec.collateral).decimals
        return AwaitDepositIntent(
            coin=run.config.base_coin,
            txid=sent.tx_hash,
            deposit_key=run.key(DEPOSIT.name),
            expected=from_units(DEPOSIT.intent_of(row).amount, decimals),
        )

    def poll(self, run: BatchRun, key: str, intent: AwaitDepositIntent) -> Act[DepositCreditOutcome] | None:
        # Credited only when the exchange says so AND our tx is at the confirmation depth.
        tx = run.lending.lookup(intent.deposit_key)
        if tx is None or tx.outcome is not Outcome.OK:
            return None
        credit = run.venue.deposit(coin=intent.coin, txid=intent.txid)
        if credit.state is TransferState.FAILED:
            return Act(Outcome.FAILED, DepositCreditOutcome(TransferOutcome.from_transfer(credit)))
        if credit.state is not TransferState.OK:
            return None
        return Act(Outcome.OK, DepositCreditOutcome(TransferOutcome.from_transfer(credit), tx.block))

    def account(self, row: StepRow, acc: BatchAccounting) -> BatchAccounting:
        credit = self.outcome_of(row) if row.status is StepStatus.OK else None
        return acc if credit is None else replace(acc, credited=credit.transfer.amount)


class Sell(Step[SellIntent, SellOutcome]):
    """IOC limit sells at the floor price; ``Venue.sell`` resumes by key, so reconciling is
    calling it again with the same key and the same intent."""

    name = "sell"
    label = "selling ETH (IOC, slippage-capped)"
    intent_type = SellIntent
    outcome_type = SellOutcome

    def prepare(self, run: BatchRun) -> SellIntent | Skip:
        cfg = run.config
        rules = run.venue.rules(cfg.market)
        free = run.venue.balances().get(cfg.base_coin, Decimal(0))
        credited = AWAIT_DEPOSIT.ok_outcome(run)
        if cfg.sweep_idle_base:
            qty = free
        else:
            qty = min(free, credited.transfer.amount - credited.transfer.fee) if credited else Decimal(0)
        qty = round_down_to_step(qty, rules.step_size)
        if qty <= 0 or qty < rules.min_qty:
            return Skip(f"nothing to sell ({qty} {cfg.base_coin} free)")
        book = run.venue.order_book(cfg.market)
        if book.best_bid is None or book.mid is None:
            raise GuardRefused("the order book has no bids")
        snap = run.snapshot()
        oracle = guards.oracle_price_in_quote(snap.position, collateral=run.spec.collateral, debt=run.spec.debt)
        guards.check_divergence(
            oracle_price=oracle, exchange_mid=book.mid, max_bps=cfg.max_oracle_divergence_bps
        ).raise_if_refused()
        # Same reference as the planner (the mid, or the best bid on a one-sided book).
        floor = floor_price(book.mid, cfg.max_slippage_bps, rules.tick_size)
        if qty * floor < rules.min_notional:
            return Skip(f"{qty} {cfg.base_coin} at {floor} is under the minimum notional {rules.min_notional}")
        return SellIntent(
            symbol=cfg.market,
            qty=qty,
            floor_price=floor,
            reference=book.mid,
            best_bid=book.best_bid,
            oracle=oracle,
            mid=book.mid,
        )

    def act(self, run: BatchRun, key: str, intent: SellIntent) -> Act[SellOutcome]:
        result = run.venue.sell(key=key, symbol=intent.symbol, qty=intent.qty, floor_price=intent.floor_price)
        if result.filled > intent.qty:
            raise NeedsReview(f"sell {key} filled {result.filled}, more than the {intent.qty} asked")
        return Act(Outcome.OK, SellOutcome.from_result(result))

    def reconcile(self, run: BatchRun, key: str, intent: SellIntent) -> Act[SellOutcome] | None:
        with _unreachable_means_unknown(key):
            return self.act(run, key, intent)

    def probe(self, ports: StepPorts, key: str) -> str | None:
        sold = ports.read(lambda: ports.venue.sell_status(key=key, symbol=ports.config.market))
        if sold.client_order_ids or sold.filled > 0:
            return f"exchange orders under key {key} exist but the journal never wrote them"
        return None

    def account(self, row: StepRow, acc: BatchAccounting) -> BatchAccounting:
        sold = self.outcome_of(row) if row.status is StepStatus.OK else None
        if sold is None:
            return acc
        return replace(
            acc,
            sold_filled=sold.filled,
            gross_quote=sold.gross_quote,
            fee_quote=sold.fee_quote,
            net_quote=sold.net_quote,
        )


class WithdrawQuote(Step[WithdrawQuoteIntent, TransferOutcome]):
    name = "withdraw_quote"
    label = "withdrawing USDT from the exchange"
    intent_type = WithdrawQuoteIntent
    outcome_type = TransferOutcome

    def prepare(self, run: BatchRun) -> WithdrawQuoteIntent | Skip:
        cfg = run.config
        free = run.venue.balances().get(cfg.quote_coin, Decimal(0))
        sold = SELL.ok_outcome(run)
        amount = free if cfg.sweep_idle_quote else min(free, sold.net_quote if sold else Decimal(0))
        # It lands on chain in the debt token's units: never ask for a fraction of one.
        amount = round_down_to_step(amount, Decimal(1).scaleb(-run.start_position.reserve(run.spec.debt).decimals))
        if amount <= 0:
            return Skip(f"no {cfg.quote_coin} to bring back")
        guards.check_withdrawal_address(cfg.wallet, cfg.withdrawal_allowlist).raise_if_refused()
        snap = run.snapshot()
        return WithdrawQuoteIntent(
            coin=cfg.quote_coin,
            amount=amount,
            address=cfg.wallet,
            network=cfg.network,
            wallet_balance_before=snap.wallet_balances.get(run.spec.debt, 0),
            exchange_free_before=free,
        )

    def act(self, run: BatchRun, key: str, intent: WithdrawQuoteIntent) -> Act[TransferOutcome]:
        # Re-checked at the last moment: the allowlist is the one thing between us and a drain.
        guards.check_withdrawal_address(intent.address, run.config.withdrawal_allowlist).raise_if_refused()
        t = run.venue.withdraw(
            key=key, coin=intent.coin, amount=intent.amount, address=intent.address, network=intent.network
        )
        return _withdrawal_act(t, key)

    def reconcile(self, run: BatchRun, key: str, intent: WithdrawQuoteIntent) -> Act[TransferOutcome] | None:
        with _unreachable_means_unknown(key):
            return self._reconcile(run, key, intent)

    def _reconcile(self, run: BatchRun, key: str, intent: WithdrawQuoteIntent) -> Act[TransferOutcome] | None:
        t = run.venue.withdrawal(key=key, coin=intent.coin)
        if t.state is not TransferState.UNKNOWN:
            return _withdrawal_act(t, key)
        # Not in the history. A history can lag the debit: if the amount already left the
        # balance, the withdrawal happened, so keep looking by key (the executor bounds this and
        # then asks for review) instead of sending a second one under the same withdrawOrderId.
        before = intent.exchange_free_before
        if before is not None:
            free = run.venue.balances().get(intent.coin, Decimal(0))
            if free <= before - intent.amount:
                raise OutcomeUnknown(
                    f"withdrawal {key} is not in the history yet, but {intent.amount} {intent.coin} "
                    f"left the exchange balance ({before} → {free}): not re-sending"
                )
        return None

    def probe(self, ports: StepPorts, key: str) -> str | None:
        seen = ports.read(lambda: ports.venue.withdrawal(key=key, coin=ports.config.quote_coin))
        if seen.state is not TransferState.UNKNOWN:
            return f"an exchange withdrawal under key {key} exists but the journal never wrote it"
        return None


@contextmanager
def _unreachable_means_unknown(key: str) -> Iterator[None]:
    """While reconciling an unknown write, a venue that does not answer leaves it unknown: the
    executor keeps looking it up through the outage instead of failing the tick."""
    try:
        yield
    except RateLimited:
        raise  # the venue answered: wait as it asks
    except Retryable as exc:
        raise VenueUnreachable(f"{key}: the exchange does not answer ({exc})") from None


def _withdrawal_act(t: Transfer, key: str) -> Act[TransferOutcome]:
    if t.state is TransferState.UNKNOWN:
        raise OutcomeUnknown(f"withdrawal {key} is not visible yet")
    if t.state is TransferState.FAILED:
        return Act(Outcome.FAILED, TransferOutcome.from_transfer(t))
    # PENDING is accepted: the exchange holds the request; await_quote follows it to the chain.
    return Act(Outcome.OK, TransferOutcome.from_transfer(t))


class AwaitQuote(Step[AwaitQuoteIntent, QuoteArrivalOutcome]):
    name = "await_quote"
    kind = Kind.AWAIT
    label = "waiting for USDT on chain"
    intent_type = AwaitQuoteIntent
    outcome_type = QuoteArrivalOutcome

    def prepare(self, run: BatchRun) -> AwaitQuoteIntent | Skip:
        requested = WITHDRAW_QUOTE.ok_intent(run)
        if requested is None:
            return Skip("nothing withdrawn from the exchange")
        return AwaitQuoteIntent(requested.coin, run.key(WITHDRAW_QUOTE.name), requested.wallet_balance_before)

    def poll(self, run: BatchRun, key: str, intent: AwaitQuoteIntent) -> Act[QuoteArrivalOutcome] | None:
        t = run.venue.withdrawal(key=intent.withdraw_key, coin=intent.coin)
        if t.state is TransferState.FAILED:
            return Act(Outcome.FAILED, QuoteArrivalOutcome(TransferOutcome.from_transfer(t)))
        if t.state is not TransferState.OK:
            return None
        decimals = run.start_position.reserve(run.spec.debt).decimals
        arrived = to_units(t.amount - t.fee, decimals)
        balance = run.snapshot().wallet_balances.get(run.spec.debt, 0)
        if balance < intent.wallet_balance_before + arrived:
            return None  # the exchange says sent; the chain has not shown it yet
        return Act(Outcome.OK, QuoteArrivalOutcome(TransferOutcome.from_transfer(t), arrived, balance))

    def account(self, row: StepRow, acc: BatchAccounting) -> BatchAccounting:
        landed = self.outcome_of(row) if row.status is StepStatus.OK else None
        if landed is None or landed.arrived_units is None:
            return acc
        return replace(acc, quote_arrived_units=landed.arrived_units)


AWAIT_DEPOSIT = AwaitDeposit()
SELL = Sell()
WITHDRAW_QUOTE = WithdrawQuote()
AWAIT_QUOTE = AwaitQuote()

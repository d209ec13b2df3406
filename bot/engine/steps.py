"""The steps of one batch, what each journals as its intent, how it acts and how it reconciles.

    repay_idle → withdraw → unwrap → deposit → await_deposit → sell → withdraw_quote →
    await_quote → repay → verify

Keys are ``{batch_id}:{step}``; batch ids are ``{journal_tag}-{seq}`` with the sequence
persisted before use, so a key is never reused, even across journals. A step is one of:

- WRITE: acts once on a venue under its key (``act``); an uncertain act is looked up by key
  (``reconcile``) before anything is re-sent.
- AWAIT: reads until a transfer has landed (``poll``); safe to repeat after a crash.
- CHECK: one read and a verdict (``verify``).

``prepare`` builds the intent from the journal (earlier outcomes) and fresh reads; it returns
``Skip`` when there is nothing to do. Intents hold ints and Decimal strings only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from bot.domain.book import floor_price, round_down_to_step
from bot.domain.position import Position, Reserve, Rounding, from_units, health_factor_wad, to_units
from bot.domain.wadray import MAX_UINT256
from bot.engine import guards
from bot.engine.executor_config import ExecutorConfig
from bot.engine.journal import StepStatus
from bot.errors import GuardRefused, OutcomeUnknown
from bot.ports import Outcome, SellResult, Transfer, TransferState, TxResult

if TYPE_CHECKING:
    from bot.engine.executor import BatchRun


class Kind(str, Enum):
    WRITE = "write"
    AWAIT = "await"
    CHECK = "check"


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


@dataclass(frozen=True, slots=True)
class Act:
    """What a write or a poll found: OK, FAILED, or PENDING (accepted, not final yet)."""

    status: Outcome
    outcome: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """What the executor needs from a planned batch (amounts in base units)."""

    collateral: str  # Aave reserve symbol of the collateral to withdraw, e.g. "WETH"
    debt: str  # Aave reserve symbol of the debt to repay, e.g. "USDT"
    withdraw_amount: int  # 0: a sweep batch (idle funds only)
    expected_price: Decimal | None = None  # the planner's expectations, for the record
    worst_price: Decimal | None = None
    note: str = ""
    # Debt tokens idle in the wallet to repay first (base units): the plan's amount, so the
    # executor spends exactly what the dry-run showed; 0 leaves the wallet alone; None = all.
    repay_idle_amount: int | None = None

    def to_payload(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> BatchSpec:
        def dec(name: str) -> Decimal | None:
            return None if payload.get(name) is None else Decimal(payload[name])

        idle = payload.get("repay_idle_amount")
        return cls(
            collateral=payload["collateral"], debt=payload["debt"], withdraw_amount=int(payload["withdraw_amount"]),
            expected_price=dec("expected_price"), worst_price=dec("worst_price"), note=payload.get("note", ""),
            repay_idle_amount=None if idle is None else int(idle),
        )


# ---- serialisation of positions (for the batch's start, used by verify) ----------------------


def position_payload(position: Position) -> dict[str, Any]:
    return {
        "rounding": position.rounding.value,
        "base_unit": position.base_unit,
        "reserves": [asdict(r) for r in position.reserves],
        "hf_wad": str(health_factor_wad(position)),
    }


def position_from_payload(payload: dict[str, Any]) -> Position:
    return Position(
        reserves=tuple(Reserve(**r) for r in payload["reserves"]),
        rounding=Rounding(payload["rounding"]),
        base_unit=int(payload["base_unit"]),
    )


def wants_unwrap(config: ExecutorConfig, spec: BatchSpec) -> bool:
    if config.unwrap_native is not None:
        return config.unwrap_native
    return spec.collateral == "WETH" and config.base_coin == "ETH"


def tx_act(result: TxResult) -> Act:
    outcome = {
        "tx_hash": result.tx_hash, "block": result.block, "nonce": result.nonce,
        "gas_used": result.gas_used, "gas_cost_wei": result.gas_cost_wei,
    }
    if result.outcome is Outcome.UNKNOWN:
        raise OutcomeUnknown(f"transaction for {result.key} has an unknown outcome")
    if result.outcome is Outcome.FAILED:
        outcome["error"] = result.error
    return Act(result.outcome, outcome)


def transfer_payload(t: Transfer) -> dict[str, Any]:
    return {"state": t.state.value, "txid": t.txid, "amount": str(t.amount), "fee": str(t.fee), "coin": t.coin}


def sell_payload(r: SellResult) -> dict[str, Any]:
    return {
        "requested": str(r.requested), "filled": str(r.filled), "gross_quote": str(r.gross_quote),
        "fee_quote": str(r.fee_quote), "net_quote": str(r.net_quote),
        "client_order_ids": list(r.client_order_ids), "exhausted": r.exhausted,
    }


# ---- the steps -------------------------------------------------------------------------------


class Step:
    name: str = ""
    kind: Kind = Kind.WRITE

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
        raise NotImplementedError

    def act(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act:
        raise NotImplementedError

    def reconcile(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act | None:
        """The venue's view of ``key``: None when it never saw it."""
        raise NotImplementedError

    def poll(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act | None:
        raise NotImplementedError


class TxStep(Step):
    """A transaction: reconciled through ``Lending.lookup(key)``."""

    def reconcile(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act | None:
        found = run.lending.lookup(key)
        if found is None or found.outcome is Outcome.UNKNOWN:
            return None
        return tx_act(found)


def _repay_amount(run: BatchRun, *, balance: int, debt: int) -> int:
    margin = debt * run.config.repay_all_margin_bps // 10_000 + 1
    return MAX_UINT256 if balance >= debt + margin else balance


class RepayIdle(TxStep):
    name = "repay_idle"

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
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
        amount = _repay_amount(run, balance=idle, debt=debt)
        return {"symbol": run.spec.debt, "amount": str(amount), "wallet_balance": str(idle), "debt_before": str(debt)}

    def act(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act:
        return tx_act(run.lending.repay(key=key, symbol=intent["symbol"], amount=int(intent["amount"])))


class Withdraw(TxStep):
    name = "withdraw"

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
        amount = run.spec.withdraw_amount
        if amount <= 0:
            return Skip("sweep batch: nothing to withdraw")
        if run.reduce_only:
            return Skip("reduce-only: no withdrawals")
        snap = run.snapshot()
        verdict = guards.check_withdraw(
            snap.position, symbol=run.spec.collateral, amount=amount,
            hf_floor_wad=run.config.hf_floor_wad, shock_bps=run.config.shock_bps,
        )
        if not verdict.ok:
            run.alert("warning", f"withdraw skipped: {verdict.reason}")
            return Skip(verdict.reason)
        return {"symbol": run.spec.collateral, "amount": str(amount), "hf_before_wad": str(health_factor_wad(snap.position))}

    def act(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act:
        return tx_act(run.lending.withdraw(key=key, symbol=intent["symbol"], amount=int(intent["amount"])))


class Unwrap(TxStep):
    name = "unwrap"

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
        withdrawn = run.ok_intent("withdraw")
        if withdrawn is None:
            return Skip("nothing withdrawn")
        if not wants_unwrap(run.config, run.spec):
            return Skip("the exchange takes the wrapped token")
        return {"amount": withdrawn["amount"]}

    def act(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act:
        return tx_act(run.lending.unwrap(key=key, amount=int(intent["amount"])))


class Deposit(TxStep):
    name = "deposit"

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
        withdrawn = run.ok_intent("withdraw")
        if withdrawn is None:
            return Skip("nothing withdrawn")
        symbol = "ETH" if run.ok_intent("unwrap") is not None else run.spec.collateral
        address = run.venue.deposit_address(run.config.base_coin, run.config.network)
        return {"symbol": symbol, "amount": withdrawn["amount"], "to": address, "coin": run.config.base_coin}

    def act(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act:
        return tx_act(
            run.lending.transfer(key=key, symbol=intent["symbol"], to=intent["to"], amount=int(intent["amount"]))
        )


class AwaitDeposit(Step):
    name = "await_deposit"
    kind = Kind.AWAIT

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
        sent = run.ok_outcome("deposit")
        if sent is None:
            return Skip("nothing deposited")
        intent = run.ok_intent("deposit") or {}
        decimals = run.start_position.reserve(run.spec.collateral).decimals
        return {
            "coin": run.config.base_coin, "txid": sent["tx_hash"], "deposit_key": run.key("deposit"),
            "expected": str(from_units(int(intent["amount"]), decimals)),
        }

    def poll(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act | None:
        # Credited only when the exchange says so AND our tx is at the confirmation depth.
        tx = run.lending.lookup(intent["deposit_key"])
        if tx is None or tx.outcome is not Outcome.OK:
            return None
        credit = run.venue.deposit(coin=intent["coin"], txid=intent["txid"])
        if credit.state is TransferState.FAILED:
            return Act(Outcome.FAILED, transfer_payload(credit))
        if credit.state is not TransferState.OK:
            return None
        return Act(Outcome.OK, {**transfer_payload(credit), "confirmed_block": tx.block})


class Sell(Step):
    """IOC limit sells at the floor price; ``Venue.sell`` resumes by key, so reconciling is
    calling it again with the same key and the same intent."""

    name = "sell"

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
        cfg = run.config
        rules = run.venue.rules(cfg.market)
        free = run.venue.balances().get(cfg.base_coin, Decimal(0))
        credited = run.ok_outcome("await_deposit")
        if cfg.sweep_idle_base:
            qty = free
        else:
            qty = min(free, Decimal(credited["amount"]) - Decimal(credited["fee"])) if credited else Decimal(0)
        qty = round_down_to_step(qty, rules.step_size)
        if qty <= 0 or qty < rules.min_qty:
            return Skip(f"nothing to sell ({qty} {cfg.base_coin} free)")
        book = run.venue.order_book(cfg.market)
        if book.best_bid is None:
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
        return {
            "symbol": cfg.market, "qty": str(qty), "floor_price": str(floor), "reference": str(book.mid), "best_bid": str(book.best_bid),
            "oracle": str(oracle), "mid": str(book.mid),
        }

    def act(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act:
        result = run.venue.sell(
            key=key, symbol=intent["symbol"], qty=Decimal(intent["qty"]), floor_price=Decimal(intent["floor_price"])
        )
        if result.filled > Decimal(intent["qty"]):
            from bot.errors import NeedsReview

            raise NeedsReview(f"sell {key} filled {result.filled}, more than the {intent['qty']} asked")
        return Act(Outcome.OK, sell_payload(result))

    def reconcile(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act | None:
        return self.act(run, key, intent)


class WithdrawQuote(Step):
    name = "withdraw_quote"

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
        cfg = run.config
        free = run.venue.balances().get(cfg.quote_coin, Decimal(0))
        sold = run.ok_outcome("sell")
        amount = free if cfg.sweep_idle_quote else min(free, Decimal(sold["net_quote"]) if sold else Decimal(0))
        # It lands on chain in the debt token's units: never ask for a fraction of one.
        amount = round_down_to_step(amount, Decimal(1).scaleb(-run.start_position.reserve(run.spec.debt).decimals))
        if amount <= 0:
            return Skip(f"no {cfg.quote_coin} to bring back")
        guards.check_withdrawal_address(cfg.wallet, cfg.withdrawal_allowlist).raise_if_refused()
        snap = run.snapshot()
        return {
            "coin": cfg.quote_coin, "amount": str(amount), "address": cfg.wallet, "network": cfg.network,
            "wallet_balance_before": str(snap.wallet_balances.get(run.spec.debt, 0)),
            "exchange_free_before": str(free),
        }

    def act(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act:
        # Re-checked at the last moment: the allowlist is the one thing between us and a drain.
        guards.check_withdrawal_address(intent["address"], run.config.withdrawal_allowlist).raise_if_refused()
        t = run.venue.withdraw(
            key=key, coin=intent["coin"], amount=Decimal(intent["amount"]), address=intent["address"],
            network=intent["network"],
        )
        return _transfer_act(t, key)

    def reconcile(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act | None:
        t = run.venue.withdrawal(key=key, coin=intent["coin"])
        if t.state is not TransferState.UNKNOWN:
            return _transfer_act(t, key)
        # Not in the history. A history can lag the debit: if the amount already left the
        # balance, the withdrawal happened, so keep looking by key (the executor bounds this and
        # then asks for review) instead of sending a second one under the same withdrawOrderId.
        before = intent.get("exchange_free_before")
        if before is not None:
            free = run.venue.balances().get(intent["coin"], Decimal(0))
            if free <= Decimal(before) - Decimal(intent["amount"]):
                raise OutcomeUnknown(
                    f"withdrawal {key} is not in the history yet, but {intent['amount']} {intent['coin']} "
                    f"left the exchange balance ({before} → {free}): not re-sending"
                )
        return None


def _transfer_act(t: Transfer, key: str) -> Act:
    if t.state is TransferState.UNKNOWN:
        raise OutcomeUnknown(f"withdrawal {key} is not visible yet")
    if t.state is TransferState.FAILED:
        return Act(Outcome.FAILED, transfer_payload(t))
    # PENDING is accepted: the exchange holds the request; await_quote follows it to the chain.
    return Act(Outcome.OK, transfer_payload(t))


class AwaitQuote(Step):
    name = "await_quote"
    kind = Kind.AWAIT

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
        requested = run.ok_intent("withdraw_quote")
        if requested is None:
            return Skip("nothing withdrawn from the exchange")
        return {
            "coin": requested["coin"], "withdraw_key": run.key("withdraw_quote"),
            "wallet_balance_before": requested["wallet_balance_before"],
        }

    def poll(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act | None:
        t = run.venue.withdrawal(key=intent["withdraw_key"], coin=intent["coin"])
        if t.state is TransferState.FAILED:
            return Act(Outcome.FAILED, transfer_payload(t))
        if t.state is not TransferState.OK:
            return None
        decimals = run.start_position.reserve(run.spec.debt).decimals
        arrived = to_units(t.amount - t.fee, decimals)
        balance = run.snapshot().wallet_balances.get(run.spec.debt, 0)
        if balance < int(intent["wallet_balance_before"]) + arrived:
            return None  # the exchange says sent; the chain has not shown it yet
        return Act(Outcome.OK, {**transfer_payload(t), "arrived_units": str(arrived), "wallet_balance": str(balance)})


class Repay(TxStep):
    name = "repay"

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
        snap = run.snapshot()
        balance = snap.wallet_balances.get(run.spec.debt, 0)
        debt = snap.position.reserve(run.spec.debt).debt
        if not run.config.repay_idle or run.spec.repay_idle_amount is not None:
            # Only what this batch brought back: the wallet's own funds were the plan's to spend.
            landed = run.ok_outcome("await_quote")
            balance = min(balance, int(landed["arrived_units"])) if landed else 0
        if balance <= 0 or debt <= 0:
            return Skip("nothing arrived to repay" if debt > 0 else "no debt")
        amount = _repay_amount(run, balance=balance, debt=debt)
        return {"symbol": run.spec.debt, "amount": str(amount), "wallet_balance": str(balance), "debt_before": str(debt)}

    def act(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act:
        return tx_act(run.lending.repay(key=key, symbol=intent["symbol"], amount=int(intent["amount"])))


class Verify(Step):
    name = "verify"
    kind = Kind.CHECK

    def prepare(self, run: BatchRun) -> dict[str, Any] | Skip:
        moved = [s for s in ("repay_idle", "withdraw", "sell", "repay") if run.ok_outcome(s) is not None]
        if not moved:
            return Skip("nothing moved")
        return {"hf_before_wad": run.start_payload["hf_wad"], "moved": moved}

    def poll(self, run: BatchRun, key: str, intent: dict[str, Any]) -> Act | None:
        end = run.snapshot().position
        improved = guards.hf_improved(start=run.start_position, end=end)
        outcome = {"hf_before_wad": intent["hf_before_wad"], "hf_after_wad": str(health_factor_wad(end)), "improved": improved}
        return Act(Outcome.OK if improved else Outcome.FAILED, outcome)


STEPS: tuple[Step, ...] = (
    RepayIdle(), Withdraw(), Unwrap(), Deposit(), AwaitDeposit(), Sell(), WithdrawQuote(), AwaitQuote(), Repay(), Verify(),
)
STEP_NAMES: tuple[str, ...] = tuple(s.name for s in STEPS)


def crash_points() -> tuple[str, ...]:
    """Every named point a plain run passes, where a test may kill the executor.

    ``after_unknown:<step>`` (a write's outcome journalled UNKNOWN, before the lookup) is
    only reached under a fault, so it is not listed here."""
    points = ["after_open"]
    for step in STEPS:
        points.append(f"after_intent:{step.name}")
        if step.kind is Kind.WRITE:
            points += [f"before_act:{step.name}", f"after_act:{step.name}"]
        points.append(f"after_outcome:{step.name}")
    points.append("before_close")
    return tuple(points)


def status_of(act: Act) -> StepStatus:
    return {Outcome.OK: StepStatus.OK, Outcome.FAILED: StepStatus.FAILED}[act.status]

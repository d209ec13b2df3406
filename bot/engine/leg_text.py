"""One readable line per leg of a batch, from its journal row: what it did, with the numbers
(a dry-run's: what it would have done, with the same numbers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.domain.wadray import MAX_UINT256
from bot.engine.journal import BatchRow, StepRow, StepStatus
from bot.engine.journal_rows import (
    NATIVE_DECIMALS,
    WAD,
    TypedRow,
    amount_text,
    arrived,
    hf_text,
    money_text,
    or_dash,
    repaid_units,
    tokens,
    typed,
)
from bot.engine.steps import (
    AwaitQuoteIntent,
    DepositCreditOutcome,
    DepositIntent,
    QuoteArrivalOutcome,
    RepayIntent,
    SellIntent,
    SellOutcome,
    TransferOutcome,
    TxOutcome,
    UnwrapIntent,
    VerifyOutcome,
    WithdrawIntent,
    WithdrawQuoteIntent,
)

# ---- the line ------------------------------------------------------------------------------------------


def describe_step(row: StepRow, batch: BatchRow, *, simulated: bool = False) -> str:
    """One readable line: what the step did (``simulated``: what it would have done)."""
    return describe(typed(row), batch, simulated=simulated)


def describe(r: TypedRow, batch: BatchRow, *, simulated: bool) -> str:
    status = r.row.status
    if r.skipped is not None:
        return f"skipped: {r.skipped}"
    if r.refused is not None:
        return f"refused: {r.refused}"
    if r.intent is None:
        return f"{status.value}{f': {r.row.error}' if r.row.error else ''}"
    text = _what(r.intent, r.outcome, batch, r.row, done=status is StepStatus.OK, simulated=simulated)
    if status is StepStatus.OK:
        return text
    reason = r.row.error or (r.outcome.error if isinstance(r.outcome, TxOutcome) else None)
    return f"{status.value}: {text}{f' ({reason})' if reason else ''}"


# by the past tense: (past, participle, to-infinitive)
_VERBS = {
    "repaid": ("repaid", "repaid", "to repay"),
    "withdrew": ("withdrew", "withdrawn", "to withdraw"),
    "unwrapped": ("unwrapped", "unwrapped", "to unwrap"),
    "sent": ("sent", "sent", "to send"),
    "credited": ("credited", "credited", "to credit"),
    "sold": ("sold", "sold", "to sell"),
    "requested": ("requested", "requested", "to request"),
    "landed": ("landed", "landed", "to land"),
}


def verb(name: str, *, done: bool, simulated: bool) -> str:
    """``withdrew``; ``would have withdrawn`` (dry-run); ``asked to withdraw`` (not done)."""
    past, participle, infinitive = _VERBS[name]
    if not done:
        return f"asked {infinitive}"
    return f"would have {participle}" if simulated else past


def _what(intent: Any, outcome: Any, batch: BatchRow, row: StepRow, *, done: bool, simulated: bool) -> str:
    start = batch.start

    def v(name: str) -> str:
        return verb(name, done=done, simulated=simulated)

    tx = _tx_text(outcome, simulated=simulated) if isinstance(outcome, TxOutcome) else ""
    if isinstance(intent, RepayIntent):
        amount = tokens(repaid_units(intent), start, intent.symbol)
        whole = " (all of the debt)" if intent.amount == MAX_UINT256 else ""
        return f"{v('repaid')} {amount_text(amount)} {intent.symbol}{whole} on Aave{tx}"
    if isinstance(intent, WithdrawIntent):
        amount = tokens(intent.amount, start, intent.symbol)
        hf = hf_text(Decimal(intent.hf_before_wad) / WAD)
        return f"{v('withdrew')} {amount_text(amount)} {intent.symbol} from Aave (HF before {hf}){tx}"
    if isinstance(intent, UnwrapIntent):
        return f"{v('unwrapped')} {amount_text(tokens(intent.amount, start, 'ETH'))} WETH to ETH{tx}"
    if isinstance(intent, DepositIntent):
        sent = amount_text(tokens(intent.amount, start, intent.symbol))
        return f"{v('sent')} {sent} {intent.symbol} to the exchange's {intent.coin} deposit address {or_dash(intent.to)}{tx}"
    if isinstance(outcome, DepositCreditOutcome):
        t = outcome.transfer
        return f"the exchange {v('credited')} {amount_text(t.amount)} {t.coin} (fee {amount_text(t.fee)}, tx {or_dash(t.txid)})"
    if isinstance(intent, SellIntent):
        return _sell_text(intent, outcome, done=done, simulated=simulated)
    if isinstance(intent, WithdrawQuoteIntent):
        state = f", {outcome.state.value}" if isinstance(outcome, TransferOutcome) else ""
        txid = f", tx {or_dash(outcome.txid)}" if isinstance(outcome, TransferOutcome) and outcome.txid else ""
        return (
            f"{v('requested')} a withdrawal of {amount_text(intent.amount)} {intent.coin} from the exchange "
            f"to {or_dash(intent.address)} on {intent.network} (id {row.key}{state}{txid})"
        )
    if isinstance(outcome, QuoteArrivalOutcome) or isinstance(intent, AwaitQuoteIntent):
        if not isinstance(outcome, QuoteArrivalOutcome):
            return f"waiting for {intent.coin} from withdrawal {intent.withdraw_key}"
        t = outcome.transfer
        landed = arrived(outcome, batch)
        return f"{amount_text(landed)} {t.coin} {v('landed')} in the wallet (withdrawal {intent.withdraw_key}, fee {amount_text(t.fee)}, tx {or_dash(t.txid)})"
    if isinstance(outcome, VerifyOutcome):
        verdict = "HF rose" if outcome.improved else "HF did NOT rise"
        after = Decimal(outcome.hf_after_wad) / WAD
        return f"{verdict}: {hf_text(Decimal(outcome.hf_before_wad) / WAD)} → {hf_text(after)}"
    return row.status.value


def _tx_text(outcome: TxOutcome, *, simulated: bool) -> str:
    parts = [f"{'simulated ' if simulated else ''}tx {or_dash(outcome.tx_hash)}"]
    if outcome.block is not None:
        parts.append(f"block {outcome.block}")
    if outcome.gas_cost_wei:
        parts.append(f"gas {amount_text(Decimal(outcome.gas_cost_wei).scaleb(-NATIVE_DECIMALS))} ETH")
    return f" ({', '.join(parts)})"


def _sell_text(intent: SellIntent, outcome: Any, *, done: bool, simulated: bool) -> str:
    base, _, quote = intent.symbol.partition("/")
    floor = f"floor {money_text(intent.floor_price)}, mid {money_text(intent.mid)}"
    if not isinstance(outcome, SellOutcome):
        return f"{verb('sold', done=False, simulated=simulated)} {amount_text(intent.qty)} {base} IOC at no less than {money_text(intent.floor_price)} {quote} ({floor})"
    avg = money_text(outcome.gross_quote / outcome.filled) if outcome.filled else "—"
    orders = ", ".join(outcome.client_order_ids) or "none"
    rest = "; the book ran out at the floor" if outcome.exhausted else ""
    return (
        f"{verb('sold', done=done, simulated=simulated)} {amount_text(outcome.filled)} of {amount_text(outcome.requested)} {base} "
        f"at avg {avg} {quote} (gross {amount_text(outcome.gross_quote)}, fee {amount_text(outcome.fee_quote)}, "
        f"net {amount_text(outcome.net_quote)} {quote}; {floor}; order {orders}){rest}"
    )

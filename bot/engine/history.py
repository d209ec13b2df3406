"""What the daemon did and is doing, read from its journal rows alone (pure: no I/O).

One implementation for every reader: the daemon's log line per leg and per batch, ``delever
history``, the batch in progress and the funds in transit that ``delever status`` shows, and the
demo's batch table. Each step is recognised by the type of its journalled payload (the steps
package owns the names); amounts on chain are turned into tokens with the decimals the batch's
start recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.domain.wadray import MAX_UINT256
from bot.engine.batch_spec import reserve_decimals, start_hf_wad
from bot.engine.journal import BatchRow, BatchStatus, StepRow, StepStatus
from bot.engine.steps import (
    STEP_NAMES,
    STEPS,
    AwaitQuoteIntent,
    DepositCreditOutcome,
    DepositIntent,
    QuoteArrivalOutcome,
    RepayIntent,
    SellIntent,
    SellOutcome,
    Skip,
    Step,
    TransferOutcome,
    TxOutcome,
    UnwrapIntent,
    VerifyOutcome,
    WithdrawIntent,
    WithdrawQuoteIntent,
    step_label,
)

WAD = Decimal(10) ** 18
NATIVE_DECIMALS = 18
_BY_NAME: dict[str, Step[Any, Any]] = {s.name: s for s in STEPS}
# Repays after the sell bring the sale's proceeds back; one before it spends idle funds.
_SELL_INDEX = next(i for i, s in enumerate(STEPS) if s.intent_type is SellIntent)


# ---- typed rows ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """A step row with its payloads typed (None when skipped, refused or not known)."""

    row: StepRow
    index: int  # position in the batch's sequence of steps
    intent: Any
    outcome: Any
    skipped: str | None
    refused: str | None


def _typed(row: StepRow) -> _Row:
    step = _BY_NAME.get(row.step)
    index = STEP_NAMES.index(row.step) if step is not None else len(STEP_NAMES)
    skip = Skip.from_payload(row.intent)
    refused = row.intent.get("refused")
    intent = outcome = None
    if step is not None and skip is None and refused is None:
        try:
            intent = step.intent_of(row)
            outcome = step.outcome_of(row)
        except (KeyError, ValueError, TypeError, ArithmeticError):
            intent = outcome = None  # a payload this version cannot read: shown by status only
    return _Row(row, index, intent, outcome, None if skip is None else skip.reason, refused)


def _ok(rows: Sequence[_Row], kind: type, *, outcome: bool = False) -> _Row | None:
    """The last OK row whose intent (or outcome) is of ``kind``."""
    found = None
    for r in rows:
        value = r.outcome if outcome else r.intent
        if r.row.status is StepStatus.OK and isinstance(value, kind):
            found = r
    return found


# ---- units -----------------------------------------------------------------------------------------


def _decimals(start: Mapping[str, Any], symbol: str) -> int:
    if symbol == "ETH":
        return NATIVE_DECIMALS
    found = reserve_decimals(start, symbol)
    return NATIVE_DECIMALS if found is None else found


def _tokens(units: int, start: Mapping[str, Any], symbol: str) -> Decimal:
    """Base units as tokens, without trailing zeros (and never in exponent form)."""
    return _plain(Decimal(units).scaleb(-_decimals(start, symbol)))


def _plain(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _repaid_units(intent: RepayIntent) -> int:
    """MAX_UINT256 asks Aave for all of it: the debt it saw before is what was repaid."""
    return intent.debt_before if intent.amount == MAX_UINT256 else intent.amount


def _amount(value: Decimal) -> str:
    """A token amount for people: thousands separated, at most 6 places, no trailing zeros."""
    text = f"{value.quantize(Decimal('0.000001')):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _hf(value: Decimal | None) -> str:
    return "∞" if value is None else f"{value:.3f}"


def _or_dash(text: str | None) -> str:
    """Hashes and addresses in full (copied into an explorer); a dash when unknown."""
    return text or "—"


def when(ts: float) -> str:
    """A journal timestamp (UTC) for people."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


# ---- one leg ------------------------------------------------------------------------------------------


def describe_step(row: StepRow, batch: BatchRow, *, simulated: bool = False) -> str:
    """One readable line: what the step did (``simulated``: what it would have done)."""
    return _describe(_typed(row), batch, simulated=simulated)


def _describe(r: _Row, batch: BatchRow, *, simulated: bool) -> str:
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


def _verb(name: str, *, done: bool, simulated: bool) -> str:
    """``withdrew``; ``would have withdrawn`` (dry-run); ``asked to withdraw`` (not done)."""
    past, participle, infinitive = _VERBS[name]
    if not done:
        return f"asked {infinitive}"
    return f"would have {participle}" if simulated else past


def _what(intent: Any, outcome: Any, batch: BatchRow, row: StepRow, *, done: bool, simulated: bool) -> str:
    start = batch.start

    def v(name: str) -> str:
        return _verb(name, done=done, simulated=simulated)

    tx = _tx_text(outcome, simulated=simulated) if isinstance(outcome, TxOutcome) else ""
    if isinstance(intent, RepayIntent):
        amount = _tokens(_repaid_units(intent), start, intent.symbol)
        whole = " (all of the debt)" if intent.amount == MAX_UINT256 else ""
        return f"{v('repaid')} {_amount(amount)} {intent.symbol}{whole} on Aave{tx}"
    if isinstance(intent, WithdrawIntent):
        amount = _tokens(intent.amount, start, intent.symbol)
        hf = _hf(Decimal(intent.hf_before_wad) / WAD)
        return f"{v('withdrew')} {_amount(amount)} {intent.symbol} from Aave (HF before {hf}){tx}"
    if isinstance(intent, UnwrapIntent):
        return f"{v('unwrapped')} {_amount(_tokens(intent.amount, start, 'ETH'))} WETH to ETH{tx}"
    if isinstance(intent, DepositIntent):
        sent = _amount(_tokens(intent.amount, start, intent.symbol))
        return f"{v('sent')} {sent} {intent.symbol} to the exchange's {intent.coin} deposit address {_or_dash(intent.to)}{tx}"
    if isinstance(outcome, DepositCreditOutcome):
        t = outcome.transfer
        return (
            f"the exchange {v('credited')} {_amount(t.amount)} {t.coin} (fee {_amount(t.fee)}, tx {_or_dash(t.txid)})"
        )
    if isinstance(intent, SellIntent):
        return _sell_text(intent, outcome, done=done, simulated=simulated)
    if isinstance(intent, WithdrawQuoteIntent):
        state = f", {outcome.state.value}" if isinstance(outcome, TransferOutcome) else ""
        txid = f", tx {_or_dash(outcome.txid)}" if isinstance(outcome, TransferOutcome) and outcome.txid else ""
        return (
            f"{v('requested')} a withdrawal of {_amount(intent.amount)} {intent.coin} from the exchange "
            f"to {_or_dash(intent.address)} on {intent.network} (id {row.key}{state}{txid})"
        )
    if isinstance(outcome, QuoteArrivalOutcome) or isinstance(intent, AwaitQuoteIntent):
        if not isinstance(outcome, QuoteArrivalOutcome):
            return f"waiting for {intent.coin} from withdrawal {intent.withdraw_key}"
        t = outcome.transfer
        arrived = _arrived(outcome, batch)
        return f"{_amount(arrived)} {t.coin} {v('landed')} in the wallet (withdrawal {intent.withdraw_key}, fee {_amount(t.fee)}, tx {_or_dash(t.txid)})"
    if isinstance(outcome, VerifyOutcome):
        verdict = "HF rose" if outcome.improved else "HF did NOT rise"
        after = Decimal(outcome.hf_after_wad) / WAD
        return f"{verdict}: {_hf(Decimal(outcome.hf_before_wad) / WAD)} → {_hf(after)}"
    return row.status.value


def _debt_of(batch: BatchRow) -> str:
    return str(batch.spec.get("debt", "USDT"))


def _arrived(landed: QuoteArrivalOutcome, batch: BatchRow) -> Decimal:
    """What landed in the wallet, in the debt token (the exchange's net when not recorded)."""
    if landed.arrived_units is None:
        return landed.transfer.amount - landed.transfer.fee
    return _tokens(landed.arrived_units, batch.start, _debt_of(batch))


def _tx_text(outcome: TxOutcome, *, simulated: bool) -> str:
    parts = [f"{'simulated ' if simulated else ''}tx {_or_dash(outcome.tx_hash)}"]
    if outcome.block is not None:
        parts.append(f"block {outcome.block}")
    if outcome.gas_cost_wei:
        parts.append(f"gas {_amount(Decimal(outcome.gas_cost_wei).scaleb(-NATIVE_DECIMALS))} ETH")
    return f" ({', '.join(parts)})"


def _sell_text(intent: SellIntent, outcome: Any, *, done: bool, simulated: bool) -> str:
    base, _, quote = intent.symbol.partition("/")
    floor = f"floor {_money(intent.floor_price)}, mid {_money(intent.mid)}"
    if not isinstance(outcome, SellOutcome):
        return f"{_verb('sold', done=False, simulated=simulated)} {_amount(intent.qty)} {base} IOC at no less than {_money(intent.floor_price)} {quote} ({floor})"
    avg = _money(outcome.gross_quote / outcome.filled) if outcome.filled else "—"
    orders = ", ".join(outcome.client_order_ids) or "none"
    rest = "; the book ran out at the floor" if outcome.exhausted else ""
    return (
        f"{_verb('sold', done=done, simulated=simulated)} {_amount(outcome.filled)} of {_amount(outcome.requested)} {base} "
        f"at avg {avg} {quote} (gross {_amount(outcome.gross_quote)}, fee {_amount(outcome.fee_quote)}, "
        f"net {_amount(outcome.net_quote)} {quote}; {floor}; order {orders}){rest}"
    )


# ---- one batch ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leg:
    step: str
    status: StepStatus
    started_at: float  # the intent
    updated_at: float  # the outcome, or the last attempt
    attempts: int
    detail: str

    @property
    def seconds(self) -> float:
        return self.updated_at - self.started_at


@dataclass(frozen=True, slots=True)
class Fill:
    market: str
    requested: Decimal
    filled: Decimal
    avg_price: Decimal | None
    gross_quote: Decimal
    fee_quote: Decimal
    net_quote: Decimal
    floor_price: Decimal
    mid: Decimal
    order_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """The stablecoins brought back from the exchange."""

    id: str  # the withdrawOrderId (the step's key)
    coin: str
    amount: Decimal
    fee: Decimal
    state: str
    txid: str | None
    arrived: Decimal | None  # what landed in the wallet, once it did


@dataclass(frozen=True, slots=True)
class Costs:
    gas_eth: Decimal  # every transaction of the batch
    trading_fee_quote: Decimal
    withdrawal_fee_quote: Decimal
    deposit_fee_base: Decimal
    # (mid − average price) × filled: what the sale gave up against the book's mid at decision.
    slippage_quote: Decimal


@dataclass(frozen=True, slots=True)
class BatchSummary:
    id: str
    seq: int
    status: BatchStatus
    note: str
    collateral: str
    debt: str
    withdrawn: Decimal  # collateral, tokens
    sold: Decimal  # base coin, on the exchange
    gross_quote: Decimal
    avg_price: Decimal | None  # gross quote / filled base
    repaid: Decimal  # debt token, tokens
    hf_before: Decimal | None
    hf_after: Decimal | None
    started_at: float
    finished_at: float
    legs: tuple[Leg, ...] = ()
    fill: Fill | None = None
    withdrawal: Withdrawal | None = None
    costs: Costs | None = None
    withdraw_skipped: str | None = None  # why the executor's own re-check withdrew nothing
    # The executor's verify: HF rose, judged at the same prices (a market falling during the
    # batch is not held against it). None when verify did not run.
    verified: bool | None = None
    reason: str = ""  # why it stopped, when it did not finish
    legs_s: dict[str, float] = field(default_factory=dict)  # OK steps: seconds intent → outcome
    at_step: str | None = None  # an OPEN batch: the leg it is on, or the next one

    @property
    def duration_s(self) -> float:
        return self.finished_at - self.started_at

    @property
    def moved(self) -> bool:
        """Did anything move (a withdrawal, a sale or a repayment)?"""
        return self.withdrawn > 0 or self.sold > 0 or self.repaid > 0


def summarize(batch: BatchRow, steps: Sequence[StepRow], *, simulated: bool = False) -> BatchSummary:
    rows = [_typed(s) for s in steps]
    start = batch.start
    is_open = batch.status is BatchStatus.OPEN
    collateral = str(batch.spec.get("collateral", "WETH"))
    debt = _debt_of(batch)
    withdrew = _ok(rows, WithdrawIntent)
    withdrawn = _tokens(withdrew.intent.amount, start, withdrew.intent.symbol) if withdrew else Decimal(0)
    skipped = next((r.skipped for r in rows if r.skipped is not None and r.index == _index_of(WithdrawIntent)), None)
    repaid_units = sum(
        _repaid_units(r.intent) for r in rows if r.row.status is StepStatus.OK and isinstance(r.intent, RepayIntent)
    )
    sold_row = _ok(rows, SellOutcome, outcome=True)
    fill = _fill(sold_row) if sold_row is not None else None
    verdict = next((r.outcome for r in rows if isinstance(r.outcome, VerifyOutcome)), None)
    hf_before_wad = verdict.hf_before_wad if verdict is not None else start_hf_wad(start)
    return BatchSummary(
        id=batch.id,
        seq=batch.seq,
        status=batch.status,
        note=str(batch.spec.get("note", "")),
        collateral=collateral,
        debt=debt,
        withdrawn=withdrawn,
        sold=fill.filled if fill else Decimal(0),
        gross_quote=fill.gross_quote if fill else Decimal(0),
        avg_price=fill.avg_price if fill else None,
        repaid=_tokens(repaid_units, start, debt),
        hf_before=_wad(hf_before_wad),
        hf_after=_wad(verdict.hf_after_wad if verdict is not None else None),
        started_at=batch.created_at,
        # An open batch: up to its last journalled transition.
        finished_at=max([batch.updated_at, *(r.updated_at for r in steps)]) if is_open else batch.updated_at,
        at_step=progress(batch, steps).step if is_open else None,
        legs=tuple(
            Leg(
                r.row.step,
                r.row.status,
                r.row.created_at,
                r.row.updated_at,
                r.row.attempts,
                _describe(r, batch, simulated=simulated),
            )
            for r in rows
        ),
        fill=fill,
        withdrawal=_withdrawal(rows, batch),
        costs=_costs(rows, fill),
        withdraw_skipped=skipped,
        verified=None if verdict is None else verdict.improved,
        reason=str((batch.outcome or {}).get("reason", "")),
        legs_s={r.row.step: r.row.updated_at - r.row.created_at for r in rows if r.row.status is StepStatus.OK},
    )


def _index_of(intent_type: type) -> int:
    return next((i for i, s in enumerate(STEPS) if s.intent_type is intent_type), -1)


def _fill(r: _Row) -> Fill:
    sold: SellOutcome = r.outcome
    intent: SellIntent = r.intent
    avg = (sold.gross_quote / sold.filled).quantize(Decimal("0.01")) if sold.filled else None
    return Fill(
        market=intent.symbol,
        requested=sold.requested,
        filled=sold.filled,
        avg_price=avg,
        gross_quote=sold.gross_quote,
        fee_quote=sold.fee_quote,
        net_quote=sold.net_quote,
        floor_price=intent.floor_price,
        mid=intent.mid,
        order_ids=sold.client_order_ids,
    )


def _withdrawal(rows: Sequence[_Row], batch: BatchRow) -> Withdrawal | None:
    asked = _ok(rows, WithdrawQuoteIntent)
    if asked is None:
        return None
    intent: WithdrawQuoteIntent = asked.intent
    sent: TransferOutcome | None = asked.outcome
    landed_row = _ok(rows, QuoteArrivalOutcome, outcome=True)
    landed: QuoteArrivalOutcome | None = landed_row.outcome if landed_row else None
    transfer = landed.transfer if landed is not None else sent
    arrived = None if landed is None else _arrived(landed, batch)
    return Withdrawal(
        id=asked.row.key,
        coin=intent.coin,
        amount=intent.amount,
        fee=transfer.fee if transfer is not None else Decimal(0),
        state=transfer.state.value if transfer is not None else "PENDING",
        txid=transfer.txid if transfer is not None else None,
        arrived=arrived,
    )


def _costs(rows: Sequence[_Row], fill: Fill | None) -> Costs:
    gas = sum((r.outcome.gas_cost_wei or 0) for r in rows if isinstance(r.outcome, TxOutcome))
    withdrawal_fee = sum(
        (r.outcome.fee for r in rows if r.row.status is StepStatus.OK and isinstance(r.outcome, TransferOutcome)),
        Decimal(0),
    )
    deposit_fee = sum((r.outcome.transfer.fee for r in rows if isinstance(r.outcome, DepositCreditOutcome)), Decimal(0))
    slippage = Decimal(0)
    if fill is not None and fill.filled:
        slippage = (fill.mid * fill.filled - fill.gross_quote).quantize(Decimal("0.01"))
    return Costs(
        gas_eth=_plain(Decimal(gas).scaleb(-NATIVE_DECIMALS)),
        trading_fee_quote=fill.fee_quote if fill else Decimal(0),
        withdrawal_fee_quote=withdrawal_fee,
        deposit_fee_base=deposit_fee,
        slippage_quote=slippage,
    )


def _wad(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value) / WAD


def batch_line(b: BatchSummary, *, simulated: bool = False) -> str:
    """The batch in one line: what moved, at what price, HF before → after, how long."""
    head = f"{'dry-run ' if simulated else ''}batch {b.id} {b.status.value} in {b.duration_s:.1f} s"
    if not b.moved:
        why = b.withdraw_skipped or b.reason or "no step had anything to do"
        return f"{head}: nothing moved ({why})"
    sold = "sold nothing"
    if b.fill is not None and b.sold > 0:
        base, _, quote = b.fill.market.partition("/")
        sold = f"sold {_amount(b.sold)} {base} at avg {_money(b.avg_price or Decimal(0))} {quote}"
    withdrew = f"{_verb('withdrew', done=True, simulated=simulated)} {_amount(b.withdrawn)} {b.collateral}"
    if b.withdrawn == 0:
        withdrew = f"{_verb('withdrew', done=True, simulated=simulated)} nothing"
    hf_after = "—" if b.hf_after is None else _hf(b.hf_after)
    text = (
        f"{head}{' (simulated, nothing signed)' if simulated else ''}: {withdrew}, {sold}, "
        f"repaid {_amount(b.repaid)} {b.debt}, HF {_hf(b.hf_before)} → {hf_after}"
    )
    return text + (f" ({b.reason})" if b.reason else "")


# ---- in progress ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transit:
    """Funds out of Aave and not yet repaid: where they are now."""

    asset: str
    amount: Decimal
    where: str


@dataclass(frozen=True, slots=True)
class Progress:
    """An open batch: the leg it is on (or the next one, between legs) and since when."""

    batch_id: str
    seq: int
    step: str | None  # None: opened, no leg journalled yet
    since: float
    in_transit: tuple[Transit, ...]

    def describe(self) -> str:
        if self.step is None:
            return f"batch {self.seq}: planning"
        return f"batch {self.seq}: {step_label(self.step)}"


def progress(batch: BatchRow, steps: Sequence[StepRow]) -> Progress:
    """Where an OPEN batch is: the first leg not finished, else the next one to start."""
    rows = [_typed(s) for s in steps]
    current = next((r for r in rows if not r.row.status.terminal), None)
    if current is not None:
        step, since = current.row.step, current.row.created_at
    elif rows:
        last = max(rows, key=lambda r: r.index)
        following = STEP_NAMES[last.index + 1] if last.index + 1 < len(STEP_NAMES) else last.row.step
        step, since = following, last.row.updated_at
    else:
        step, since = None, batch.created_at
    return Progress(batch.id, batch.seq, step, since, in_transit(batch, steps))


def in_transit(batch: BatchRow, steps: Sequence[StepRow]) -> tuple[Transit, ...]:
    """Collateral withdrawn and not yet sold; stablecoins sold and not yet repaid."""
    if batch.status is not BatchStatus.OPEN:
        return ()
    rows = [_typed(s) for s in steps]
    start = batch.start
    out: list[Transit] = []
    withdrew = _ok(rows, WithdrawIntent)
    sold = _ok(rows, SellOutcome, outcome=True)
    if withdrew is not None and sold is None:
        credited = _ok(rows, DepositCreditOutcome, outcome=True)
        deposited = _ok(rows, DepositIntent)
        if credited is not None:
            t = credited.outcome.transfer
            out.append(Transit(t.coin, t.amount - t.fee, "on the exchange, not yet sold"))
        elif deposited is not None:
            d: DepositIntent = deposited.intent
            out.append(Transit(d.symbol, _tokens(d.amount, start, d.symbol), "sent to the exchange, not yet credited"))
        else:
            w: WithdrawIntent = withdrew.intent
            out.append(Transit(w.symbol, _tokens(w.amount, start, w.symbol), "in the wallet, not yet sent"))
    repaid_after_sale = any(
        r.row.status is StepStatus.OK and isinstance(r.intent, RepayIntent) and r.index > _SELL_INDEX for r in rows
    )
    if sold is not None and not repaid_after_sale:
        quote = sold.intent.symbol.partition("/")[2]
        asked = _ok(rows, WithdrawQuoteIntent)
        landed = _ok(rows, QuoteArrivalOutcome, outcome=True)
        if landed is not None:
            out.append(Transit(_debt_of(batch), _arrived(landed.outcome, batch), "in the wallet, not yet repaid"))
        elif asked is not None:
            out.append(Transit(quote, asked.intent.amount, "withdrawn from the exchange, not yet on chain"))
        elif sold.outcome.net_quote > 0:
            out.append(Transit(quote, sold.outcome.net_quote, "on the exchange, not yet withdrawn"))
    return tuple(out)


# ---- JSON -----------------------------------------------------------------------------------------------


def _s(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def plain(value: Decimal) -> str:
    """A Decimal as text: plain digits, no exponent, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def batch_json(b: BatchSummary) -> dict[str, Any]:
    """A batch as ``history --json`` prints it (Decimals as strings, times as UNIX seconds)."""
    fill = b.fill
    w = b.withdrawal
    c = b.costs
    return {
        "id": b.id,
        "seq": b.seq,
        "status": b.status.value,
        "note": b.note,
        "started_at": b.started_at,
        "finished_at": None if b.status is BatchStatus.OPEN else b.finished_at,
        "duration_s": round(b.duration_s, 3),
        "collateral": b.collateral,
        "debt": b.debt,
        "withdrawn": plain(b.withdrawn),
        "sold": plain(b.sold),
        "avg_price": _s(b.avg_price),
        "repaid": plain(b.repaid),
        "hf_before": _s(b.hf_before),
        "hf_after": _s(b.hf_after),
        "verified": b.verified,
        "withdraw_skipped": b.withdraw_skipped,
        "reason": b.reason or None,
        "legs": [
            {
                "step": leg.step,
                "status": leg.status.value,
                "started_at": leg.started_at,
                "updated_at": leg.updated_at,
                "seconds": round(leg.seconds, 3),
                "attempts": leg.attempts,
                "detail": leg.detail,
            }
            for leg in b.legs
        ],
        "fill": None
        if fill is None
        else {
            "market": fill.market,
            "requested": plain(fill.requested),
            "filled": plain(fill.filled),
            "avg_price": _s(fill.avg_price),
            "gross_quote": plain(fill.gross_quote),
            "fee_quote": plain(fill.fee_quote),
            "net_quote": plain(fill.net_quote),
            "floor_price": plain(fill.floor_price),
            "mid": plain(fill.mid),
            "order_ids": list(fill.order_ids),
        },
        "withdrawal": None
        if w is None
        else {
            "id": w.id,
            "coin": w.coin,
            "amount": plain(w.amount),
            "fee": plain(w.fee),
            "state": w.state,
            "txid": w.txid,
            "arrived": _s(w.arrived),
        },
        "costs": None
        if c is None
        else {
            "gas_eth": plain(c.gas_eth),
            "trading_fee_quote": plain(c.trading_fee_quote),
            "withdrawal_fee_quote": plain(c.withdrawal_fee_quote),
            "deposit_fee_base": plain(c.deposit_fee_base),
            "slippage_quote": plain(c.slippage_quote),
        },
    }


def progress_json(p: Progress) -> dict[str, Any]:
    return {
        "batch_id": p.batch_id,
        "seq": p.seq,
        "step": p.step,
        "doing": p.describe(),
        "since": p.since,
    }


def transit_json(items: Sequence[Transit]) -> list[dict[str, str]]:
    return [{"asset": t.asset, "amount": plain(t.amount), "where": t.where} for t in items]

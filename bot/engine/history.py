"""What the daemon did and is doing, read from its journal rows alone (pure: no I/O).

One implementation for every reader: the daemon's line per batch, ``delever history``, the
batch in progress and the funds in transit that ``delever status`` shows, and the demo's batch
table. Each leg's own line is ``bot.engine.leg_text``; the typed rows and units are
``bot.engine.journal_rows``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.engine.batch_spec import start_hf_wad
from bot.engine.journal import BatchRow, BatchStatus, StepRow, StepStatus
from bot.engine.journal_rows import (
    NATIVE_DECIMALS,
    WAD,
    TypedRow,
    amount_text,
    arrived,
    debt_of,
    hf_text,
    last_ok,
    money_text,
    plain,
    plain_decimal,
    repaid_units,
    tokens,
    typed,
    when,
)
from bot.engine.leg_text import describe, describe_step, verb
from bot.engine.steps import (
    STEP_NAMES,
    STEPS,
    DepositCreditOutcome,
    DepositIntent,
    QuoteArrivalOutcome,
    RepayIntent,
    SellIntent,
    SellOutcome,
    TransferOutcome,
    TxOutcome,
    VerifyOutcome,
    WithdrawIntent,
    WithdrawQuoteIntent,
    step_label,
)

__all__ = [
    "BatchSummary",
    "Costs",
    "Fill",
    "Leg",
    "Progress",
    "Transit",
    "Withdrawal",
    "batch_json",
    "batch_line",
    "describe_step",
    "in_transit",
    "plain",
    "progress",
    "progress_json",
    "summarize",
    "transit_json",
    "when",
]

# Repays after the sell bring the sale's proceeds back; one before it spends idle funds.
_SELL_INDEX = next(i for i, s in enumerate(STEPS) if s.intent_type is SellIntent)


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
    rows = [typed(s) for s in steps]
    start = batch.start
    is_open = batch.status is BatchStatus.OPEN
    collateral = str(batch.spec.get("collateral", "WETH"))
    debt = debt_of(batch)
    withdrew = last_ok(rows, WithdrawIntent)
    withdrawn = tokens(withdrew.intent.amount, start, withdrew.intent.symbol) if withdrew else Decimal(0)
    skipped = next((r.skipped for r in rows if r.skipped is not None and r.index == _index_of(WithdrawIntent)), None)
    repaid_total = sum(
        repaid_units(r.intent) for r in rows if r.row.status is StepStatus.OK and isinstance(r.intent, RepayIntent)
    )
    sold_row = last_ok(rows, SellOutcome, outcome=True)
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
        repaid=tokens(repaid_total, start, debt),
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
                describe(r, batch, simulated=simulated),
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


def _fill(r: TypedRow) -> Fill:
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


def _withdrawal(rows: Sequence[TypedRow], batch: BatchRow) -> Withdrawal | None:
    asked = last_ok(rows, WithdrawQuoteIntent)
    if asked is None:
        return None
    intent: WithdrawQuoteIntent = asked.intent
    sent: TransferOutcome | None = asked.outcome
    landed_row = last_ok(rows, QuoteArrivalOutcome, outcome=True)
    landed: QuoteArrivalOutcome | None = landed_row.outcome if landed_row else None
    transfer = landed.transfer if landed is not None else sent
    landed_amount = None if landed is None else arrived(landed, batch)
    return Withdrawal(
        id=asked.row.key,
        coin=intent.coin,
        amount=intent.amount,
        fee=transfer.fee if transfer is not None else Decimal(0),
        state=transfer.state.value if transfer is not None else "PENDING",
        txid=transfer.txid if transfer is not None else None,
        arrived=landed_amount,
    )


def _costs(rows: Sequence[TypedRow], fill: Fill | None) -> Costs:
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
        gas_eth=plain_decimal(Decimal(gas).scaleb(-NATIVE_DECIMALS)),
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
        sold = f"sold {amount_text(b.sold)} {base} at avg {money_text(b.avg_price or Decimal(0))} {quote}"
    withdrew = f"{verb('withdrew', done=True, simulated=simulated)} {amount_text(b.withdrawn)} {b.collateral}"
    if b.withdrawn == 0:
        withdrew = f"{verb('withdrew', done=True, simulated=simulated)} nothing"
    hf_after = "—" if b.hf_after is None else hf_text(b.hf_after)
    text = (
        f"{head}{' (simulated, nothing signed)' if simulated else ''}: {withdrew}, {sold}, "
        f"repaid {amount_text(b.repaid)} {b.debt}, HF {hf_text(b.hf_before)} → {hf_after}"
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
    rows = [typed(s) for s in steps]
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
    rows = [typed(s) for s in steps]
    start = batch.start
    out: list[Transit] = []
    withdrew = last_ok(rows, WithdrawIntent)
    sold = last_ok(rows, SellOutcome, outcome=True)
    if withdrew is not None and sold is None:
        credited = last_ok(rows, DepositCreditOutcome, outcome=True)
        deposited = last_ok(rows, DepositIntent)
        if credited is not None:
            t = credited.outcome.transfer
            out.append(Transit(t.coin, t.amount - t.fee, "on the exchange, not yet sold"))
        elif deposited is not None:
            d: DepositIntent = deposited.intent
            out.append(Transit(d.symbol, tokens(d.amount, start, d.symbol), "sent to the exchange, not yet credited"))
        else:
            w: WithdrawIntent = withdrew.intent
            out.append(Transit(w.symbol, tokens(w.amount, start, w.symbol), "in the wallet, not yet sent"))
    repaid_after_sale = any(
        r.row.status is StepStatus.OK and isinstance(r.intent, RepayIntent) and r.index > _SELL_INDEX for r in rows
    )
    if sold is not None and not repaid_after_sale:
        quote = sold.intent.symbol.partition("/")[2]
        asked = last_ok(rows, WithdrawQuoteIntent)
        landed = last_ok(rows, QuoteArrivalOutcome, outcome=True)
        if landed is not None:
            out.append(Transit(debt_of(batch), arrived(landed.outcome, batch), "in the wallet, not yet repaid"))
        elif asked is not None:
            out.append(Transit(quote, asked.intent.amount, "withdrawn from the exchange, not yet on chain"))
        elif sold.outcome.net_quote > 0:
            out.append(Transit(quote, sold.outcome.net_quote, "on the exchange, not yet withdrawn"))
    return tuple(out)


# ---- JSON -----------------------------------------------------------------------------------------------


def _s(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


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

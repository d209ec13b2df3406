"""The terminal view of past batches: one table (``delever history`` and the demo's report),
and one batch in detail (``delever history --batch ID``)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bot.engine.history import BatchSummary, plain, when


def _usd(value: Decimal | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def _hf(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _legs(b: BatchSummary) -> str:
    """The leg an open batch is at, the first that did not finish, or the slowest."""
    if b.at_step is not None:
        return f"at {b.at_step}"
    stuck = next((leg for leg in b.legs if leg.status.value not in ("OK", "SKIPPED")), None)
    if stuck is not None:
        return f"{stuck.step} {stuck.status.value}"
    if not b.legs_s:
        return "—"
    step, seconds = max(b.legs_s.items(), key=lambda kv: kv[1])
    return f"{step} {seconds:.1f}s"


def batch_table(
    batches: Sequence[BatchSummary], *, title: str = "Batches (from the journal)", started: bool = True
) -> Table:
    """One row per batch; ``started=False`` leaves out the wall-clock start (the demo shows
    market time instead)."""
    first = batches[0] if batches else None
    collateral = first.collateral if first else "collateral"
    market = next((b.fill.market for b in batches if b.fill is not None), None)
    sold = f"{market.partition('/')[0]} sold" if market else "sold"
    debt = first.debt if first else "debt"
    table = Table(title=title, title_justify="left")
    columns = (
        "#",
        *(("started (UTC)",) if started else ()),
        "status",
        f"{collateral} out",
        sold,
        "avg price",
        f"{debt} repaid",
        "HF before→after",
        "took",
        "slowest leg",
    )
    for name in columns:
        left = name in ("status", "slowest leg", "started (UTC)")
        table.add_column(name, justify="left" if left else "right", no_wrap=True)
    for b in batches:
        if not b.moved and b.status.value != "OPEN":
            row = ("no-op", "0", "0", "—", "0", f"{_hf(b.hf_before)}→—", f"{b.duration_s:.1f} s", "withdraw skipped")
            table.add_row(str(b.seq), *((when(b.started_at),) if started else ()), *row)
            continue
        table.add_row(
            str(b.seq),
            *((when(b.started_at),) if started else ()),
            b.status.value,
            f"{b.withdrawn:,.4f}",
            f"{b.sold:,.4f}",
            _usd(b.avg_price),
            f"{b.repaid:,.2f}",
            f"{_hf(b.hf_before)}→{_hf(b.hf_after)}",
            f"{b.duration_s:.1f} s",
            _legs(b),
        )
    if not batches:
        table.add_row("—", *(("",) if started else ()), "no batch", *[""] * 7)
    return table


def batch_detail(b: BatchSummary) -> Group:
    """One batch: what it was asked, every leg with its state and what it did, the sale, the
    withdrawal and what it cost."""
    head = Text()
    head.append(f"batch {b.id}", style="bold")
    took = f"{b.duration_s:.1f} s" + (f" so far, at {b.at_step}" if b.at_step else "")
    head.append(f" {b.status.value} · started {when(b.started_at)} UTC · {took}")
    head.append(f" · HF {_hf(b.hf_before)} → {_hf(b.hf_after)}")
    if b.verified is not None:
        head.append(" (verified)" if b.verified else " (verify FAILED)", style="green" if b.verified else "bold red")
    lines: list[Text | Table] = [head]
    if b.note:
        lines.append(Text(f"why: {b.note}"))
    if b.reason:
        lines.append(Text(f"stopped: {b.reason}", style="red"))
    legs = Table(show_header=True, header_style="bold", box=None)
    for name in ("leg", "state", "started (UTC)", "took", "tries", "what happened"):
        legs.add_column(name, justify="right" if name in ("took", "tries") else "left", overflow="fold")
    for leg in b.legs:
        legs.add_row(
            leg.step, leg.status.value, when(leg.started_at), f"{leg.seconds:.1f} s", str(leg.attempts), leg.detail
        )
    lines.append(legs)
    summary = Text()
    summary.append(f"withdrawn {plain(b.withdrawn)} {b.collateral} · repaid {plain(b.repaid)} {b.debt}\n")
    if b.fill is not None:
        f = b.fill
        base, _, quote = f.market.partition("/")
        summary.append(
            f"fill: {plain(f.filled)} of {plain(f.requested)} {base} at avg {_usd(f.avg_price)} (floor {plain(f.floor_price)}, "
            f"mid {plain(f.mid)}); gross {plain(f.gross_quote)}, fee {plain(f.fee_quote)}, net {plain(f.net_quote)} {quote}; "
            f"order {', '.join(f.order_ids) or '—'}\n"
        )
    if b.withdrawal is not None:
        w = b.withdrawal
        arrived = "not yet" if w.arrived is None else f"{plain(w.arrived)} {w.coin}"
        summary.append(
            f"withdrawal {w.id}: {plain(w.amount)} {w.coin}, fee {plain(w.fee)}, {w.state}, tx {w.txid or '—'}; "
            f"arrived {arrived}\n"
        )
    if b.costs is not None:
        c = b.costs
        summary.append(
            f"costs: gas {plain(c.gas_eth)} ETH · trading fee {plain(c.trading_fee_quote)} · withdrawal fee "
            f"{plain(c.withdrawal_fee_quote)} · deposit fee {plain(c.deposit_fee_base)} · "
            f"below the mid {plain(c.slippage_quote)}"
        )
    lines.append(summary)
    return Group(*lines)

"""The terminal view of a plan: a rich table, one row per batch, then the totals and notes."""

from __future__ import annotations

from decimal import Decimal
from typing import IO

from rich.console import Console
from rich.table import Table

from bot.engine.plan_types import Plan


def _hf(value: Decimal | None) -> str:
    return "∞" if value is None else f"{value:.4f}"


def _num(value: Decimal | None, places: int = 2) -> str:
    return "—" if value is None else f"{value:,.{places}f}"


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def render_plan(plan: Plan, *, file: IO[str]) -> None:
    # Piped output keeps full rows (a terminal gets its own width).
    width = None if getattr(file, "isatty", lambda: False)() else 200
    console = Console(file=file, highlight=False, soft_wrap=False, width=width)
    target = "repay all" if plan.target_hf is None else f"{plan.target_hf}"
    console.print(
        f"[bold]HF {_hf(plan.health_factor)}[/] → target {target} → planned {_hf(plan.final_health_factor)}"
        f"   floor {plan.hf_floor} at a {plan.shock_bps / 100:.2f} % shock   \\[{plan.status.value}]"
    )
    if plan.shock_source:
        console.print(f"shock {plan.shock_bps} bps: {plan.shock_source}", markup=False)
    if plan.reason:
        console.print(f"why: {plan.reason}")
    if plan.batches:
        table = Table(show_lines=False, header_style="bold")
        for col in (
            "#",
            "kind",
            f"withdraw {plan.collateral}",
            "exp. price",
            "worst",
            "floor px",
            "slip bps",
            f"repay {plan.debt}",
            "HF mid",
            "HF mid shocked",
            "HF after",
            "fees",
            "gas $",
            "time",
            "sized by",
        ):
            table.add_column(col, justify="left" if col in ("kind", "sized by") else "right")
        for b in plan.batches:
            table.add_row(
                str(b.index),
                f"{b.kind} (repay first)" if b.kind == "unwind" and b.order == "repay_first" else b.kind,
                _num(b.withdraw_amount, 4),
                _num(b.expected_price),
                _num(b.worst_price),
                _num(b.floor_price),
                _num(b.slippage_bps),
                _num(b.repay_amount) + (" (all)" if b.repay_all else ""),
                _hf(b.hf_after_withdraw),
                _hf(Decimal(b.hf_after_withdraw_shocked_wad) / Decimal(10**18)),
                _hf(b.hf_after_repay),
                _num(b.fee_quote),
                _num(b.gas_usd),
                _duration(b.duration_s),
                b.limited_by,
            )
        console.print(table)
        t = plan.totals
        sold = Decimal(t.withdraw_units).scaleb(-plan.collateral_decimals)
        console.print(
            f"total: sell {_num(sold, 4)} {plan.collateral} at ≈ {_num(t.avg_price)}, repay "
            f"{_num(Decimal(t.repay_units).scaleb(-plan.debt_decimals))} {plan.debt}; fees {_num(t.fees_quote)}, "
            f"gas ${_num(t.gas_usd)}, ≈ {_duration(t.duration_s)}"
        )
    console.print(f"stop: {plan.stop_reason}   book: {plan.book_source}")
    for note in plan.notes:
        console.print(f"note: {note}")
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/] {warning}")

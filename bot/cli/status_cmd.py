"""`delever status`: the position, its health factor and liquidation prices.

One Multicall3 read at one block (plus, read-only, the daemon's journal: the batch in progress and the
funds in transit), from the config (``--config`` or ``DELEVER_CONFIG``) or, without
one, from the local devnet's state file. Decimals are printed as strings in ``--json``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import typer

from bot.cli.common import EXIT_RUNTIME, fail, print_json
from bot.domain import Snapshot, account_data, from_units, liquidation_price_base
from bot.domain.position import PERCENTAGE_FACTOR, base_to_usd, collateral_base, debt_base


def status_payload(snapshot: Snapshot) -> dict[str, Any]:
    """The ``status --json`` object for a snapshot (pure: no I/O)."""
    position = snapshot.position
    account = account_data(position)
    hf = account.health_factor
    collateral = []
    for r in (r for r in position.reserves if r.collateral > 0):
        price = base_to_usd(r.price, position.base_unit)
        liq_base = liquidation_price_base(position, r.symbol)
        liq = base_to_usd(liq_base, position.base_unit) if liq_base is not None else None
        collateral.append(
            {
                "symbol": r.symbol,
                "amount": _plain(from_units(r.collateral, r.decimals)),
                "price_usd": str(price),
                "value_usd": str(base_to_usd(collateral_base(r, position.rounding), position.base_unit)),
                "liquidation_threshold": str(Decimal(r.liquidation_threshold_bps) / PERCENTAGE_FACTOR),
                "liquidation_price_usd": None if liq is None else str(liq),
                "distance_to_liquidation_pct": None if liq is None else str(_pct(1 - liq / price)),
                "collateral_enabled": r.counts_as_collateral,  # supplied but not collateral: no effect on HF
            }
        )
    debt = [
        {
            "symbol": r.symbol,
            "amount": _plain(from_units(r.debt, r.decimals)),
            "price_usd": str(base_to_usd(r.price, position.base_unit)),
            "value_usd": str(base_to_usd(debt_base(r, position.rounding), position.base_unit)),
        }
        for r in position.debts
    ]
    return {
        "block": snapshot.block,
        "timestamp": snapshot.timestamp,
        "chain_id": snapshot.chain_id,
        "wallet": snapshot.wallet,
        "health_factor": None if hf is None else str(hf),
        # How far all collateral prices may fall together before HF reaches 1: 1 − 1/HF.
        "distance_to_liquidation_pct": None if hf is None else str(_pct(1 - 1 / hf)),
        "total_collateral_usd": str(base_to_usd(account.total_collateral_base, position.base_unit)),
        "total_debt_usd": str(base_to_usd(account.total_debt_base, position.base_unit)),
        "collateral": collateral,
        "debt": debt,
        "wallet_balances": {
            symbol: _plain(from_units(amount, 18 if symbol == "ETH" else position.reserve(symbol).decimals))
            for symbol, amount in snapshot.wallet_balances.items()
            if symbol == "ETH" or position.has(symbol)
        },
    }


def status_json(settings: Any) -> dict[str, Any]:
    """The whole ``status --json`` object for ``settings`` (the console's ``/api/status`` too):
    one chain read, and the daemon's journal read-only. ``AdapterUnavailable`` when the RPC fails."""
    from bot.compose.live import read_activity, read_position

    read = read_position(settings)
    payload = status_payload(read.snapshot)
    payload["matches_chain"] = read.matches_chain
    payload.update(activity_payload(read_activity(settings)))
    return payload


def activity_payload(activity: Any) -> dict[str, Any]:
    """The ``status --json`` fields read from the daemon's journal (a ``DaemonActivity`` or
    None when the daemon has no journal yet): the batch in progress and the funds in transit."""
    from bot.engine.history import progress_json, transit_json

    if activity is None:
        return {"journal": None, "batch_in_progress": None, "in_transit": []}
    current = activity.progress
    return {
        "journal": {"path": str(activity.journal), "control": activity.control, "reason": activity.control_reason},
        "batch_in_progress": None if current is None else progress_json(current),
        "in_transit": [] if current is None else transit_json(current.in_transit),
    }


def _plain(value: Decimal) -> str:
    return format(value, "f")


def _pct(fraction: Decimal) -> Decimal:
    return (fraction * 100).quantize(Decimal("0.01"))


def _render(payload: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    hf = payload["health_factor"]
    hf_text = "∞ (no debt)" if hf is None else f"{Decimal(hf):.4f}"
    console.print(
        f"[bold]Aave v3 position[/bold] {payload['wallet']} · chain {payload['chain_id']} · block {payload['block']}"
    )
    distance = payload["distance_to_liquidation_pct"]
    console.print(
        f"Health factor [bold]{hf_text}[/bold]"
        + (f" · collateral may fall {distance}% before liquidation" if distance is not None else "")
    )
    console.print(f"Collateral ${_money(payload['total_collateral_usd'])} · debt ${_money(payload['total_debt_usd'])}")
    _render_activity(console, payload)
    table = Table(title="Collateral")
    for column in ("asset", "amount", "price", "value", "LT", "liquidation price", "distance"):
        table.add_column(column, justify="left" if column == "asset" else "right")
    for c in payload["collateral"]:
        liq = c["liquidation_price_usd"]
        name = c["symbol"] if c["collateral_enabled"] else f"{c['symbol']} (not collateral)"
        table.add_row(
            name,
            _amount(c["amount"]),
            f"${_money(c['price_usd'])}",
            f"${_money(c['value_usd'])}",
            f"{Decimal(c['liquidation_threshold']) * 100:.2f}%",
            "—" if liq is None else f"${_money(liq)}",
            "—" if c["distance_to_liquidation_pct"] is None else f"{c['distance_to_liquidation_pct']}%",
        )
    console.print(table)
    if payload["debt"]:
        debts = Table(title="Debt")
        for column in ("asset", "amount", "price", "value"):
            debts.add_column(column, justify="left" if column == "asset" else "right")
        for d in payload["debt"]:
            debts.add_row(d["symbol"], _amount(d["amount"]), f"${_money(d['price_usd'])}", f"${_money(d['value_usd'])}")
        console.print(debts)


def _render_activity(console: Any, payload: dict[str, Any]) -> None:
    from bot.engine.history import when

    journal = payload.get("journal")
    if journal is None:
        console.print("Daemon: no journal yet (no batch has run)")
        return
    current = payload["batch_in_progress"]
    control = "" if journal["control"] == "NORMAL" else f" · [bold red]{journal['control']}[/] ({journal['reason']})"
    if current is None:
        console.print(f"Daemon: no batch in progress{control}")
        return
    console.print(
        f"Daemon: [bold magenta]batch {current['batch_id']} in progress[/]: {current['doing']} "
        f"since {when(current['since'])} UTC{control}"
    )
    for item in payload["in_transit"]:
        console.print(f"  in transit: {_amount(item['amount'])} {item['asset']} {item['where']}")


def _money(value: str) -> str:
    return f"{Decimal(value):,.2f}"


def _amount(value: str) -> str:
    return f"{Decimal(value):,.6f}".rstrip("0").rstrip(".")


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        ctx: typer.Context,
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        """HF, collateral and debt per reserve with USD values, liquidation prices, the daemon's
        batch in progress and funds in transit."""
        from bot.compose.adapters import AdapterUnavailable
        from bot.settings import load_settings_or_devnet

        # A config (--config or DELEVER_CONFIG), or else the running devnet's state file.
        settings = load_settings_or_devnet(ctx.obj.config_path if ctx.obj else None)
        try:
            payload = status_json(settings)
        except AdapterUnavailable as e:
            fail(str(e), EXIT_RUNTIME)
        if not payload["matches_chain"]:
            typer.echo(
                f"delever: warning: computed account data differ from Pool.getUserAccountData at block "
                f"{payload['block']} (is chain.rounding = {settings.chain.rounding!r} right?)",
                err=True,
            )
        if json_out:
            print_json(payload)
        else:
            _render(payload)

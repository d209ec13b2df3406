"""`delever status`: the position, its health factor and liquidation prices."""

from __future__ import annotations

import typer

from bot.cli.common import not_built


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout.")) -> None:
        """HF, collateral and debt per reserve with USD values, liquidation prices."""
        not_built("status")

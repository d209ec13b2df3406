"""`delever plan`: the dry-run deleveraging plan from the live state."""

from __future__ import annotations

import typer

from bot.cli.common import not_built


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
        target_hf: str = typer.Option(None, "--target-hf", help="Override the policy's target HF."),
    ) -> None:
        """One row per batch: amounts, expected and worst fill, slippage, HF after each leg."""
        not_built("plan")

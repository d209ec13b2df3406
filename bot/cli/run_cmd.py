"""`delever run`: the daemon."""

from __future__ import annotations

import typer

from bot.cli.common import not_built


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        once: bool = typer.Option(False, "--once", help="Evaluate once, execute what the plan asks now, exit."),
        live: bool = typer.Option(False, "--live", help="Required, with mode = \"live\" in the config, to trade live."),
    ) -> None:
        """Watch the health factor and deleverage per the configured policy."""
        not_built("run")

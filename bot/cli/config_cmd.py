"""`delever config check`: validate a config and print it with secrets masked."""

from __future__ import annotations

import typer

from bot.cli.common import not_built


def register(app: typer.Typer) -> None:
    config = typer.Typer(help="Configuration.", no_args_is_help=True)
    app.add_typer(config, name="config")

    @config.command("check")
    def check(ctx: typer.Context) -> None:
        """Validate the config (--config or DELEVER_CONFIG) and print it with every secret masked."""
        not_built("config check")

"""`delever demo`: what `make demo` runs."""

from __future__ import annotations

import typer

from bot.cli.common import not_built


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo() -> None:
        """Devnet up, replay a real ETH crash, run the daemon, show what happened."""
        not_built("demo")

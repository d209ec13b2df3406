"""`delever devnet ...`: the local anvil chain with Aave v3 and the exchange emulator."""

from __future__ import annotations

import typer

from bot.cli.common import not_built


def register(app: typer.Typer) -> None:
    devnet = typer.Typer(help="Local devnet: anvil + Aave v3 + exchange emulator.", no_args_is_help=True)
    app.add_typer(devnet, name="devnet")

    @devnet.command("up")
    def up(json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout.")) -> None:
        """Start anvil, deploy Aave v3, start the exchange emulator, open a leveraged position."""
        not_built("devnet up")

    @devnet.command("down")
    def down() -> None:
        """Stop everything `devnet up` started."""
        not_built("devnet down")

    @devnet.command("status")
    def status() -> None:
        """Is the devnet running, and where."""
        not_built("devnet status")

    @devnet.command("set-price")
    def set_price(symbol: str, usd: str) -> None:
        """Move an oracle price feed (and the emulator's reference price)."""
        not_built("devnet set-price")

    @devnet.command("advance")
    def advance(duration: str) -> None:
        """Move chain time forward (e.g. 1h, 30d); interest accrues."""
        not_built("devnet advance")

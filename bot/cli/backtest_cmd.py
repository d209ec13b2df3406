"""`delever backtest`: policies against historical prices."""

from __future__ import annotations

import typer

from bot.cli.common import not_built


def register(app: typer.Typer) -> None:
    @app.command("backtest")
    def backtest(
        prices: str = typer.Option(None, "--prices", help="Candles CSV (timestamp,open,high,low,close,volume)."),
        pair: str = typer.Option(None, "--pair", help="Pair to load from the data cache, e.g. ETH/USDT."),
        since: str = typer.Option(None, "--since", help="Start date (YYYY-MM-DD) with --pair."),
        until: str = typer.Option(None, "--until", help="End date (YYYY-MM-DD) with --pair."),
        policy: str = typer.Option("threshold", "--policy", help="Policy name or file path."),
        set_: list[str] = typer.Option([], "--set", help="Policy/model parameter key=value (key=a,b,c sweeps)."),
        collateral: str = typer.Option("100", "--collateral", help="Units of collateral."),
        start_hf: str = typer.Option("1.45", "--start-hf", help="Debt is sized so HF starts here."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
        report: str = typer.Option(None, "--report", help="Write an HTML report with charts to this folder."),
    ) -> None:
        """Replay policies and baselines over candles, with market impact and Aave liquidations."""
        not_built("backtest")

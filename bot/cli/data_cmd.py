"""`delever download-data`: candles through ccxt into the local cache."""

from __future__ import annotations

import typer

from bot.cli.common import not_built


def register(app: typer.Typer) -> None:
    @app.command("download-data")
    def download_data(
        exchange: str = typer.Option("binance", "--exchange", help="ccxt exchange id."),
        pair: str = typer.Option(..., "--pair", help="e.g. ETH/USDT"),
        timeframe: str = typer.Option("1m", "--timeframe", help="e.g. 1m, 5m, 1h"),
        since: str = typer.Option(..., "--since", help="YYYY-MM-DD"),
        until: str = typer.Option(None, "--until", help="YYYY-MM-DD (default: now)"),
    ) -> None:
        """Fetch OHLCV candles with ccxt into the cache, resuming where it stopped."""
        not_built("download-data")

"""`delever download-data`: candles through ccxt into the local cache."""

from __future__ import annotations

import time

import typer

from bot.cli.common import EXIT_RUNTIME, EXIT_USER, fail, print_json
from bot.errors import Retryable, UserInputError


def register(app: typer.Typer) -> None:
    @app.command("download-data")
    def download_data(
        exchange: str = typer.Option("binance", "--exchange", help="ccxt exchange id."),
        pair: str = typer.Option(..., "--pair", help="e.g. ETH/USDT"),
        timeframe: str = typer.Option("1m", "--timeframe", help="e.g. 1m, 5m, 1h"),
        since: str = typer.Option(..., "--since", help="YYYY-MM-DD"),
        until: str = typer.Option(None, "--until", help="YYYY-MM-DD (default: now)"),
        api_url: str = typer.Option(
            None,
            "--api-url",
            envvar="DELEVER_DATA_API_URL",
            help="Send the exchange's requests to this base URL instead (mirror, test server).",
        ),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        """Fetch OHLCV candles with ccxt into the cache, resuming where it stopped."""
        from bot.backtest import data
        from bot.backtest.download import download, make_client

        try:
            lo = data.parse_date(since)
            hi = data.parse_date(until) if until else int(time.time())
            client = make_client(exchange, api_url=api_url)
            result = download(
                client,
                exchange_id=exchange,
                pair=pair.upper(),
                timeframe=timeframe,
                since_s=lo,
                until_s=hi,
                progress=not json_out,
            )
        except UserInputError as exc:
            fail(str(exc), EXIT_USER)
        except Retryable as exc:
            fail(str(exc), EXIT_RUNTIME)
        payload = {
            "path": str(result.path),
            "fetched": result.fetched,
            "first": data.iso(result.first) if result.first is not None else None,
            "last": data.iso(result.last) if result.last is not None else None,
            "resumed_from": data.iso(result.resumed_from) if result.resumed_from is not None else None,
        }
        if json_out:
            print_json(payload)
        else:
            typer.echo(f"{result.fetched} candles → {result.path} (cache now {payload['first']} … {payload['last']})")

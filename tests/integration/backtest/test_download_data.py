"""`delever download-data` against a local Binance-style klines server: the unmodified ccxt
client (URL table re-hosted), resume after an interruption, and the cache content."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from bot.backtest.data import cache_path, load_csv
from bot.backtest.download import download, make_client
from bot.cli import app
from bot.errors import Retryable

pytestmark = pytest.mark.integration

START = 1_767_225_600  # 2026-01-01 00:00 UTC
MINUTES = 2_500  # three pages of 1,000


def candle(ts: int) -> list:
    k = (ts - START) // 60
    o = 3000 + (k % 97) * 0.5
    c = o + ((k * 7) % 11 - 5) * 0.25
    return [
        ts * 1000,
        f"{o:.2f}",
        f"{max(o, c) + 1:.2f}",
        f"{min(o, c) - 1:.2f}",
        f"{c:.2f}",
        f"{k % 13 + 0.5:.4f}",
        ts * 1000 + 59_999,
        "0",
        10,
        "0",
        "0",
        "0",
    ]


EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": START * 1000,
    "rateLimits": [],
    "symbols": [
        {
            "symbol": "ETHUSDT",
            "status": "TRADING",
            "baseAsset": "ETH",
            "baseAssetPrecision": 8,
            "quoteAsset": "USDT",
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"],
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "permissions": ["SPOT"],
            "permissionSets": [["SPOT"]],
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
                {"filterType": "LOT_SIZE", "minQty": "0.0001", "maxQty": "9000", "stepSize": "0.0001"},
            ],
        }
    ],
}


class KlineServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.fail_after: int | None = None  # klines requests served before failing with HTTP 500
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                url = urlsplit(self.path)
                if url.path == "/api/v3/exchangeInfo":
                    return self._send(200, EXCHANGE_INFO)
                if url.path != "/api/v3/klines":
                    return self._send(404, {"code": -1, "msg": "not found"})
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                served = sum(1 for r in server.requests if r.get("ok") == "1")
                if server.fail_after is not None and served >= server.fail_after:
                    server.requests.append({**q, "ok": "0"})
                    return self._send(500, {"code": -1000, "msg": "boom"})
                server.requests.append({**q, "ok": "1"})
                start = int(q["startTime"]) // 1000
                limit = int(q.get("limit", 500))
                rows = [candle(t) for t in range(start, min(start + 60 * limit, START + 60 * MINUTES), 60)]
                return self._send(200, rows)

            def _send(self, status: int, body: object) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> KlineServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server():
    with KlineServer() as s:
        yield s


def test_download_interrupted_then_resumed_fills_cache_exactly(server, tmp_path, monkeypatch):
    monkeypatch.setenv("DELEVER_DATA_DIR", str(tmp_path))
    server.fail_after = 2  # two pages land, then the exchange fails
    client = make_client("binance", api_url=server.url)
    with pytest.raises(Retryable):
        download(
            client,
            exchange_id="binance",
            pair="ETH/USDT",
            timeframe="1m",
            since_s=START,
            until_s=START + 60 * MINUTES,
            progress=False,
        )
    path = cache_path("binance", "ETH/USDT", "1m")
    partial = load_csv(path)
    assert len(partial) == 2_000
    assert int(partial.timestamp[-1]) == START + 60 * 1_999

    server.fail_after = None
    result = CliRunner().invoke(
        app,
        [
            "download-data",
            "--exchange",
            "binance",
            "--pair",
            "ETH/USDT",
            "--timeframe",
            "1m",
            "--since",
            "2026-01-01",
            "--until",
            "2026-01-03",
            "--api-url",
            server.url,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["fetched"] == MINUTES - 2_000
    assert out["resumed_from"] == "2026-01-02T09:20:00Z"
    served = [r for r in server.requests if r["ok"] == "1"]
    assert int(served[2]["startTime"]) == (START + 60 * 2_000) * 1000  # resumed right after the last candle

    full = load_csv(path)
    assert len(full) == MINUTES
    assert list(full.timestamp) == list(range(START, START + 60 * MINUTES, 60))
    expected = [candle(t) for t in range(START, START + 60 * MINUTES, 60)]
    assert [f"{x:.2f}" for x in full.close] == [row[4] for row in expected]
    assert [f"{x:.4f}" for x in full.volume] == [row[5] for row in expected]


def test_download_again_fetches_nothing_new(server, tmp_path, monkeypatch):
    monkeypatch.setenv("DELEVER_DATA_DIR", str(tmp_path))
    client = make_client("binance", api_url=server.url)
    first = download(
        client,
        exchange_id="binance",
        pair="ETH/USDT",
        timeframe="1m",
        since_s=START,
        until_s=START + 60 * 1_500,
        progress=False,
    )
    again = download(
        client,
        exchange_id="binance",
        pair="ETH/USDT",
        timeframe="1m",
        since_s=START,
        until_s=START + 60 * 1_500,
        progress=False,
    )
    assert (first.fetched, again.fetched) == (1_500, 0)
    assert len(load_csv(first.path)) == 1_500


def test_backtest_reads_downloaded_cache_by_pair(server, tmp_path, monkeypatch):
    monkeypatch.setenv("DELEVER_DATA_DIR", str(tmp_path))
    client = make_client("binance", api_url=server.url)
    download(
        client,
        exchange_id="binance",
        pair="ETH/USDT",
        timeframe="1m",
        since_s=START,
        until_s=START + 60 * MINUTES,
        progress=False,
    )
    result = CliRunner().invoke(
        app, ["backtest", "--pair", "ETH/USDT", "--since", "2026-01-01T01:00", "--until", "2026-01-02T01:00", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["start"], out["bars"]) == ("2026-01-01T01:00:00Z", 1_440)


def test_download_unknown_exchange_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("DELEVER_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(
        app,
        [
            "download-data",
            "--exchange",
            "nosuchexchange",
            "--pair",
            "ETH/USDT",
            "--since",
            "2026-01-01",
            "--until",
            "2026-01-02",
        ],
    )
    assert result.exit_code == 2

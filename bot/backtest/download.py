"""``delever download-data``: OHLCV candles through ccxt ``fetch_ohlcv`` into the local cache.

One CSV per exchange/pair/timeframe (``data.cache_path``), in the shipped-slice format
(timestamp in seconds). Each page is appended in a single write and fsynced, so an
interruption loses at most the page in flight; the next run reads the last cached candle and
resumes right after it. Reads are retried (tenacity) on network errors and rate limits; what
still fails is reported as ``Retryable`` with the position reached.

``api_url`` points every entry of the client's URL table at another host (scheme and host
replaced, paths kept): a local server in tests, a mirror or proxy in use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.backtest.data import TIMEFRAME_SECONDS, _first_last, cache_path, iso, write_rows
from bot.errors import Retryable, UserInputError

PAGE_LIMIT = 1_000


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    fetched: int  # candles written by this run
    first: int | None  # first and last candle open time in the cache (UNIX s)
    last: int | None
    resumed_from: int | None  # open time the run started from when a cache existed


def make_client(exchange_id: str, *, api_url: str | None = None, timeout_ms: int = 10_000) -> Any:
    import ccxt

    if exchange_id not in ccxt.exchanges:
        raise UserInputError(f"unknown ccxt exchange {exchange_id!r}")
    client = getattr(ccxt, exchange_id)(
        {
            "enableRateLimit": api_url is None,
            "timeout": timeout_ms,
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False, "fetchCurrencies": False},
        }
    )
    if api_url:
        client.urls["api"] = _rehost(client.urls.get("api"), api_url)
    if not client.has.get("fetchOHLCV"):
        raise UserInputError(f"{exchange_id} has no OHLCV history in ccxt")
    return client


def _rehost(table: Any, base: str) -> Any:
    new = urlsplit(base)
    if isinstance(table, str):
        old = urlsplit(table)
        return urlunsplit((new.scheme, new.netloc, new.path.rstrip("/") + old.path, old.query, old.fragment))
    if isinstance(table, dict):
        return {k: _rehost(v, base) for k, v in table.items()}
    return table


def download(
    client: Any,
    *,
    exchange_id: str,
    pair: str,
    timeframe: str,
    since_s: int,
    until_s: int,
    root: Path | None = None,
    progress: bool = True,
    page_limit: int = PAGE_LIMIT,
) -> DownloadResult:
    if timeframe not in TIMEFRAME_SECONDS:
        raise UserInputError(f"timeframe {timeframe!r} not supported (use one of {', '.join(TIMEFRAME_SECONDS)})")
    if until_s <= since_s:
        raise UserInputError("--until must be after --since")
    step = TIMEFRAME_SECONDS[timeframe]
    path = cache_path(exchange_id, pair, timeframe, root)
    span = _first_last(path) if path.exists() else None
    cursor = since_s - since_s % step
    resumed = None
    if span is not None:
        first, last = span
        if first > cursor:
            raise UserInputError(
                f"{path} starts at {iso(first)}, after --since {iso(cursor)}: move it away to download earlier candles"
            )
        cursor = max(cursor, last + step)
        resumed = cursor
    total = max(0, (until_s - cursor + step - 1) // step)
    fetched = 0
    bar = _progress(f"{exchange_id} {pair} {timeframe}", total) if progress and total else None
    try:
        _load_markets(client)
        while cursor < until_s:
            rows = _fetch(client, pair, timeframe, cursor * 1000, page_limit)
            page = [
                [int(r[0]) // 1000, *(float(x) for x in r[1:6])]
                for r in rows
                if r and int(r[0]) // 1000 >= cursor and int(r[0]) // 1000 < until_s
            ]
            if not page:
                break
            write_rows(path, page, append=True)
            fetched += len(page)
            cursor = int(page[-1][0]) + step
            if bar:
                bar[0].update(bar[1], completed=min(total, fetched))
    finally:
        if bar:
            bar[0].stop()
    span = _first_last(path) if path.exists() else None
    return DownloadResult(path, fetched, span[0] if span else None, span[1] if span else None, resumed)


def _load_markets(client: Any) -> None:
    _retrying(client.load_markets)


def _fetch(client: Any, pair: str, timeframe: str, since_ms: int, limit: int) -> list[list[Any]]:
    return _retrying(client.fetch_ohlcv, pair, timeframe, since=since_ms, limit=limit)


def _retrying(fn: Any, *args: Any, **kwargs: Any) -> Any:
    import ccxt
    from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

    wrapped = retry(
        retry=retry_if_exception_type((ccxt.NetworkError, ccxt.RateLimitExceeded)),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.2, max=2),
        reraise=True,
    )(fn)
    try:
        return wrapped(*args, **kwargs)
    except ccxt.BadSymbol as exc:
        raise UserInputError(f"unknown pair: {exc}") from None
    except ccxt.BaseError as exc:
        raise Retryable(f"download interrupted ({type(exc).__name__}); run again to resume") from None


def _progress(label: str, total: int) -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    progress = Progress(
        label, BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True
    )
    progress.start()
    return progress, progress.add_task(label, total=total)

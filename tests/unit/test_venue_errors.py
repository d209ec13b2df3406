"""ccxt exceptions → bot.errors, for reads and writes; client construction."""

from __future__ import annotations

import ccxt
import pytest

from bot.adapters.venue.client import build_binance_client, rebased_api_urls
from bot.adapters.venue.errors import DEFAULT_RATE_LIMIT_BACKOFF_S, retry_after_seconds, safe_message, translate
from bot.errors import Halt, OutcomeUnknown, RateLimited, Rejected, Retryable

WRITE_CASES = [
    (ccxt.RequestTimeout("t"), OutcomeUnknown),
    (ccxt.ExchangeNotAvailable("503"), OutcomeUnknown),
    (ccxt.OnMaintenance("maint"), OutcomeUnknown),
    (ccxt.NetworkError("reset"), OutcomeUnknown),
    (ccxt.OperationFailed('{"code":-1000}'), OutcomeUnknown),
    (ccxt.BadResponse("not json"), OutcomeUnknown),
    (ccxt.ExchangeError('{"code":-9999}'), OutcomeUnknown),
    (ccxt.DuplicateOrderId("Duplicate order sent."), OutcomeUnknown),
    (ccxt.InsufficientFunds("Account has insufficient balance for requested action."), Rejected),
    (ccxt.InvalidOrder("LOT_SIZE"), Rejected),
    (ccxt.BadRequest("Filter failure: NOTIONAL"), Rejected),
    (ccxt.BadSymbol("no market"), Rejected),
    (ccxt.InvalidAddress("bad"), Rejected),
    (ccxt.MarketClosed("closed"), Rejected),
    (ccxt.RateLimitExceeded("-1003"), RateLimited),
    (ccxt.DDoSProtection("429"), RateLimited),
    (ccxt.InvalidNonce("-1021"), Retryable),
    (ccxt.AuthenticationError("-1022"), Halt),
    (ccxt.PermissionDenied("-2015"), Halt),
]


@pytest.mark.parametrize(("exc", "expected"), WRITE_CASES, ids=[type(e).__name__ for e, _ in WRITE_CASES])
def test_translate_write_maps_by_what_caller_must_do(exc: Exception, expected: type) -> None:
    translated = translate(exc, write=True)
    assert type(translated) is expected


READ_CASES = [
    (ccxt.RequestTimeout("t"), Retryable),
    (ccxt.ExchangeNotAvailable("503"), Retryable),
    (ccxt.OperationFailed("-1000"), Retryable),
    (ccxt.ExchangeError("-9999"), Rejected),
    (ccxt.DDoSProtection("418"), RateLimited),
    (ccxt.AuthenticationError("key"), Halt),
]


@pytest.mark.parametrize(("exc", "expected"), READ_CASES, ids=[type(e).__name__ for e, _ in READ_CASES])
def test_translate_read_transient_is_retryable_else_final(exc: Exception, expected: type) -> None:
    assert type(translate(exc, write=False)) is expected


def test_translate_rejection_reason_names_the_filter() -> None:
    assert (
        translate(ccxt.BadRequest('{"code":-1013,"msg":"Filter failure: NOTIONAL"}'), write=True).reason
        == "min_notional"
    )
    assert translate(ccxt.InsufficientFunds("x"), write=True).reason == "insufficient_funds"
    assert translate(ccxt.InvalidOrder("Filter failure: LOT_SIZE"), write=True).reason == "lot_size"


def test_translate_rate_limit_carries_retry_after() -> None:
    assert translate(ccxt.DDoSProtection("429"), write=True, retry_after=7.0).retry_after == 7.0
    assert translate(ccxt.DDoSProtection("429"), write=True).retry_after == DEFAULT_RATE_LIMIT_BACKOFF_S


def test_retry_after_header_wins_over_backoff() -> None:
    assert retry_after_seconds({"Retry-After": "42"}) == 42.0
    assert retry_after_seconds({"retry-after": "3"}) == 3.0


def test_retry_after_without_header_backs_off_exponentially() -> None:
    assert retry_after_seconds(None, 0) == DEFAULT_RATE_LIMIT_BACKOFF_S
    assert retry_after_seconds({}, 2) == DEFAULT_RATE_LIMIT_BACKOFF_S * 4
    assert retry_after_seconds({"Retry-After": "soon"}, 1) == DEFAULT_RATE_LIMIT_BACKOFF_S * 2


def test_safe_message_blanks_signature_and_keys() -> None:
    exc = ccxt.RequestTimeout("binance GET http://h/api/v3/order?symbol=X&timestamp=1&signature=deadbeef apiKey=abc")
    text = safe_message(exc)
    assert "deadbeef" not in text and "abc" not in text
    assert text.startswith("RequestTimeout:")


def test_rebased_api_urls_keeps_paths_moves_every_host() -> None:
    urls = {
        "public": "https://api.binance.com/api/v3",
        "sapi": "https://api.binance.com/sapi/v1",
        "fapiPublic": "https://fapi.binance.com/fapi/v1",
        "nested": {"x": "https://x.binance.com/y"},
    }
    assert rebased_api_urls(urls, "http://127.0.0.1:8080/") == {
        "public": "http://127.0.0.1:8080/api/v3",
        "sapi": "http://127.0.0.1:8080/sapi/v1",
        "fapiPublic": "http://127.0.0.1:8080/fapi/v1",
        "nested": {"x": "http://127.0.0.1:8080/y"},
    }


def test_build_binance_client_points_everything_at_base_url_without_retries() -> None:
    client = build_binance_client(api_key="k", api_secret="s", api_url="http://127.0.0.1:9")
    assert all(url.startswith("http://127.0.0.1:9/") for url in client.urls["api"].values())
    assert client.options["maxRetriesOnFailure"] == 0
    assert client.options["fetchMargins"] is False
    assert client.options["fetchMarkets"]["types"] == ["spot"]
    assert client.verbose is False
    # the spot error table applies on a local URL too
    assert client.exceptions["exact"]["-4026"] is ccxt.InsufficientFunds


def test_build_binance_client_without_url_keeps_real_hosts() -> None:
    client = build_binance_client(api_key=None, api_secret=None)
    assert client.urls["api"]["public"] == "https://api.binance.com/api/v3"


def test_venue_refuses_a_verbose_client() -> None:
    from bot.adapters.venue import CcxtVenue
    from bot.errors import ConfigError

    client = build_binance_client(api_key="k", api_secret="s", api_url="http://127.0.0.1:9")
    client.verbose = True
    with pytest.raises(ConfigError):
        CcxtVenue(client)

"""Request authentication as Binance does it, and the fault book's bookkeeping."""

from __future__ import annotations

import pytest

from bot.devnet.exchange import signing
from bot.devnet.exchange.apierrors import ApiError
from bot.devnet.exchange.faults import Fault, Faults, RequestLog

SECRET = "s" * 64


def _signed(payload: str) -> bytes:
    return f"{payload}&signature={signing.sign(SECRET, payload)}".encode()


def test_signing_valid_request_returns_params_without_signature() -> None:
    params = signing.verify(_signed("timestamp=1000&symbol=ETHUSDT&recvWindow=10000"), SECRET, now_ms=1500)
    assert params == {"timestamp": "1000", "symbol": "ETHUSDT", "recvWindow": "10000"}


def test_signing_verifies_raw_bytes_even_when_unescaped() -> None:
    raw = "timestamp=1000&coin=USDT&name=a b+c&recvWindow=10000"  # ccxt's rawencode for withdraw/apply
    signing.verify(_signed(raw), SECRET, now_ms=1000)


def test_signing_splits_at_the_last_signature() -> None:
    payload = "timestamp=1000&note=x&signature=fake"
    signing.verify(_signed(payload), SECRET, now_ms=1000)


@pytest.mark.parametrize(
    ("raw", "now", "code"),
    [
        (b"timestamp=1000&signature=" + b"0" * 64, 1000, -1022),
        (b"timestamp=1000", 1000, -1102),
        (None, 1000 + 10_001, -1021),  # older than recvWindow
        (None, 1000 - 1_001, -1021),  # more than 1 s ahead of the server
    ],
)
def test_signing_rejections_use_binance_codes(raw: bytes | None, now: int, code: int) -> None:
    raw = raw or _signed("timestamp=1000&recvWindow=10000")
    with pytest.raises(ApiError) as error:
        signing.verify(raw, SECRET, now_ms=now)
    assert error.value.code == code


def test_signing_api_key_missing_malformed_or_unknown() -> None:
    known = {"A" * 64}.__contains__
    for header, code in ((None, -2014), ("bad key!", -2014), ("B" * 64, -2015)):
        with pytest.raises(ApiError) as error:
            signing.check_api_key(header, known)
        assert error.value.code == code
    assert signing.check_api_key("A" * 64, known) == "A" * 64


def test_faults_fire_n_times_for_matching_route_only() -> None:
    faults = Faults()
    faults.add(route="POST /api/v3/order", kind="status", status=503, times=2)
    assert faults.take("GET", "/api/v3/order") is None
    assert faults.take("POST", "/api/v3/order").kind == "status"
    assert faults.take("POST", "/api/v3/order").kind == "status"
    assert faults.take("POST", "/api/v3/order") is None and faults.list() == []


def test_faults_rate_limit_turns_into_ban_then_stops() -> None:
    faults = Faults()
    faults.add(route="* /api/v3/depth", kind="rate_limit", times=2, ban_times=1)
    kinds = [getattr(faults.take("GET", "/api/v3/depth"), "kind", None) for _ in range(4)]
    assert kinds == ["rate_limit", "rate_limit", "ban", None]


def test_faults_unlimited_until_cleared_and_bad_specs_refused() -> None:
    faults = Faults()
    faults.add(route="GET /api/v3/account", kind="delay", seconds=1, times=None)
    assert all(faults.take("GET", "/api/v3/account") for _ in range(5))
    faults.clear()
    assert faults.take("GET", "/api/v3/account") is None
    with pytest.raises(ValueError):
        Fault(route="POST /api/v3/order", kind="explode")
    with pytest.raises(ValueError):
        Fault(route="/api/v3/order", kind="status")


def test_request_log_drops_signature_and_filters() -> None:
    log = RequestLog(limit=3)
    for i in range(5):
        log.add("GET", "/api/v3/account", {"timestamp": str(i), "signature": "ab"}, 200)
    log.add("POST", "/api/v3/order", {"symbol": "ETHUSDT"}, 400)
    assert len(log.records()) == 3
    assert [r.params for r in log.records(path="/api/v3/account")] == [{"timestamp": "3"}, {"timestamp": "4"}]
    assert log.records(method="POST")[0].status == 400

"""Each injected fault reaches the bot as the ccxt exception real Binance would cause."""

from __future__ import annotations

import json
import time
import urllib.request

import ccxt
import pytest

from bot.devnet.exchange import EmulatorHandle
from tests.support.emulator import make_client

pytestmark = pytest.mark.integration

ORDER = "POST /api/v3/order"


def _ioc_sell(client: ccxt.binance, client_id: str, amount: float = 1.0) -> dict:
    return client.create_order(
        "ETH/USDT", "limit", "sell", amount, 2990, {"timeInForce": "IOC", "clientOrderId": client_id}
    )


def test_emulator_delay_past_timeout_is_request_timeout_and_order_still_executes(emulator: EmulatorHandle) -> None:
    client = make_client(emulator, timeout_ms=300)
    emulator.add_fault(ORDER, "delay", seconds=0.8)
    with pytest.raises(ccxt.RequestTimeout):
        _ioc_sell(client, "late-1")
    time.sleep(0.8)
    assert client.fetch_order(None, "ETH/USDT", {"clientOrderId": "late-1"})["status"] == "closed"


def test_emulator_delay_without_execution_leaves_no_order(emulator: EmulatorHandle) -> None:
    client = make_client(emulator, timeout_ms=300)
    emulator.add_fault(ORDER, "delay", seconds=0.5, execute=False)
    with pytest.raises(ccxt.RequestTimeout):
        _ioc_sell(client, "never-1")
    time.sleep(0.5)
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order(None, "ETH/USDT", {"clientOrderId": "never-1"})


def test_emulator_5xx_is_exchange_not_available_and_nothing_executes(
    emulator: EmulatorHandle, client: ccxt.binance
) -> None:
    emulator.add_fault(ORDER, "status", status=503)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        _ioc_sell(client, "svc-1")
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order(None, "ETH/USDT", {"clientOrderId": "svc-1"})
    assert _ioc_sell(client, "svc-1")["status"] == "closed"  # one-shot: the next one passes


def test_emulator_429_then_418_is_ddos_protection_with_retry_after(
    emulator: EmulatorHandle, client: ccxt.binance
) -> None:
    emulator.add_fault("GET /api/v3/account", "rate_limit", times=1, ban_times=1, retry_after=7)
    for _ in range(2):
        with pytest.raises(ccxt.DDoSProtection):
            client.fetch_balance()
    assert client.last_response_headers.get("Retry-After") == "7"
    assert [r.status for r in emulator.requests.records(path="/api/v3/account")] == [429, 418]
    assert client.fetch_balance()["ETH"]["total"] == 100.0


def test_emulator_lost_response_504_executes_and_is_found_by_client_id(
    emulator: EmulatorHandle, client: ccxt.binance
) -> None:
    emulator.add_fault(ORDER, "lost", how="504")
    with pytest.raises(ccxt.RequestTimeout):
        _ioc_sell(client, "lost-504")
    order = client.fetch_order(None, "ETH/USDT", {"clientOrderId": "lost-504"})
    assert order["status"] == "closed" and order["filled"] == 1.0
    assert client.fetch_balance()["ETH"]["total"] == 99.0


def test_emulator_lost_response_drop_executes_and_is_found_by_client_id(
    emulator: EmulatorHandle, client: ccxt.binance
) -> None:
    emulator.add_fault(ORDER, "lost", how="drop")
    with pytest.raises(ccxt.NetworkError):
        _ioc_sell(client, "lost-drop")
    assert client.fetch_order(None, "ETH/USDT", {"clientOrderId": "lost-drop"})["filled"] == 1.0


def test_emulator_lost_response_503_executes_yet_reads_as_exchange_not_available(
    emulator: EmulatorHandle, client: ccxt.binance
) -> None:
    emulator.add_fault(ORDER, "lost", how="503")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        _ioc_sell(client, "lost-503")
    assert client.fetch_order(None, "ETH/USDT", {"clientOrderId": "lost-503"})["status"] == "closed"


def test_emulator_resending_a_lost_ioc_id_creates_a_second_order(
    emulator: EmulatorHandle, client: ccxt.binance
) -> None:
    emulator.add_fault(ORDER, "lost", how="504")
    with pytest.raises(ccxt.RequestTimeout):
        _ioc_sell(client, "retry-me")
    _ioc_sell(client, "retry-me")  # the trap: a blind retry sells twice
    assert client.fetch_balance()["ETH"]["total"] == 98.0


def test_emulator_forced_partial_fill_expires_with_the_fraction(emulator: EmulatorHandle, client: ccxt.binance) -> None:
    emulator.add_fault(ORDER, "partial", fraction="0.3")
    order = _ioc_sell(client, "part-1", amount=2.0)
    assert order["status"] == "expired" and order["filled"] == 0.6 and order["remaining"] == pytest.approx(1.4)


def test_emulator_rejection_with_code_maps_like_binance(emulator: EmulatorHandle, client: ccxt.binance) -> None:
    emulator.add_fault(ORDER, "reject", code=-2010, msg="Account has insufficient balance for requested action.")
    with pytest.raises(ccxt.InsufficientFunds):
        _ioc_sell(client, "rej-1")
    emulator.add_fault(ORDER, "reject", code=-2010, msg="Order would immediately match and take.")
    with pytest.raises(ccxt.InvalidOrder):
        _ioc_sell(client, "rej-2")
    emulator.add_fault("GET /api/v3/order", "reject", code=-2013, msg="Order does not exist.")
    order = _ioc_sell(client, "rej-3")
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order(order["id"], "ETH/USDT")


def test_emulator_fault_fires_n_times_then_stops(emulator: EmulatorHandle, client: ccxt.binance) -> None:
    emulator.add_fault("GET /api/v3/depth", "status", status=502, times=2)
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            client.fetch_order_book("ETH/USDT")
    assert client.fetch_order_book("ETH/USDT")["bids"]
    assert emulator.faults.list() == []


def test_emulator_withdraw_insufficient_balance_is_insufficient_funds(client: ccxt.binance) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        client.withdraw("USDT", 1_000_000, "0x" + "22" * 20, params={"network": "ERC20", "withdrawOrderId": "w-big"})


def _admin(emulator: EmulatorHandle, method: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        emulator.url + "/_admin" + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_emulator_admin_http_sets_faults_price_depth_balance_and_lists_requests(
    emulator: EmulatorHandle, client: ccxt.binance
) -> None:
    _admin(emulator, "POST", "/faults", {"route": ORDER, "kind": "status", "status": 500})
    assert _admin(emulator, "GET", "/faults")[0]["kind"] == "status"
    with pytest.raises(ccxt.ExchangeNotAvailable):
        _ioc_sell(client, "adm-1")
    _admin(emulator, "POST", "/price", {"symbol": "ETHUSDT", "price": "2000"})
    _admin(emulator, "POST", "/depth", {"symbol": "ETHUSDT", "depth_usd_1pct": "1000000", "reset": True})
    book = client.fetch_order_book("ETH/USDT", 1000)
    assert 1990 < book["bids"][0][0] < 2000
    assert sum(p * q for p, q in book["bids"] if p >= 1980) == pytest.approx(1_000_000, rel=0.02)
    assert _admin(emulator, "POST", "/balance", {"asset": "USDT", "amount": "5", "mode": "set"})["free"] == "5"
    assert client.fetch_balance()["USDT"]["free"] == 5.0
    records = _admin(emulator, "GET", "/requests?path=/api/v3/order")
    assert records[-1]["status"] == 500 and records[-1]["fault"] == "status"
    assert "signature" not in records[-1]["params"]
    state = _admin(emulator, "GET", "/state")
    assert state["prices"]["ETHUSDT"] == "2000" and "api_secret" not in json.dumps(state)
    _admin(emulator, "DELETE", "/faults")
    assert _admin(emulator, "GET", "/faults") == []


def test_emulator_outage_takes_the_order_then_answers_503_everywhere_until_it_ends(
    emulator: EmulatorHandle, client: ccxt.binance
) -> None:
    emulator.add_fault(ORDER, "outage", seconds=1.5)
    with pytest.raises(ccxt.RequestTimeout):
        _ioc_sell(client, "outage-1")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        client.fetch_order(None, "ETH/USDT", {"clientOrderId": "outage-1"})
    with pytest.raises(ccxt.ExchangeNotAvailable):
        client.fetch_balance()
    time.sleep(1.6)
    order = client.fetch_order(None, "ETH/USDT", {"clientOrderId": "outage-1"})
    assert order["status"] == "closed" and order["filled"] == 1.0  # it executed before the outage
    assert client.fetch_balance()["ETH"]["total"] == 99.0

"""Every error body the emulator sends maps to the same ccxt exception against the local URL
and against Binance's production spot URL (ccxt picks its code table by URL)."""

from __future__ import annotations

import json

import ccxt
import pytest

BODIES = [
    (400, -1013, "Filter failure: NOTIONAL", ccxt.BadRequest),
    (400, -1013, "Filter failure: LOT_SIZE", ccxt.InvalidOrder),
    (400, -1013, "Filter failure: PRICE_FILTER", ccxt.InvalidOrder),
    (400, -1100, "Illegal characters found in parameter 'recvWindow'; legal range is '1-60000'.", ccxt.BadRequest),
    (400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.", ccxt.BadRequest),
    (400, -1111, "Precision is over the maximum defined for this asset.", ccxt.BadRequest),
    (400, -1115, "Invalid timeInForce.", ccxt.BadRequest),
    (400, -1116, "Invalid orderType.", ccxt.BadRequest),
    (400, -1117, "Invalid side.", ccxt.BadRequest),
    (400, -1121, "Invalid symbol.", ccxt.BadSymbol),
    (400, -2010, "Account has insufficient balance for requested action.", ccxt.InsufficientFunds),
    (400, -2010, "Duplicate order sent.", ccxt.InvalidOrder),
    (400, -2010, "Order would immediately match and take.", ccxt.OrderImmediatelyFillable),
    (400, -2011, "Unknown order sent.", ccxt.OrderNotFound),
    (400, -2013, "Order does not exist.", ccxt.OrderNotFound),
    (401, -2014, "API-key format invalid.", ccxt.AuthenticationError),
    (401, -2015, "Invalid API-key, IP, or permissions for action.", ccxt.AuthenticationError),
    (400, -1021, "Timestamp for this request is outside of the recvWindow.", ccxt.InvalidNonce),
    (400, -1022, "Signature for this request is not valid.", ccxt.AuthenticationError),
    (429, -1003, "Too many requests.", ccxt.DDoSProtection),
    (418, -1003, "Way too many requests.", ccxt.DDoSProtection),
    (500, -1000, "An unknown error occurred while processing the request.", ccxt.OperationFailed),
]
URLS = [
    "http://127.0.0.1:9/api/v3/order",
    "https://api.binance.com/api/v3/order",
    "http://127.0.0.1:9/sapi/v1/capital/withdraw/apply",
    "https://api.binance.com/sapi/v1/capital/withdraw/apply",
]


@pytest.mark.parametrize(("status", "code", "msg", "expected"), BODIES)
def test_emulator_error_maps_identically_locally_and_in_production(
    status: int, code: int, msg: str, expected: type
) -> None:
    client = ccxt.binance()
    body = json.dumps({"code": code, "msg": msg})
    raised = []
    for url in URLS:
        with pytest.raises(ccxt.BaseError) as error:
            client.handle_errors(status, "", url, "POST", {}, body, json.loads(body), {}, "")
        raised.append(type(error.value))
    assert raised == [expected] * len(URLS)

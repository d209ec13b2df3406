"""Binance request authentication: HMAC-SHA256 over the raw query or body, API key header,
timestamp inside the receive window."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from bot.devnet.exchange.apierrors import ApiError

SIGNATURE_SEP = b"&signature="
KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{1,128}$")
MAX_RECV_WINDOW = 60_000


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def split_signature(raw: bytes) -> tuple[bytes, str | None]:
    """(signed prefix, signature) split at the LAST ``&signature=`` (ccxt appends it last)."""
    if raw.startswith(b"signature="):
        return b"", raw[len(b"signature=") :].decode("latin-1")
    cut = raw.rfind(SIGNATURE_SEP)
    if cut < 0:
        return raw, None
    return raw[:cut], raw[cut + len(SIGNATURE_SEP) :].decode("latin-1")


def parse_params(raw: bytes) -> dict[str, str]:
    """Form/query parameters; the signature is removed. Last value wins, as Binance."""
    prefix, _ = split_signature(raw)
    return dict(parse_qsl(prefix.decode("utf-8", "replace"), keep_blank_values=True))


def check_api_key(header: str | None, known: Callable[[str], bool]) -> str:
    if not header or not KEY_FORMAT.match(header):
        raise ApiError(401, -2014, "API-key format invalid.")
    if not known(header):
        raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    return header


def verify(raw: bytes, secret: str, *, check_timestamp: bool = True, now_ms: int | None = None) -> dict[str, str]:
    """Check the signature and timestamp of a signed request; return its parameters."""
    prefix, signature = split_signature(raw)
    if not signature:
        raise ApiError(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    expected = hmac.new(secret.encode(), prefix, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise ApiError(400, -1022, "Signature for this request is not valid.")
    params = dict(parse_qsl(prefix.decode("utf-8", "replace"), keep_blank_values=True))
    raw_ts = params.get("timestamp")
    if not raw_ts:
        raise ApiError(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    if check_timestamp:
        try:
            timestamp = int(raw_ts)
            recv_window = int(float(params.get("recvWindow") or 5000))
        except ValueError:
            raise ApiError(400, -1100, "Illegal characters found in parameter 'timestamp'.") from None
        if recv_window > MAX_RECV_WINDOW or recv_window <= 0:
            # Binance says -1131 here, which ccxt maps differently for a local URL: keep -1100
            raise ApiError(400, -1100, "Illegal characters found in parameter 'recvWindow'; legal range is '1-60000'.")
        server = now_ms if now_ms is not None else int(time.time() * 1000)
        if timestamp > server + 1000 or server - timestamp > recv_window:
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    return params

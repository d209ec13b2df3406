"""Deterministic exchange-side ids derived from a journal step key.

Binance accepts client order ids and withdrawOrderIds matching ``^[a-zA-Z0-9-_]{1,36}$``.
The same key always gives the same ids, so after a crash or a lost response the adapter
can find what it may already have sent. Ids carry no secret and no raw key text (keys may
hold characters outside the allowed set, and their length is unbounded).
"""

from __future__ import annotations

import hashlib
import re

ID_PATTERN = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")
_DIGEST_CHARS = 24  # 96 bits of sha256: collisions between keys are not a practical concern
MAX_ATTEMPT = 99_999  # keeps the longest order id at 4 + 24 + 1 + 5 = 34 characters


def _digest(key: str) -> str:
    if not key:
        raise ValueError("an idempotency key must not be empty")
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]


def client_order_id(key: str, attempt: int) -> str:
    """Client order id of the ``attempt``-th order (0-based) placed for step ``key``."""
    if not 0 <= attempt <= MAX_ATTEMPT:
        raise ValueError(f"attempt must be in [0, {MAX_ATTEMPT}], got {attempt}")
    cid = f"dlo-{_digest(key)}-{attempt}"
    assert ID_PATTERN.match(cid)
    return cid


WITHDRAW_ID_PREFIX = "dlw-"  # every withdrawOrderId this bot makes starts with it


def withdraw_order_id(key: str) -> str:
    """withdrawOrderId of the single withdrawal made for step ``key``."""
    wid = f"{WITHDRAW_ID_PREFIX}{_digest(key)}"
    assert ID_PATTERN.match(wid)
    return wid

"""Deterministic client order ids and withdrawOrderIds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.venue.ids import ID_PATTERN, MAX_ATTEMPT, client_order_id, withdraw_order_id


@given(key=st.text(min_size=1, max_size=500), attempt=st.integers(0, MAX_ATTEMPT))
def test_client_order_id_any_key_matches_binance_pattern(key: str, attempt: int) -> None:
    cid = client_order_id(key, attempt)
    assert ID_PATTERN.match(cid)
    assert len(cid) <= 36


@given(key=st.text(min_size=1, max_size=500))
def test_withdraw_order_id_any_key_matches_binance_pattern(key: str) -> None:
    assert ID_PATTERN.match(withdraw_order_id(key))


def test_client_order_id_same_key_and_attempt_is_stable() -> None:
    assert client_order_id("batch-7/sell", 3) == client_order_id("batch-7/sell", 3)
    assert client_order_id("batch-7/sell", 3) == "dlo-" + client_order_id("batch-7/sell", 0)[4:-2] + "-3"


def test_client_order_id_differs_by_key_and_attempt() -> None:
    ids = {client_order_id(k, n) for k in ("a", "b", "batch-1") for n in range(5)}
    assert len(ids) == 15


def test_withdraw_and_order_ids_never_collide_for_one_key() -> None:
    assert withdraw_order_id("k") not in {client_order_id("k", n) for n in range(10)}


@pytest.mark.parametrize("attempt", [-1, MAX_ATTEMPT + 1])
def test_client_order_id_attempt_out_of_range_raises(attempt: int) -> None:
    with pytest.raises(ValueError):
        client_order_id("k", attempt)


def test_client_order_id_empty_key_raises() -> None:
    with pytest.raises(ValueError):
        client_order_id("", 0)

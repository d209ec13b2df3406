"""EIP-1559 fee policy and the replacement rule (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.chain.fees import (
    GWEI,
    FeeCapReached,
    Fees,
    initial_fees,
    is_valid_replacement,
    replacement_fees,
)

OLD = Fees(100 * GWEI, 2 * GWEI)


def test_initial_fees_two_base_fees_times_urgency_plus_tip() -> None:
    assert initial_fees(base_fee=30 * GWEI, suggested_tip=2 * GWEI) == Fees(62 * GWEI, 2 * GWEI)
    assert initial_fees(base_fee=30 * GWEI, suggested_tip=2 * GWEI, urgency=Decimal("1.5")) == Fees(93 * GWEI, 3 * GWEI)


def test_initial_fees_tip_never_below_minimum() -> None:
    assert initial_fees(base_fee=10 * GWEI, suggested_tip=0, min_tip=GWEI) == Fees(21 * GWEI, GWEI)


def test_initial_fees_clamped_to_cap_or_refused() -> None:
    assert initial_fees(base_fee=30 * GWEI, suggested_tip=GWEI, cap=40 * GWEI) == Fees(40 * GWEI, GWEI)
    with pytest.raises(FeeCapReached):
        initial_fees(base_fee=50 * GWEI, suggested_tip=GWEI, cap=40 * GWEI)
    with pytest.raises(FeeCapReached):
        initial_fees(base_fee=40 * GWEI, suggested_tip=GWEI, cap=40 * GWEI)


def test_a_tip_past_the_cap_is_clamped_to_the_room_the_base_fee_leaves() -> None:
    # The node suggests 200 gwei (our own urgent tips in the last blocks), urgency 4: 800 gwei.
    fees = initial_fees(base_fee=GWEI, suggested_tip=200 * GWEI, urgency=Decimal(4), cap=500 * GWEI)
    assert fees == Fees(500 * GWEI, 499 * GWEI)


def test_initial_fees_urgency_below_one_rejected() -> None:
    with pytest.raises(ValueError):
        initial_fees(base_fee=GWEI, suggested_tip=GWEI, urgency=Decimal("0.5"))


def test_replacement_exact_ten_percent_on_both_fields_accepted() -> None:
    assert is_valid_replacement(OLD, Fees(110 * GWEI, 2_200_000_000))


def test_replacement_one_wei_short_on_tip_rejected() -> None:
    assert not is_valid_replacement(OLD, Fees(110 * GWEI, 2_200_000_000 - 1))


def test_replacement_max_fee_only_bump_rejected() -> None:
    assert not is_valid_replacement(OLD, Fees(118 * GWEI, 2 * GWEI))  # Besu/geth: "underpriced"


def test_replacement_threshold_rounds_up_for_odd_values() -> None:
    old = Fees(101, 11)  # 10 % of 101 is 10.1: 112 needed (ceil), 111 is short
    assert is_valid_replacement(old, Fees(112, 13))
    assert not is_valid_replacement(old, Fees(111, 13))


def test_replacement_fees_bump_both_by_twelve_and_a_half_percent() -> None:
    assert replacement_fees(OLD, cap=10**20) == Fees(112_500_000_000, 2_250_000_000)


def test_replacement_fees_follow_market_when_higher() -> None:
    market = Fees(300 * GWEI, 3 * GWEI)
    assert replacement_fees(OLD, market=market, cap=10**20) == market


def test_replacement_fees_clamped_to_cap_when_still_valid() -> None:
    assert replacement_fees(OLD, cap=111 * GWEI) == Fees(111 * GWEI, 2_250_000_000)


def test_replacement_fees_cap_reached_stops() -> None:
    with pytest.raises(FeeCapReached):
        replacement_fees(OLD, cap=109 * GWEI)


def test_fees_tip_above_max_fee_invalid() -> None:
    with pytest.raises(ValueError):
        Fees(1, 2)


@given(st.integers(1, 10**15), st.integers(0, 10**12))
def test_replacement_fees_always_clear_the_node_rule(max_fee: int, tip: int) -> None:
    old = Fees(max(max_fee, tip), tip)
    new = replacement_fees(old, cap=10**30)
    assert is_valid_replacement(old, new)
    assert new.max_fee_per_gas >= new.max_priority_fee_per_gas

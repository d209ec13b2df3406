"""borrow_for_target_hf: the largest borrow that keeps the contract-exact HF at the target."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.devnet.scenario import borrow_for_target_hf
from bot.domain import Position, Reserve, health_factor_wad
from bot.domain.wadray import WAD


def _position(collateral_wei: int, price: int, debt: int = 0) -> Position:
    return Position(
        (
            Reserve("WETH", 18, price, 8050, 8300, 10500, collateral=collateral_wei),
            Reserve("USDT", 6, 10**8, 7500, 7800, 10450, debt=debt),
        )
    )


def test_borrow_for_target_hf_on_100_weth_at_2000_is_the_textbook_amount() -> None:
    amount = borrow_for_target_hf(_position(100 * WAD, 2000 * 10**8), "USDT", target_hf_wad=145 * WAD // 100)
    # 100 × 2000 × 0.83 / 1.45 = 114,482.758620… USDT
    assert amount == 114_482_758_620


@settings(max_examples=200, deadline=None)
@given(
    collateral=st.integers(min_value=10**15, max_value=10**24),
    price=st.integers(min_value=10**8, max_value=10**13),
    existing=st.integers(min_value=0, max_value=10**9),
    target_milli=st.integers(min_value=1001, max_value=5000),
)
def test_borrow_for_target_hf_is_maximal_and_safe(collateral, price, existing, target_milli) -> None:
    target = target_milli * WAD // 1000
    position = _position(collateral, price, existing)
    amount = borrow_for_target_hf(position, "USDT", target_hf_wad=target)
    if amount == 0:
        assert existing > 0 or health_factor_wad(position.with_reserve("USDT", debt=existing + 1)) < target
        return
    after = position.with_reserve("USDT", debt=existing + amount)
    assert health_factor_wad(after) >= target
    assert health_factor_wad(position.with_reserve("USDT", debt=existing + amount + 1)) < target


def test_borrow_for_target_hf_is_zero_when_already_below_target() -> None:
    position = _position(WAD, 2000 * 10**8, debt=1_600 * 10**6)  # HF ≈ 1.0375
    assert borrow_for_target_hf(position, "USDT", target_hf_wad=11 * WAD // 10) == 0

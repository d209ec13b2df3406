"""Repay-first sizing: after repaying R, withdraw at most what keeps HF at its pre-batch value
price for price (current and shocked prices, and so every price between)."""

from __future__ import annotations

from bot.domain import Position, Reserve, Rounding, after_repay, after_withdraw, health_factor_wad, shocked
from bot.domain.repay_first import keeps_start_hf, repay_first_withdraw, withdrawal_keeps_start_hf

E18, E6 = 10**18, 10**6
VOLATILE = frozenset({"WETH"})


def _position(*, weth: int = 100, usdt_debt: int = 120_000, usdc_collateral: int = 0, price: int = 2000) -> Position:
    reserves = [
        Reserve("WETH", 18, price * 10**8, 8050, 8300, 10500, collateral=weth * E18, asset="0xweth"),
        Reserve("USDT", 6, 10**8, 7500, 7800, 10450, debt=usdt_debt * E6, asset="0xusdt"),
    ]
    if usdc_collateral:
        reserves.append(Reserve("USDC", 6, 10**8, 7500, 7800, 10450, collateral=usdc_collateral * E6, asset="0xusdc"))
    return Position(reserves=tuple(reserves), rounding=Rounding.V3_0)


def _size(pos: Position, repay_usdt: int, **kw) -> int:
    return repay_first_withdraw(
        pos, collateral="WETH", debt="USDT", repay_units=repay_usdt * E6, shock_bps=500, symbols=VOLATILE, **kw
    )


def test_single_collateral_keeps_the_collateral_to_debt_ratio():
    pos = _position()
    x = _size(pos, 6_000)  # 5 % of the debt
    # C·R/D = 100 · 6,000 / 120,000 = 5 WETH, to the wei (HF rounding may cost a few wei)
    assert 5 * E18 - 10**6 <= x <= 5 * E18
    after = after_withdraw(after_repay(pos, "USDT", 6_000 * E6), "WETH", x)
    for price in (2000, 1500, 900, 3000):  # whatever the market does
        assert health_factor_wad(after.with_prices({"WETH": price * 10**8})) >= health_factor_wad(
            pos.with_prices({"WETH": price * 10**8})
        )
    one_more = after_withdraw(after_repay(pos, "USDT", 6_000 * E6), "WETH", x + 1)
    assert not keeps_start_hf(pos, one_more, shock_bps=500, symbols=VOLATILE)


def test_no_repay_means_no_withdrawal():
    assert _size(_position(), 0) == 0


def test_margin_leaves_room_for_interest():
    pos = _position()
    assert _size(pos, 6_000, margin_bps=1) < _size(pos, 6_000)


def test_stable_collateral_binds_at_the_current_price_not_the_shocked_one():
    pos = _position(usdc_collateral=50_000)
    x = _size(pos, 6_000)
    after = after_withdraw(after_repay(pos, "USDT", 6_000 * E6), "WETH", x)
    now_before, now_after = health_factor_wad(pos), health_factor_wad(after)
    shocked_before = health_factor_wad(shocked(pos, shock_bps=500, symbols=VOLATILE))
    shocked_after = health_factor_wad(shocked(after, shock_bps=500, symbols=VOLATILE))
    assert now_after >= now_before and shocked_after >= shocked_before
    # the shocked price alone would allow more: the current price is the tighter case
    assert shocked_after - shocked_before > now_after - now_before
    # with stable collateral the ratio rule C·R/D is not enough: it allows more than 5 WETH
    assert x > 5 * E18


def test_withdrawal_check_uses_the_start_position_at_todays_prices():
    start = _position()
    now = after_repay(start, "USDT", 6_000 * E6).with_prices({"WETH": 1800 * 10**8})
    assert withdrawal_keeps_start_hf(
        start, now, collateral="WETH", amount=5 * E18 - 10**6, shock_bps=500, symbols=VOLATILE
    )
    assert not withdrawal_keeps_start_hf(start, now, collateral="WETH", amount=6 * E18, shock_bps=500, symbols=VOLATILE)

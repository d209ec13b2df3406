"""Exact Aave v3 account math: worked examples and properties."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import (
    Position,
    Reserve,
    Rounding,
    account_data,
    decimal_to_wad,
    health_factor_wad,
    liquidation_price_base,
)
from bot.domain.wadray import MAX_UINT256, wad_div

E8 = 10**8


def weth_usdc(
    weth: str = "10", price: int = 2000, debt_usdc: str = "10000", rounding: Rounding = Rounding.V3_0
) -> Position:
    return Position(
        (
            Reserve("WETH", 18, price * E8, 8000, 8250, 10500, collateral=int(Decimal(weth) * 10**18)),
            Reserve("USDC", 6, E8, 7700, 8000, 10450, debt=int(Decimal(debt_usdc) * 10**6)),
        ),
        rounding=rounding,
    )


def test_health_factor_worked_example_matches_devnet_trial() -> None:
    # 10 WETH at $2,000, LT 82.5 %, against 10,000 USDC → 1.65 exactly (the recipe's trial).
    data = account_data(weth_usdc())
    assert data.health_factor_wad == 1_650_000_000_000_000_000
    assert data.total_collateral_base == 20_000 * E8
    assert data.total_debt_base == 10_000 * E8
    assert data.available_borrows_base == 6_000 * E8
    assert data.current_liquidation_threshold_bps == 8250


def test_health_factor_after_price_drop_to_1500() -> None:
    assert account_data(weth_usdc(price=1500)).health_factor == Decimal("1.2375")


def test_health_factor_without_debt_is_max_uint() -> None:
    data = account_data(weth_usdc(debt_usdc="0"))
    assert data.health_factor_wad == MAX_UINT256
    assert data.health_factor is None


def test_v35_and_v30_agree_on_round_numbers() -> None:
    for price in (2000, 1500, 1234):
        a = account_data(weth_usdc(price=price, rounding=Rounding.V3_0)).health_factor_wad
        b = account_data(weth_usdc(price=price, rounding=Rounding.V3_5)).health_factor_wad
        assert a == b


def test_v35_ceils_debt_value_where_v30_floors_it() -> None:
    # 1 wei of a 6-decimal token at $1 is worth 100 base units: no rounding. A 18-decimal debt
    # of 1 wei is worth < 1 base unit: floored to 0 in v3.0, ceiled to 1 in v3.5.
    pos = Position(
        (
            Reserve("WETH", 18, 2000 * E8, 8000, 8250, 10500, collateral=10**18),
            Reserve("DAI", 18, E8, 7500, 7800, 10450, debt=1),
        )
    )
    assert account_data(pos).total_debt_base == 0
    assert account_data(replace(pos, rounding=Rounding.V3_5)).total_debt_base == 1


def test_collateral_disabled_or_zero_lt_does_not_count() -> None:
    pos = weth_usdc().with_reserve("WETH", collateral_enabled=False)
    assert account_data(pos).total_collateral_base == 0
    assert account_data(pos).health_factor_wad == 0


def test_liquidation_price_of_single_collateral_is_debt_over_q_lt() -> None:
    # 10,000 / (10 × 0.825) = 1,212.1212… → rounded up to the base unit.
    assert liquidation_price_base(weth_usdc(), "WETH") == 121_212_121_213
    assert liquidation_price_base(weth_usdc(debt_usdc="0"), "WETH") is None


def test_liquidation_price_is_zero_when_other_collateral_covers_the_debt() -> None:
    pos = Position(
        (
            Reserve("WETH", 18, 2000 * E8, 8050, 8300, 10500, collateral=10**18),
            Reserve("WBTC", 8, 60000 * E8, 7300, 7800, 10500, collateral=10**8),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=1000 * 10**6),
        )
    )
    assert liquidation_price_base(pos, "WETH") == 0


def test_hf_at_liquidation_price_is_one() -> None:
    pos = weth_usdc(weth="7.3", debt_usdc="9876.54")
    p_liq = liquidation_price_base(pos, "WETH")
    assert p_liq is not None
    assert health_factor_wad(pos.with_prices({"WETH": p_liq})) >= 10**18 - 10**9
    assert health_factor_wad(pos.with_prices({"WETH": p_liq - 1})) < 10**18


# ---- properties -------------------------------------------------------------------------

reserve_specs = st.tuples(
    st.sampled_from([6, 8, 18]),
    st.integers(min_value=1 * E8 // 100, max_value=100_000 * E8),  # price
    st.integers(min_value=0, max_value=9000),  # LT bps
    st.integers(min_value=0, max_value=10**9),  # whole-token scale of collateral
    st.integers(min_value=0, max_value=10**9),  # whole-token scale of debt
)


@st.composite
def positions(draw: st.DrawFn, min_reserves: int = 1, max_reserves: int = 4) -> Position:
    specs = draw(st.lists(reserve_specs, min_size=min_reserves, max_size=max_reserves))
    reserves = []
    for i, (dec, price, lt, coll, debt) in enumerate(specs):
        unit = 10**dec
        reserves.append(
            Reserve(
                f"R{i}",
                dec,
                price,
                ltv_bps=max(0, lt - 250),
                liquidation_threshold_bps=lt,
                liquidation_bonus_bps=10500,
                collateral=draw(st.integers(0, coll)) * unit // 1000,
                debt=draw(st.integers(0, debt)) * unit // 1000,
            )
        )
    return Position(tuple(reserves), rounding=draw(st.sampled_from(list(Rounding))))


@given(positions(), st.integers(min_value=1, max_value=10**24))
@settings(max_examples=300)
def test_hf_never_rises_when_debt_grows(pos: Position, extra: int) -> None:
    r = pos.reserves[0]
    grown = pos.with_reserve(r.symbol, debt=r.debt + extra)
    assert health_factor_wad(grown) <= health_factor_wad(pos)


@given(positions(), st.integers(min_value=1, max_value=9999))
@settings(max_examples=300)
def test_hf_never_rises_when_a_collateral_price_falls(pos: Position, drop_bps: int) -> None:
    r = pos.reserves[0]
    if r.debt:  # a falling price of a debt asset raises HF; this property is about collateral
        return
    before = account_data(pos)
    after = account_data(pos.with_prices({r.symbol: r.price * (10_000 - drop_bps) // 10_000}))
    if pos.rounding is Rounding.V3_5:
        assert after.health_factor_wad <= before.health_factor_wad
    else:
        # v3.0 floors the weighted-average LT to whole bps before applying it, so when the
        # weights shift toward a higher-LT collateral HF may tick up by < 1 bps of avgLT.
        slack = before.health_factor_wad // max(after.current_liquidation_threshold_bps, 1) + 1
        assert after.health_factor_wad <= before.health_factor_wad + slack


def test_v30_hf_can_tick_up_when_a_collateral_price_falls() -> None:
    # Found by hypothesis: the contract's avgLT floor makes v3.0 non-monotone by a hair.
    def pos(price_a: int, rounding: Rounding = Rounding.V3_0) -> Position:
        return Position(
            (
                Reserve("A", 8, price_a, 0, 91, 10500, collateral=198_979),
                Reserve("B", 8, 10**8, 0, 8861, 10500, collateral=313_896),
                Reserve("C", 8, 10**8, 0, 0, 10500, debt=125_876),
            ),
            rounding=rounding,
        )

    assert health_factor_wad(pos(668_412)) > health_factor_wad(pos(671_300))
    assert health_factor_wad(pos(668_412, Rounding.V3_5)) <= health_factor_wad(pos(671_300, Rounding.V3_5))


@given(positions(min_reserves=2))
@settings(max_examples=300)
def test_v35_and_v30_differ_only_by_rounding(pos: Position) -> None:
    a = account_data(replace(pos, rounding=Rounding.V3_0))
    b = account_data(replace(pos, rounding=Rounding.V3_5))
    weighted = sum((r.collateral * r.price // r.unit) * r.liquidation_threshold_bps for r in pos.collaterals)
    # Below $1 of LT-weighted collateral, v3.0's half-up percentMul (±0.5 base unit) dominates.
    if a.total_debt_base < E8 or a.health_factor_wad == MAX_UINT256 or weighted < E8 * 10_000:
        return
    # Debt may differ by one base unit per reserve; v3.0 floors avgLT to whole bps first.
    assert 0 <= b.total_debt_base - a.total_debt_base <= len(pos.reserves)
    exact = Decimal(weighted) / Decimal(10_000) / Decimal(a.total_debt_base)
    for got in (a.health_factor, b.health_factor):
        assert got is not None
        rel = abs(got - exact) / exact
        assert rel <= Decimal(1) / Decimal(max(a.current_liquidation_threshold_bps, 1)) + Decimal("1e-6")


def test_wad_div_rounds_half_up() -> None:
    assert wad_div(1, 3) == 333_333_333_333_333_333
    assert wad_div(2, 3) == 666_666_666_666_666_667


def test_decimal_to_wad() -> None:
    assert decimal_to_wad("1.05") == 1_050_000_000_000_000_000


def test_with_reserve_and_with_prices_copy_exactly_what_they_change() -> None:
    pos = weth_usdc(rounding=Rounding.V3_5)
    moved = pos.with_reserve("USDC", debt=1, collateral_enabled=False).with_prices({"WETH": 3 * E8})
    assert moved == Position(
        (
            replace(pos.reserve("WETH"), price=3 * E8),
            replace(pos.reserve("USDC"), debt=1, collateral_enabled=False),
        ),
        rounding=Rounding.V3_5,
    )
    assert pos == weth_usdc(rounding=Rounding.V3_5)  # the original is untouched
    for bad, error in (
        (lambda: pos.with_reserve("DAI", debt=1), KeyError),
        (lambda: pos.with_reserve("WETH", colateral=1), TypeError),
        (lambda: pos.with_prices({"DAI": 1}), KeyError),
    ):
        try:
            bad()
        except error:
            continue
        raise AssertionError(f"{bad} did not raise {error.__name__}")

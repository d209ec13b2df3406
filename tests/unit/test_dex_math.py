"""The devnet DEX's pool math (ladder, depth, prices), its raw selectors and its state record,
and the adapter call's encoding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_utils import keccak

from bot.adapters.chain import dex_adapter
from bot.devnet.dex import arbitrage, depth
from bot.devnet.dex.depth import DepthProfile
from bot.devnet.dex.facts import Dex, DexPool

WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"  # below USDT's address: WETH is token0
USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"


def test_a_usd_price_round_trips_through_the_pool_price_for_either_token_order() -> None:
    for collateral_is_token0 in (True, False):
        raw = depth.raw_price(Decimal(2000), 18, 6, collateral_is_token0=collateral_is_token0)
        back = depth.usd_price(
            depth.price_from_sqrt_x96(depth.sqrt_price_x96(raw)), 18, 6, collateral_is_token0=collateral_is_token0
        )
        assert abs(back - 2000) < Decimal("1e-20")
    assert depth.raw_price(Decimal(2000), 18, 6, collateral_is_token0=True) == Decimal("2E-9")


def test_the_liquidity_for_a_depth_pays_that_depth_over_a_one_percent_fall() -> None:
    liquidity = depth.liquidity_for_depth(Decimal(3_000_000), Decimal(2000), 18, 6)
    sqrt_p = Decimal("2E-9").sqrt()
    paid = liquidity * (sqrt_p - (Decimal("0.99") * Decimal("2E-9")).sqrt()) / 10**6

    assert abs(paid - 3_000_000) < Decimal("0.01")


def test_the_ladder_spans_the_price_range_in_adjacent_ranges_centred_on_the_price() -> None:
    price = depth.raw_price(Decimal(2000), 18, 6, collateral_is_token0=True)
    ranges = depth.ladder(price, DepthProfile(), spacing=60)
    here = depth.tick_at(price)

    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(lower % 60 == 0 and upper - lower == 1020 for lower, upper in ranges)
    middle = ranges[len(ranges) // 2]
    assert middle[0] < here < middle[1] and abs((middle[0] + middle[1]) / 2 - here) <= 30
    assert depth.price_at_tick(ranges[0][0]) <= price / 4 and depth.price_at_tick(ranges[-1][1]) >= price * 4
    assert len(ranges) == 29


def test_a_range_away_from_the_price_holds_one_token_only() -> None:
    sqrt_x96 = depth.sqrt_price_x96(depth.price_at_tick(0))
    assert depth.amounts_for_liquidity(10**18, sqrt_x96, 100, 200)[1] == 0  # above: token0 only
    assert depth.amounts_for_liquidity(10**18, sqrt_x96, -200, -100)[0] == 0  # below: token1 only
    inside = depth.amounts_for_liquidity(10**18, sqrt_x96, -100, 100)
    assert inside[0] > 0 and inside[1] > 0 and abs(inside[0] - inside[1]) <= 1


def test_a_profile_with_shares_not_adding_up_or_an_off_grid_step_is_refused() -> None:
    with pytest.raises(ValueError, match="add up to 1"):
        DepthProfile(fee_shares=((500, Decimal("0.5")),))
    with pytest.raises(ValueError, match="multiple"):
        DepthProfile(step_ticks=1000)  # not a multiple of the 0.3 % tier's 60


@pytest.mark.parametrize(
    ("selector", "signature"),
    [
        (arbitrage.SLOT0, "slot0()"),
        (arbitrage.GET_ASSET_PRICE, "getAssetPrice(address)"),
        (arbitrage.BALANCE_OF, "balanceOf(address)"),
        (arbitrage.MINT, "mint(address,uint256)"),
        (
            arbitrage.EXACT_INPUT_SINGLE,
            "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
        ),
    ],
)
def test_the_raw_selectors_match_their_signatures(selector: str, signature: str) -> None:
    assert selector == "0x" + keccak(text=signature)[:4].hex()


def test_the_dex_record_round_trips_through_json_and_knows_its_token_order() -> None:
    pool = DexPool("WETH", "USDT", 500, "0x" + "11" * 20, WETH, USDT, 18, 6)
    dex = Dex(
        "0x" + "01" * 20,
        "0x" + "02" * 20,
        "0x" + "03" * 20,
        "0x" + "04" * 20,
        "0x" + "05" * 20,
        (pool,),
        {"WETH": 10**30},
    )

    assert Dex.from_json(dex.to_json()) == dex
    assert pool.collateral_is_token0 is True and pool.tokens == (WETH, USDT)
    assert dex.pool("USDT", 500) == pool


def test_the_deleverage_call_encodes_the_order_after_its_selector() -> None:
    order = dex_adapter.DeleverageOrder(WETH, USDT, 40_000 * 10**6, 29 * 10**18, 500, 10**18)
    data = order.calldata()

    assert data[:4] == keccak(text="deleverage(address,address,uint256,uint256,uint24,uint256)")[:4]
    assert int.from_bytes(data[4 + 64 : 4 + 96], "big") == 40_000 * 10**6
    assert int.from_bytes(data[4 + 128 : 4 + 160], "big") == 500
    with pytest.raises(ValueError, match="positive"):
        dex_adapter.DeleverageOrder(WETH, USDT, 0, 1, 500, 0)


def _error(signature: str, types: list[str], values: list[object]) -> bytes:
    from eth_abi import encode

    return keccak(text=signature)[:4] + (encode(types, values) if types else b"")


def test_the_adapter_reverts_read_as_one_line() -> None:
    stf = _error("Error(string)", ["string"], ["STF"])

    assert dex_adapter.describe_revert(_error("NotOwner()", [], [])) == "NotOwner"
    assert dex_adapter.describe_revert(_error("SwapFailed(bytes)", ["bytes"], [stf])) == (
        "SwapFailed: STF (the pool's price is past the slippage cap)"
    )
    assert dex_adapter.describe_revert(
        _error("HealthFactorTooLow(uint256,uint256)", ["uint256", "uint256"], [1_010_000_000_000_000_000, 10**18 * 2])
    ) == ("HealthFactorTooLow: HF would end at 1.0100, below 2.0000")
    assert dex_adapter.describe_revert(_error("Error(string)", ["string"], ["35"])).startswith("HEALTH_FACTOR")

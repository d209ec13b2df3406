"""bot.domain.account_data reproduces Pool.getUserAccountData to the unit on the real contracts,
for a multi-collateral position under random oracle prices."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.devnet import anvil, scenario
from bot.domain import account_data, to_units

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mixed(aave_devnet):
    """A second wallet: WETH + WBTC + USDC collateral, USDT and WETH debt."""
    w3, market = aave_devnet.w3, aave_devnet.market
    wallet = scenario.accounts(w3)[4]
    for symbol, amount in (("WBTC", "0.37"), ("USDC", "5123.45")):
        units = to_units(Decimal(amount), market.reserve(symbol).decimals)
        scenario.mint(w3, market, symbol, to=wallet, amount=units)
        scenario.supply(w3, market, symbol, sender=wallet, amount=units)
    scenario.open_position(w3, market, wallet=wallet, collateral_amount=Decimal("3.3"), target_hf=Decimal("1.6"))
    scenario.borrow(w3, market, "WETH", sender=wallet, amount=10**17)
    return wallet


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    weth=st.decimals(min_value="300", max_value="9000", places=8),
    wbtc=st.decimals(min_value="5000", max_value="150000", places=8),
    usdc=st.decimals(min_value="0.8", max_value="1.2", places=8),
)
def test_account_data_matches_the_pool_to_the_unit(aave_devnet, mixed, weth, wbtc, usdc) -> None:
    w3, market = aave_devnet.w3, aave_devnet.market
    snapshot_id = anvil.snapshot(w3)
    try:
        for symbol, price in (("WETH", weth), ("WBTC", wbtc), ("USDC", usdc)):
            scenario.set_price(w3, market, symbol, price)
        block = w3.eth.block_number
        position = scenario.read_position(w3, market, mixed, block=block)
        assert len(position.collaterals) == 3 and len(position.debts) == 2
        assert account_data(position) == scenario.user_account_data(w3, market, mixed, block=block)
    finally:
        anvil.revert(w3, snapshot_id)

"""The deployed Aave v3 market, the demo position, price moves, time and Multicall3 on real anvil."""

from __future__ import annotations

from decimal import Decimal

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError

from bot.devnet import anvil, artifacts, scenario
from bot.devnet.aave_market import DEFAULT_RESERVES
from bot.devnet.multicall3 import MULTICALL3_ABI, MULTICALL3_ADDRESS, runtime_code
from bot.domain import account_data, decimal_to_wad
from bot.domain.wadray import RAY

pytestmark = pytest.mark.integration

SECONDS_PER_YEAR = 365 * 24 * 3600


def _contract(w3: Web3, name: str, address: str):  # noqa: ANN202 - web3 contract
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifacts.abi(name))


@pytest.mark.parametrize("spec", DEFAULT_RESERVES, ids=lambda s: s.symbol)
def test_reserve_configuration_matches_ethereum_core_parameters(chain, spec) -> None:
    dp = _contract(chain.w3, "AaveProtocolDataProvider", chain.market.data_provider)
    asset = chain.market.reserve(spec.symbol).asset
    (decimals, ltv, lt, bonus, factor, collateral_on, borrowing_on, stable_on, active, frozen) = (
        dp.functions.getReserveConfigurationData(asset).call()
    )
    assert (decimals, ltv, lt, bonus, factor) == (
        spec.decimals, spec.ltv_bps, spec.liquidation_threshold_bps, spec.liquidation_bonus_bps, spec.reserve_factor_bps,
    )  # fmt: skip
    assert (collateral_on, borrowing_on, stable_on, active, frozen) == (True, True, False, True, False)
    assert dp.functions.getLiquidationProtocolFee(asset).call() == spec.liquidation_protocol_fee_bps
    assert dp.functions.getFlashLoanEnabled(asset).call() is True
    strategy = _contract(
        chain.w3, "DefaultReserveInterestRateStrategy", dp.functions.getInterestRateStrategyAddress(asset).call()
    )
    assert strategy.functions.OPTIMAL_USAGE_RATIO().call() == spec.rates.optimal_usage_ratio
    assert strategy.functions.getBaseVariableBorrowRate().call() == spec.rates.base_variable_borrow_rate
    assert strategy.functions.getVariableRateSlope1().call() == spec.rates.variable_rate_slope1
    assert strategy.functions.getVariableRateSlope2().call() == spec.rates.variable_rate_slope2
    oracle = _contract(chain.w3, "AaveOracle", chain.market.oracle)
    assert oracle.functions.getAssetPrice(asset).call() == int(spec.price_usd * 10**8)


def test_market_rates_and_fees_take_ethereum_core_values(chain) -> None:
    by_symbol = {s.symbol: s for s in DEFAULT_RESERVES}
    assert by_symbol["WETH"].liquidation_protocol_fee_bps == 1000
    assert by_symbol["USDT"].rates.optimal_usage_ratio == 92 * RAY // 100
    assert by_symbol["USDT"].rates.variable_rate_slope1 == 65 * RAY // 1000
    assert by_symbol["USDT"].rates.variable_rate_slope2 == 35 * RAY // 100
    pool = _contract(chain.w3, "Pool", chain.market.pool)
    assert pool.functions.FLASHLOAN_PREMIUM_TOTAL().call() == 5
    provider = _contract(chain.w3, "PoolAddressesProvider", chain.market.pool_addresses_provider)
    assert provider.functions.getPool().call() == chain.market.pool
    assert provider.functions.getPriceOracle().call() == chain.market.oracle
    assert provider.functions.getPoolDataProvider().call() == chain.market.data_provider


def test_demo_position_health_factor_is_target_and_matches_domain_math(chain) -> None:
    w3, market, wallet = chain.w3, chain.market, chain.position.wallet
    block = w3.eth.block_number
    on_chain = scenario.user_account_data(w3, market, wallet, block=block)
    position = scenario.read_position(w3, market, wallet, block=block)
    assert account_data(position) == on_chain
    assert abs(on_chain.health_factor - Decimal("1.45")) < Decimal("1e-9")
    assert on_chain.health_factor >= Decimal("1.45")
    assert position.reserve("WETH").collateral == 100 * 10**18
    assert position.reserve("USDT").debt == chain.position.borrowed
    # One more unit of debt would take HF under the target: the borrow is the largest that keeps it.
    one_more = position.with_reserve("USDT", debt=position.reserve("USDT").debt + 1)
    assert account_data(one_more).health_factor_wad < decimal_to_wad("1.45")


@pytest.mark.parametrize("price", ["1500", "1700.5", "2400", "1380.12345678"])
def test_set_price_moves_health_factor_as_domain_predicts(chain, price) -> None:
    w3, market, wallet = chain.w3, chain.market, chain.position.wallet
    before = scenario.read_position(w3, market, wallet)
    answer = scenario.set_price(w3, market, "WETH", Decimal(price))
    assert answer == int(Decimal(price) * 10**8)
    block = w3.eth.block_number
    after = scenario.read_position(w3, market, wallet, block=block)
    assert after.reserve("WETH").price == answer
    assert scenario.user_account_data(w3, market, wallet, block=block) == account_data(after)
    # The prediction from the pre-move balances differs only by interest accrued since (seconds).
    predicted = account_data(before.with_prices({"WETH": answer})).health_factor_wad
    actual = account_data(after).health_factor_wad
    assert actual <= predicted
    assert (predicted - actual) * 10**6 < predicted


def test_set_price_writes_the_aggregator_answer(chain) -> None:
    feed = _contract(chain.w3, "MockAggregator", chain.market.reserve("WBTC").price_feed)
    block_before = chain.w3.eth.block_number
    scenario.set_price(chain.w3, chain.market, "WBTC", "55123.45")
    assert feed.functions.latestAnswer().call() == 5_512_345_000_000
    assert chain.w3.eth.block_number == block_before + 1


def test_price_fall_below_liquidation_makes_position_liquidatable(chain) -> None:
    w3, market, wallet = chain.w3, chain.market, chain.position.wallet
    scenario.set_price(w3, market, "WETH", "1300")  # HF 1.45 at $2000 → about 0.94
    assert scenario.user_account_data(w3, market, wallet).health_factor < 1
    pool = _contract(w3, "Pool", market.pool)
    with pytest.raises(ContractLogicError, match="35"):
        pool.functions.withdraw(market.reserve("WETH").asset, 10**18, wallet).call({"from": wallet})


def test_advance_accrues_interest_at_the_reserve_rate(chain) -> None:
    w3, market, wallet = chain.w3, chain.market, chain.position.wallet
    dp = _contract(w3, "AaveProtocolDataProvider", market.data_provider)
    usdt = market.reserve("USDT").asset
    rate = dp.functions.getReserveData(usdt).call()[6]  # variableBorrowRate, ray
    debt_before = scenario.read_position(w3, market, wallet).reserve("USDT").debt
    t_before = w3.eth.get_block("latest")["timestamp"]
    hf_before = scenario.user_account_data(w3, market, wallet).health_factor_wad

    t_after = scenario.advance(w3, 30 * 24 * 3600)

    assert t_after - t_before >= 30 * 24 * 3600
    debt_after = scenario.read_position(w3, market, wallet).reserve("USDT").debt
    expected_growth = debt_before * rate * (t_after - t_before) // (RAY * SECONDS_PER_YEAR)
    growth = debt_after - debt_before
    assert growth > 0
    # Aave compounds per second (binomial approximation): a little above simple interest.
    assert expected_growth <= growth
    assert growth * 100 <= expected_growth * 101 + 100
    assert scenario.user_account_data(w3, market, wallet).health_factor_wad < hf_before


def test_multicall3_aggregate3_returns_each_result_from_one_block(chain) -> None:
    w3, market = chain.w3, chain.market
    assert bytes(w3.eth.get_code(MULTICALL3_ADDRESS)).hex() == runtime_code().removeprefix("0x")
    multicall = w3.eth.contract(address=MULTICALL3_ADDRESS, abi=MULTICALL3_ABI)
    pool = _contract(w3, "Pool", market.pool)
    feed = _contract(w3, "MockAggregator", market.reserve("WETH").price_feed)
    calls = [
        (feed.address, False, feed.encode_abi("latestAnswer", [])),
        (pool.address, False, pool.encode_abi("getUserAccountData", [chain.position.wallet])),
        (market.pool, True, bytes.fromhex("deadbeef")),  # unknown selector: fails, allowed
    ]
    results = multicall.functions.aggregate3(calls).call()
    assert [ok for ok, _ in results] == [True, True, False]
    assert int.from_bytes(results[0][1], "big") == 2000 * 10**8
    hf = w3.codec.decode(["uint256"] * 6, results[1][1])[5]
    assert hf == scenario.user_account_data(w3, market, chain.position.wallet).health_factor_wad


def test_snapshot_revert_restores_price_and_block(chain) -> None:
    w3, market = chain.w3, chain.market
    block = w3.eth.block_number
    snap = anvil.snapshot(w3)
    scenario.set_price(w3, market, "WETH", "1000")
    anvil.mine(w3, 5)
    anvil.revert(w3, snap)
    assert w3.eth.block_number == block
    assert scenario.read_position(w3, market, chain.position.wallet).reserve("WETH").price == 2000 * 10**8


def test_set_balance_and_storage_cheat_codes(chain) -> None:
    w3 = chain.w3
    target = Web3.to_checksum_address("0x" + "12" * 20)
    anvil.set_balance(w3, target, 7 * 10**18)
    assert w3.eth.get_balance(target) == 7 * 10**18
    feed = chain.market.reserve("USDC").price_feed
    anvil.set_storage_at(w3, feed, 0, 99_000_000)
    assert _contract(w3, "MockAggregator", feed).functions.latestAnswer().call() == 99_000_000


def test_open_position_with_other_sizes_reaches_its_target(chain) -> None:
    w3, market = chain.w3, chain.market
    wallet = scenario.accounts(w3)[5]
    opened = scenario.open_position(
        w3, market, wallet=wallet, collateral_amount=Decimal("12.5"), target_hf=Decimal("1.2"), debt_symbol="USDC"
    )
    assert opened.collateral_amount == 125 * 10**17
    assert abs(opened.account.health_factor - Decimal("1.2")) < Decimal("1e-8")


def test_open_position_refuses_a_target_beyond_ltv(chain) -> None:
    from bot.errors import UserInputError

    wallet = scenario.accounts(chain.w3)[6]
    with pytest.raises(UserInputError, match="LTV"):
        scenario.open_position(chain.w3, chain.market, wallet=wallet, target_hf=Decimal("1.02"))


def test_quick_rpc_path_agrees_with_web3(chain) -> None:
    from bot.devnet import quick

    url, market, wallet = chain.node.rpc_url, chain.market, chain.position.wallet
    assert quick.account_data(url, market.pool, wallet) == scenario.user_account_data(chain.w3, market, wallet)
    answer = quick.set_feed_price(url, market.reserve("WETH").price_feed, Decimal("1234.5"))
    assert answer == quick.latest_answer(url, market.reserve("WETH").price_feed) == 123_450_000_000
    assert scenario.read_position(chain.w3, market, wallet).reserve("WETH").price == answer
    before = quick.block_timestamp(url)
    assert quick.advance(url, 3600) >= before + 3600


def test_deployer_reports_the_aave_error_code_of_a_reverted_transaction(chain) -> None:
    from bot.devnet.aave_market import Deployer, DeploymentError

    configurator = _contract(chain.w3, "PoolConfigurator", chain.market.pool_configurator)
    outsider = Deployer(chain.w3, chain.liquidity_provider)
    fn = configurator.functions.setReserveBorrowing(chain.market.reserve("USDT").asset, False)
    with pytest.raises(DeploymentError, match=r"setReserveBorrowing reverted: .*\b4\b"):  # not a risk/pool admin
        outsider.call("setReserveBorrowing", fn)


def test_mint_reaches_an_address_that_is_not_an_anvil_account(chain) -> None:
    stranger = Web3.to_checksum_address("0x" + "77" * 20)
    scenario.mint(chain.w3, chain.market, "USDT", to=stranger, amount=5 * 10**6)
    usdt = _contract(chain.w3, "MintableERC20", chain.market.reserve("USDT").asset)
    assert usdt.functions.balanceOf(stranger).call() == 5 * 10**6

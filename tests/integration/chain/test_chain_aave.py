"""The Aave reader and lending adapter against a real Aave v3 deployment on anvil."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from web3 import Web3

from bot.adapters.chain import abis
from bot.adapters.chain.aave_errors import RevertPredicted
from bot.adapters.chain.aave_lending import AaveLending, LendingConfig
from bot.adapters.chain.aave_reader import AaveReader
from bot.adapters.chain.tx_sender import TxRequest
from bot.clock import ManualClock
from bot.devnet import scenario
from bot.domain import account_data, decimal_to_wad, max_withdraw, to_units
from bot.domain.wadray import MAX_UINT256
from bot.errors import GuardRefused
from bot.ports import Lending, Outcome
from tests.support.chain import make_lending, rpc
from tests.support.devnet import Devnet

pytestmark = pytest.mark.integration

COLLATERALS = ("WETH", "WBTC", "USDC")
DEBTS = ("USDT", "USDC")
HUMAN_RANGE = {"WETH": (1, 400), "WBTC": (Decimal("0.05"), 20), "USDC": (1_000, 2_000_000)}
BASE_PRICE = {"WETH": Decimal(2000), "WBTC": Decimal(60000), "USDC": Decimal(1), "USDT": Decimal(1)}


def reader_for(chain: Devnet) -> AaveReader:
    return AaveReader(
        chain.w3, pool_addresses_provider=chain.market.pool_addresses_provider, multicall3=chain.market.multicall3
    )


def build_random_position(chain: Devnet, rng: random.Random, wallet: str) -> None:
    """Several collaterals and one or two debts, then moved prices and advanced time."""
    w3, market = chain.w3, chain.market
    for symbol in rng.sample(COLLATERALS, rng.randint(1, 3)):
        lo, hi = HUMAN_RANGE[symbol]
        human = Decimal(rng.uniform(float(lo), float(hi))).quantize(Decimal("0.000001"))
        units = to_units(human, market.reserve(symbol).decimals)
        scenario.mint(w3, market, symbol, to=wallet, amount=units)
        scenario.supply(w3, market, symbol, sender=wallet, amount=units)
    reader = reader_for(chain)
    targets = sorted((Decimal(rng.uniform(1.15, 3.0)) for _ in DEBTS), reverse=True)
    for symbol, target in zip(rng.sample(DEBTS, rng.randint(1, 2)), targets, strict=False):
        position = reader.snapshot(wallet).position
        amount = scenario.borrow_for_target_hf(
            position, symbol, target_hf_wad=decimal_to_wad(target.quantize(Decimal("0.0001")))
        )
        if amount > 0:
            scenario.borrow(w3, market, symbol, sender=wallet, amount=amount)
    for symbol in ("WETH", "WBTC", "USDT"):
        if rng.random() < 0.7:
            scenario.set_price(
                w3, market, symbol, (BASE_PRICE[symbol] * Decimal(rng.uniform(0.6, 1.4))).quantize(Decimal("0.0001"))
            )
    if rng.random() < 0.8:
        scenario.advance(w3, rng.randint(1, 400 * 86_400))


@pytest.mark.parametrize("seed", range(20))
def test_reader_account_data_equals_pool_exactly(aave: Devnet, seed: int) -> None:
    rng = random.Random(seed)
    wallet = scenario.accounts(aave.w3)[3 + seed % 6]
    build_random_position(aave, rng, wallet)
    read = reader_for(aave).read(wallet)
    on_chain = scenario.pool_account_data(aave.w3, aave.market.pool, wallet, block=read.snapshot.block)
    assert read.chain_account == on_chain
    assert account_data(read.snapshot.position) == on_chain  # HF and every total, to the unit
    assert read.matches_chain
    assert len(read.snapshot.position.debts) >= 1


def test_reader_snapshot_has_block_time_chain_and_wallet_balances(aave: Devnet) -> None:
    read = reader_for(aave).read(aave.wallet)
    snap = read.snapshot
    assert snap.block == aave.w3.eth.block_number
    assert snap.timestamp == aave.w3.eth.get_block(snap.block)["timestamp"]
    assert snap.chain_id == 31337 and snap.wallet == aave.wallet
    assert snap.wallet_balances["ETH"] == aave.w3.eth.get_balance(aave.wallet)
    assert snap.wallet_balances["USDT"] == aave.position.borrowed
    weth = snap.position.reserve("WETH")
    assert weth.collateral == aave.position.collateral_amount and weth.collateral_enabled
    assert (weth.ltv_bps, weth.liquidation_threshold_bps, weth.liquidation_bonus_bps) == (8050, 8300, 10500)
    assert snap.position.reserve("USDT").debt == aave.position.borrowed


def test_reader_many_wallets_in_one_call(aave: Devnet) -> None:
    wallets = [aave.wallet] + [Web3.to_checksum_address(f"0x{i:040x}") for i in range(1, 1000)]
    data = reader_for(aave).read_many_account_data(wallets)
    assert len(data) == 1000
    assert data[0] == scenario.pool_account_data(aave.w3, aave.market.pool, aave.wallet)
    assert data[1].total_collateral_base == 0 and data[1].health_factor_wad == MAX_UINT256


def test_withdraw_at_computed_max_succeeds_one_unit_more_refused(aave: Devnet, tmp_path: Path) -> None:
    lending = make_lending(aave, tmp_path / "tx.db", hf_floor="1.2")
    position = lending.snapshot().position
    limit = max_withdraw(position, "WETH", min_hf_wad=decimal_to_wad("1.2"))
    assert 0 < limit < position.reserve("WETH").collateral
    with pytest.raises(GuardRefused, match="below the floor"):
        lending.withdraw(key="w-over", symbol="WETH", amount=limit + 1)
    assert lending.sender.record("w-over") is None  # nothing signed
    result = lending.withdraw(key="w-max", symbol="WETH", amount=limit)
    assert result.outcome is Outcome.OK
    after = lending.snapshot()
    assert after.wallet_balances["WETH"] == limit
    assert after.health_factor is not None and after.health_factor >= Decimal("1.1999999")
    # The key is done: asking again with any amount reconciles, never re-guards or re-sends.
    assert lending.withdraw(key="w-max", symbol="WETH", amount=10**30) == result


def test_withdraw_above_onchain_limit_simulation_decoded_35(aave: Devnet, tmp_path: Path) -> None:
    lending = make_lending(aave, tmp_path / "tx.db", hf_floor="1.0")
    position = lending.snapshot().position
    limit = max_withdraw(position, "WETH", min_hf_wad=10**18)
    with pytest.raises(GuardRefused):
        lending.withdraw(key="w", symbol="WETH", amount=limit + 10**15)
    # Bypass the adapter's guard: the sender's eth_call simulation decodes Aave's reason.
    request = TxRequest(
        to=aave.market.pool,
        data=abis.POOL_WITHDRAW.encode(aave.market.reserve("WETH").asset, limit + 10**15, aave.wallet),
    )
    with pytest.raises(RevertPredicted) as refused:
        lending.sender.send("direct", request)
    assert refused.value.reason == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD (35)"
    assert lending.sender.record("direct") is None


def test_withdraw_reverted_onchain_failed_with_decoded_35(aave: Devnet, tmp_path: Path) -> None:
    lending = make_lending(aave, tmp_path / "tx.db", hf_floor="1.0")
    lending = AaveLending(lending.reader, lending.sender, LendingConfig(hf_floor_wad=10**18, wait=False))
    limit = max_withdraw(lending.snapshot().position, "WETH", min_hf_wad=10**18)
    part = limit * 6 // 10
    rpc(aave.w3, "evm_setAutomine", False)
    # Each passes the guard and the simulation on its own; together they break HF ≥ 1.
    assert lending.withdraw(key="w1", symbol="WETH", amount=part).outcome is Outcome.PENDING
    assert lending.withdraw(key="w2", symbol="WETH", amount=part).outcome is Outcome.PENDING
    rpc(aave.w3, "evm_mine")
    assert lending.sender.poll("w1").outcome is Outcome.OK
    failed = lending.sender.poll("w2")
    assert failed.outcome is Outcome.FAILED
    assert failed.error == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD (35)"


def test_stuck_withdraw_under_base_fee_spike_replaced_exactly_one_effect(aave: Devnet, tmp_path: Path) -> None:
    clock = ManualClock()
    base = make_lending(aave, tmp_path / "tx.db", clock=clock, stuck_seconds=30, stuck_blocks=2)
    lending = AaveLending(base.reader, base.sender, LendingConfig(hf_floor_wad=decimal_to_wad("1.1"), wait=False))
    amount = 10**18
    before = lending.snapshot()
    nonce_before = aave.w3.eth.get_transaction_count(lending.wallet)
    rpc(aave.w3, "evm_setAutomine", False)
    first = lending.withdraw(key="w", symbol="WETH", amount=amount)
    assert first.outcome is Outcome.PENDING
    rpc(aave.w3, "anvil_setNextBlockBaseFeePerGas", hex(200 * 10**9))
    rpc(aave.w3, "evm_mine")  # the spiked block leaves our tx out
    clock.advance(31)
    lending.sender.poll("w")  # re-priced at the same nonce
    rpc(aave.w3, "evm_mine")
    final = lending.sender.wait("w", timeout=5)
    attempts = lending.sender.attempts("w")
    assert final.outcome is Outcome.OK and len(attempts) >= 2
    assert final.tx_hash == attempts[-1].tx_hash != first.tx_hash
    assert {a.max_fee_per_gas > 100 * 10**9 for a in attempts[1:]} == {True}
    after = lending.snapshot()
    assert after.wallet_balances["WETH"] == before.wallet_balances["WETH"] + amount  # exactly once
    assert aave.w3.eth.get_transaction_count(lending.wallet) == nonce_before + 1


def test_repay_all_with_max_uint_clears_debt(aave: Devnet, tmp_path: Path) -> None:
    lending = make_lending(aave, tmp_path / "tx.db")
    scenario.advance(aave.w3, 30 * 86_400)  # interest: the debt is now above what was borrowed
    debt = lending.snapshot().position.reserve("USDT").debt
    assert debt > aave.position.borrowed
    scenario.mint(aave.w3, aave.market, "USDT", to=aave.wallet, amount=debt)  # enough to cover it
    result = lending.repay(key="r", symbol="USDT", amount=MAX_UINT256)
    assert result.outcome is Outcome.OK
    after = lending.snapshot()
    assert after.position.reserve("USDT").debt == 0
    assert after.health_factor is None  # no debt: max uint256
    assert lending.sender.record("r/approve-zero") is None  # the allowance was 0: no zero step
    assert lending.sender.record("r/approve").status.value == "OK"
    nonce = aave.w3.eth.get_transaction_count(aave.wallet)
    assert lending.repay(key="r", symbol="USDT", amount=MAX_UINT256) == result  # resumed: nothing new sent
    assert aave.w3.eth.get_transaction_count(aave.wallet) == nonce
    assert isinstance(lending, Lending)


def test_repay_with_small_nonzero_allowance_approves_zero_first(aave: Devnet, tmp_path: Path) -> None:
    lending = make_lending(aave, tmp_path / "tx.db")
    usdt = aave.market.reserve("USDT").asset
    token = aave.w3.eth.contract(
        address=usdt,
        abi=[
            {
                "name": "approve",
                "type": "function",
                "stateMutability": "nonpayable",
                "inputs": [{"name": "s", "type": "address"}, {"name": "a", "type": "uint256"}],
                "outputs": [{"name": "", "type": "bool"}],
            }
        ],
    )
    aave.w3.eth.wait_for_transaction_receipt(
        token.functions.approve(aave.market.pool, 5).transact({"from": aave.wallet}), poll_latency=0.01
    )
    assert lending.allowance("USDT", aave.market.pool) == 5
    amount = to_units(1000, 6)
    result = lending.repay(key="r", symbol="USDT", amount=amount)
    assert result.outcome is Outcome.OK
    zero, approve = lending.sender.record("r/approve-zero"), lending.sender.record("r/approve")
    assert zero.status.value == approve.status.value == "OK"
    assert zero.nonce < approve.nonce < lending.sender.record("r").nonce
    assert lending.allowance("USDT", aave.market.pool) == 0  # repay consumed exactly what was approved
    assert lending.snapshot().position.reserve("USDT").debt < aave.position.borrowed


def test_unwrap_and_transfers(aave: Devnet, tmp_path: Path) -> None:
    lending = make_lending(aave, tmp_path / "tx.db")
    assert lending.withdraw(key="w", symbol="WETH", amount=2 * 10**18).outcome is Outcome.OK
    eth_before = lending.snapshot().wallet_balances["ETH"]
    unwrap = lending.unwrap(key="u", amount=10**18)
    assert unwrap.outcome is Outcome.OK
    assert lending.snapshot().wallet_balances["ETH"] == eth_before + 10**18 - unwrap.gas_cost_wei
    to = Web3.to_checksum_address("0x" + "ab" * 20)
    assert lending.transfer(key="t", symbol="WETH", to=to, amount=5).outcome is Outcome.OK
    assert lending.transfer(key="e", symbol="ETH", to=to, amount=7).outcome is Outcome.OK
    assert aave.w3.eth.get_balance(to) == 7
    with pytest.raises(GuardRefused, match="checksummed"):
        lending.transfer(key="bad", symbol="ETH", to=to.lower(), amount=1)
    with pytest.raises(GuardRefused, match="wallet holds"):
        lending.transfer(key="big", symbol="USDC", to=to, amount=1)


def test_composition_root_builds_a_working_signing_adapter(aave: Devnet, tmp_path: Path) -> None:
    from bot.compose.adapters import open_lending
    from bot.settings import Settings
    from tests.support.chain import local_account

    account = local_account(scenario.DEMO_WALLET_INDEX)
    settings = Settings(
        mode="testnet",
        chain={
            "rpc_url": aave.node.rpc_url,
            "chain_id": 31337,
            "confirmations": 1,
            "rounding": "v3.0",
            "pool_addresses_provider": aave.market.pool_addresses_provider,
        },
        wallet={"key_source": "env", "private_key": "0x" + bytes(account.key).hex()},
        exchange={"api_key": "k", "api_secret": "s", "withdrawal_allowlist": [account.address]},
        limits={"hf_floor": Decimal("1.05")},
        journal={"path": tmp_path / "j" / "journal.sqlite"},
    )
    lending = open_lending(settings)
    assert lending.wallet == aave.wallet
    assert lending.snapshot().position.reserve("WETH").collateral == aave.position.collateral_amount
    assert lending.withdraw(key="f", symbol="WETH", amount=10**17).outcome is Outcome.OK
    assert lending.lookup("f").outcome is Outcome.OK and lending.lookup("nope") is None
    assert (tmp_path / "j" / "journal.sqlite").exists()


def test_lending_snapshot_on_another_chain_halts(aave: Devnet, tmp_path: Path) -> None:
    from bot.errors import Halt

    lending = make_lending(aave, tmp_path / "tx.db", chain_id=11155111)
    with pytest.raises(Halt, match="chain id 31337"):
        lending.snapshot()
    with pytest.raises(Halt):
        lending.withdraw(key="w", symbol="WETH", amount=1)
    assert lending.sender.record("w") is None


def test_reader_refuses_emode_positions(aave: Devnet) -> None:
    from bot.adapters.chain.aave_reader import UnsupportedPosition
    from bot.devnet import artifacts
    from bot.devnet.aave_market import Deployer

    admin = Deployer(aave.w3, aave.market.admin)
    configurator = admin.contract("PoolConfigurator", aave.market.pool_configurator)
    admin.call(
        "setEModeCategory",
        configurator.functions.setEModeCategory(
            1, 9000, 9300, 10100, "0x0000000000000000000000000000000000000000", "ETH"
        ),
    )
    wallet = scenario.accounts(aave.w3)[4]
    scenario.mint(aave.w3, aave.market, "WETH", to=wallet, amount=10**18)
    scenario.supply(aave.w3, aave.market, "WETH", sender=wallet, amount=10**18)
    pool = aave.w3.eth.contract(address=aave.market.pool, abi=artifacts.abi("Pool"))
    Deployer(aave.w3, wallet).call("setUserEMode", pool.functions.setUserEMode(1))
    with pytest.raises(UnsupportedPosition, match="eMode category 1"):
        reader_for(aave).read(wallet)

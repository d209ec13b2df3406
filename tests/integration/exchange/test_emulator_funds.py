"""Deposits credited by watching a real anvil chain; withdrawals paid on it from the hot wallet."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import ccxt
import pytest

from bot.clock import ManualClock
from bot.devnet.exchange import CoinConfig, EmulatorConfig, EmulatorHandle, start_emulator
from tests.support.devnet import Devnet
from tests.support.emulator import HOT_WALLET_KEY, make_client

pytestmark = pytest.mark.integration

CONFIRMATIONS = 3


@pytest.fixture(scope="module")
def usdt(bare_devnet: Devnet) -> str:
    return bare_devnet.deploy("contracts/mocks/tokens/MintableERC20.sol/MintableERC20.json", "Tether USD", "USDT", 6)


@pytest.fixture
def chain_emulator(bare_devnet: Devnet, usdt: str) -> Iterator[tuple[EmulatorHandle, ManualClock]]:
    snapshot = bare_devnet.w3.provider.make_request("evm_snapshot", [])["result"]
    clock = ManualClock()
    coins = {
        "ETH": CoinConfig("ETH", None, 18, Decimal("0.0008"), Decimal("0.0016")),
        "USDT": CoinConfig("USDT", usdt, 6, Decimal(1), Decimal(10), withdraw_multiple=Decimal("0.000001")),
    }
    handle = start_emulator(
        EmulatorConfig(
            rpc_url=bare_devnet.rpc_url,
            hot_wallet_key=HOT_WALLET_KEY,
            coins=coins,
            clock=clock,
            deposit_confirmations=CONFIRMATIONS,
            withdrawal_delay_s=30,
            poll_interval_s=3600,
            balances={"USDT": Decimal(1000), "ETH": Decimal(5)},
        )
    )
    try:
        yield handle, clock
    finally:
        handle.stop()
        bare_devnet.w3.provider.make_request("evm_revert", [snapshot])


def test_emulator_erc20_deposit_pending_until_confirmations_then_credited(
    bare_devnet: Devnet, usdt: str, chain_emulator
) -> None:
    emulator, _ = chain_emulator
    client = make_client(emulator)
    address = client.fetch_deposit_address("USDT", {"network": "ERC20"})["address"]
    assert address == emulator.deposit_address
    token = bare_devnet.token(usdt)
    user = bare_devnet.w3.eth.accounts[0]
    bare_devnet.w3.eth.wait_for_transaction_receipt(token.functions.mint(user, 250 * 10**6).transact({"from": user}))
    tx_hash = token.functions.transfer(address, 250 * 10**6).transact({"from": user})
    bare_devnet.w3.eth.wait_for_transaction_receipt(tx_hash)
    emulator.tick()
    [pending] = client.fetch_deposits("USDT")
    assert pending["status"] == "pending" and pending["txid"] == "0x" + bytes(tx_hash).hex()
    assert pending["amount"] == 250.0
    assert client.fetch_balance()["USDT"]["total"] == 1000.0
    bare_devnet.mine(CONFIRMATIONS - 1)
    emulator.tick()
    [done] = client.fetch_deposits("USDT")
    assert done["status"] == "ok"
    assert client.fetch_balance()["USDT"]["total"] == 1250.0
    emulator.tick()  # idempotent: no double credit
    assert client.fetch_balance()["USDT"]["total"] == 1250.0


def test_emulator_native_eth_deposit_is_credited(bare_devnet: Devnet, chain_emulator) -> None:
    emulator, _ = chain_emulator
    client = make_client(emulator)
    user = bare_devnet.w3.eth.accounts[0]
    tx_hash = bare_devnet.w3.eth.send_transaction({"from": user, "to": emulator.deposit_address, "value": 2 * 10**18})
    bare_devnet.w3.eth.wait_for_transaction_receipt(tx_hash)
    bare_devnet.mine(CONFIRMATIONS)
    emulator.tick()
    [deposit] = client.fetch_deposits("ETH")
    assert deposit["status"] == "ok" and deposit["amount"] == 2.0
    assert client.fetch_balance()["ETH"]["total"] == 7.0


def test_emulator_erc20_withdrawal_paid_on_chain_with_fee_deducted(
    bare_devnet: Devnet, usdt: str, chain_emulator
) -> None:
    emulator, clock = chain_emulator
    client = make_client(emulator)
    recipient = bare_devnet.w3.eth.accounts[3]
    token = bare_devnet.token(usdt)
    before = token.functions.balanceOf(recipient).call()
    result = client.withdraw("USDT", 100, recipient, params={"network": "ERC20", "withdrawOrderId": "wd-1"})
    assert client.fetch_balance()["USDT"]["total"] == 900.0
    [processing] = client.fetch_withdrawals("USDT")
    assert processing["id"] == result["id"] and processing["status"] == "pending"
    assert processing["info"]["withdrawOrderId"] == "wd-1" and processing["info"]["status"] == 4
    emulator.tick()
    assert client.fetch_withdrawals("USDT")[0]["status"] == "pending"  # not due yet
    clock.advance(31)
    emulator.tick()
    [done] = client.fetch_withdrawals("USDT")
    assert done["status"] == "ok" and done["fee"]["cost"] == 1.0 and done["amount"] == 99.0
    receipt = bare_devnet.w3.eth.get_transaction_receipt(done["txid"])
    assert receipt["status"] == 1
    assert token.functions.balanceOf(recipient).call() - before == 99 * 10**6


def test_emulator_native_withdrawal_advanced_by_admin(bare_devnet: Devnet, chain_emulator) -> None:
    emulator, _ = chain_emulator
    client = make_client(emulator)
    recipient = bare_devnet.w3.eth.accounts[4]
    before = bare_devnet.w3.eth.get_balance(recipient)
    client.withdraw("ETH", 1, recipient, params={"network": "ERC20", "withdrawOrderId": "wd-eth"})
    assert emulator.advance_withdrawals() == 1
    [done] = client.fetch_withdrawals("ETH")
    assert done["status"] == "ok"
    assert bare_devnet.w3.eth.get_balance(recipient) - before == 10**18 - 8 * 10**14


def test_emulator_withdrawal_below_minimum_is_bad_request(chain_emulator) -> None:
    emulator, _ = chain_emulator
    client = make_client(emulator)
    with pytest.raises(ccxt.BadRequest):
        client.withdraw("USDT", 5, "0x" + "33" * 20, params={"network": "ERC20"})
    assert client.fetch_balance()["USDT"]["total"] == 1000.0


def test_emulator_reference_follows_the_devnet_aggregator(bare_devnet: Devnet) -> None:
    feed = bare_devnet.deploy(
        "contracts/mocks/oracle/CLAggregators/MockAggregator.sol/MockAggregator.json", 2_345_67000000
    )
    handle = start_emulator(
        EmulatorConfig(rpc_url=bare_devnet.rpc_url, oracle_feeds={"ETH": feed}, poll_interval_s=3600)
    )
    try:
        book = make_client(handle).fetch_order_book("ETH/USDT", 5)
        assert book["bids"][0][0] < 2345.67 < book["asks"][0][0]
        assert book["asks"][0][0] - book["bids"][0][0] < 0.5
    finally:
        handle.stop()


def test_emulator_lost_withdraw_response_is_found_by_withdraw_order_id(chain_emulator) -> None:
    emulator, _ = chain_emulator
    client = make_client(emulator)
    emulator.add_fault("POST /sapi/v1/capital/withdraw/apply", "lost", how="504")
    with pytest.raises(ccxt.RequestTimeout):
        client.withdraw("USDT", 50, "0x" + "44" * 20, params={"network": "ERC20", "withdrawOrderId": "wd-lost"})
    rows = client.sapiGetCapitalWithdrawHistory({"withdrawOrderId": "wd-lost"})
    assert len(rows) == 1 and rows[0]["status"] == 4 and rows[0]["transactionFee"] == "1.00000000"
    assert client.fetch_balance()["USDT"]["total"] == 950.0


def test_emulator_failed_payment_marks_withdrawal_failed_and_refunds(bare_devnet: Devnet) -> None:
    handle = start_emulator(
        EmulatorConfig(
            rpc_url=bare_devnet.rpc_url, hot_wallet_key=None, poll_interval_s=3600, balances={"ETH": Decimal(2)}
        )
    )
    try:
        client = make_client(handle)
        client.withdraw("ETH", 1, "0x" + "55" * 20, params={"network": "ERC20"})
        handle.advance_withdrawals()
        [failed] = client.fetch_withdrawals("ETH")
        assert failed["status"] == "failed" and failed["info"]["status"] == 5
        assert client.fetch_balance()["ETH"]["total"] == 2.0
    finally:
        handle.stop()


def test_emulator_deposit_start_block_catches_earlier_transfers(bare_devnet: Devnet) -> None:
    probe = start_emulator(EmulatorConfig(poll_interval_s=3600, api_secret="p" * 64))
    address = probe.deposit_address
    probe.stop()
    user = bare_devnet.w3.eth.accounts[0]
    tx_hash = bare_devnet.w3.eth.send_transaction({"from": user, "to": address, "value": 10**17})
    block = bare_devnet.w3.eth.wait_for_transaction_receipt(tx_hash)["blockNumber"]
    handle = start_emulator(
        EmulatorConfig(
            rpc_url=bare_devnet.rpc_url,
            api_secret="p" * 64,
            deposit_start_block=block,
            deposit_confirmations=1,
            poll_interval_s=3600,
        )
    )
    try:
        handle.tick()
        assert handle.balances()["ETH"]["free"] == "0.10000000"
    finally:
        handle.stop()


def test_emulator_reference_follows_aave_oracle_divided_by_quote_price(bare_devnet: Devnet) -> None:
    aggregator = "contracts/mocks/oracle/CLAggregators/MockAggregator.sol/MockAggregator.json"
    eth_feed = bare_devnet.deploy(aggregator, 2_000_00000000)
    usdt_feed = bare_devnet.deploy(aggregator, 99_980_000)  # USDT at $0.9998
    weth, usdt = "0x" + "0" * 39 + "1", "0x" + "0" * 39 + "2"
    zero = "0x" + "0" * 40
    oracle = bare_devnet.deploy(
        "contracts/misc/AaveOracle.sol/AaveOracle.json",
        bare_devnet.w3.eth.accounts[0],
        [weth, usdt],
        [eth_feed, usdt_feed],
        zero,
        zero,
        10**8,
    )
    handle = start_emulator(
        EmulatorConfig(
            rpc_url=bare_devnet.rpc_url,
            aave_oracle=oracle,
            oracle_assets={"ETH": weth, "USDT": usdt},
            poll_interval_s=3600,
        )
    )
    try:
        assert handle.state()["prices"]["ETHUSDT"].startswith("2000.4000800")
        book = make_client(handle).fetch_order_book("ETH/USDT", 1)
        assert book["bids"][0][0] < 2000.40 < book["asks"][0][0]
    finally:
        handle.stop()

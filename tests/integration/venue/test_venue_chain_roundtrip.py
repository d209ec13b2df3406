"""A deposit credited from a real anvil chain and a USDT withdrawal that lands on it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from bot.devnet.exchange import CoinConfig, EmulatorConfig, EmulatorHandle, start_emulator
from bot.ports import TransferState
from tests.support.devnet import MINTABLE_ERC20, Devnet
from tests.support.emulator import HOT_WALLET_KEY, make_venue

pytestmark = pytest.mark.integration
D = Decimal


@pytest.fixture
def chain_setup(bare_devnet: Devnet) -> Iterator[tuple[EmulatorHandle, str]]:
    usdt = bare_devnet.deploy(MINTABLE_ERC20, "Tether USD", "USDT", 6)
    coins = {
        "ETH": CoinConfig("ETH", None, 18, D("0.0008"), D("0.0016")),
        "USDT": CoinConfig("USDT", usdt, 6, D(1), D(10), withdraw_multiple=D("0.000001")),
    }
    handle = start_emulator(
        EmulatorConfig(
            rpc_url=bare_devnet.rpc_url,
            hot_wallet_key=HOT_WALLET_KEY,
            coins=coins,
            deposit_confirmations=2,
            withdrawal_delay_s=0.3,
            poll_interval_s=0.1,
        )
    )
    try:
        yield handle, usdt
    finally:
        handle.stop()


def test_usdt_deposit_credited_then_withdrawal_lands_on_chain(bare_devnet: Devnet, chain_setup) -> None:
    emulator, usdt = chain_setup
    w3 = bare_devnet.w3
    user, recipient = w3.eth.accounts[0], w3.eth.accounts[2]
    venue = make_venue(emulator, withdrawal_allowlist=[recipient])
    token = bare_devnet.token(usdt)

    address = venue.deposit_address("USDT", "ERC20")
    assert address == emulator.deposit_address
    w3.eth.wait_for_transaction_receipt(token.functions.mint(user, 250 * 10**6).transact({"from": user}))
    tx_hash = token.functions.transfer(address, 250 * 10**6).transact({"from": user})
    w3.eth.wait_for_transaction_receipt(tx_hash)
    txid = "0x" + bytes(tx_hash).hex()
    bare_devnet.mine(2)
    deposit = venue.wait_for_deposit(coin="USDT", txid=txid, timeout_s=20, poll_s=0.2)
    assert deposit.state is TransferState.OK and deposit.amount == D(250)
    assert venue.balances()["USDT"] == D(250)

    before = token.functions.balanceOf(recipient).call()
    key = "roundtrip/withdraw-usdt"
    sent = venue.withdraw(key=key, coin="USDT", amount=D("100.5"), address=recipient, network="ERC20")
    assert sent.state in (TransferState.PENDING, TransferState.OK)
    deadline = time.time() + 20
    while (done := venue.withdrawal(key=key, coin="USDT")).state is TransferState.PENDING and time.time() < deadline:
        time.sleep(0.2)
    assert done.state is TransferState.OK and done.txid
    receipt = w3.eth.get_transaction_receipt(done.txid)
    assert receipt["status"] == 1
    assert token.functions.balanceOf(recipient).call() - before == 99_500_000  # 100.5 minus the 1 USDT fee
    assert (done.amount, done.fee) == (D("100.5"), D(1))  # amount - fee is what landed
    assert venue.balances()["USDT"] == D("149.5")

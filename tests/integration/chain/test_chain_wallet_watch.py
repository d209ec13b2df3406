"""The wallet watch on a real Aave devnet: what another signer does with the wallet (sends from
it, sends to it, moves its aTokens) is reported, what our own sender sent is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from bot.adapters.chain.wallet_watch import ChainWalletWatch
from bot.devnet import artifacts, scenario
from bot.devnet.aave_market import Deployer
from bot.engine.foreign_activity import foreign_items
from tests.support.chain import make_lending
from tests.support.devnet import Devnet

pytestmark = pytest.mark.integration


def _watch(aave: Devnet, lending) -> ChainWalletWatch:
    weth, usdt = aave.market.reserve("WETH"), aave.market.reserve("USDT")
    tokens = {weth.asset: "WETH", weth.a_token: "aWETH", usdt.asset: "USDT", usdt.a_token: "aUSDT"}
    return ChainWalletWatch(aave.w3, lending.sender.store, wallet=aave.wallet, chain_id=31337, tokens=tokens)


def _foreign_since(watch: ChainWalletWatch, start: tuple[int, int]) -> list[str]:
    block, nonce = start
    activity = watch.activity(block + 1, nonce_before=nonce)
    return foreign_items(activity, set(watch.own_tx_hashes()))


def test_our_own_withdraw_is_explained_by_the_store(aave: Devnet, tmp_path: Path) -> None:
    lending = make_lending(aave, tmp_path / "tx.db")
    watch = _watch(aave, lending)
    start = watch.head()
    result = lending.withdraw(key="w-1", symbol="WETH", amount=10**18)
    activity = watch.activity(start[0] + 1, nonce_before=start[1])
    assert activity.nonce == start[1] + 1 and activity.foreign_nonces == ()
    assert {(t.token, t.incoming, t.tx_hash) for t in activity.transfers} >= {("WETH", True, result.tx_hash.lower())}
    assert _foreign_since(watch, start) == []


def test_another_signer_sending_from_to_and_moving_atokens_is_foreign(aave: Devnet, tmp_path: Path) -> None:
    lending = make_lending(aave, tmp_path / "tx.db")
    watch = _watch(aave, lending)
    start = watch.head()
    other = scenario.accounts(aave.w3)[7]
    scenario.mint(aave.w3, aave.market, "USDT", to=aave.wallet, amount=25 * 10**6)  # sent to the wallet
    a_weth = aave.w3.eth.contract(address=aave.market.reserve("WETH").a_token, abi=artifacts.abi("AToken"))
    # the wallet's key used outside our sender (anvil's unlocked account): aTokens moved away
    Deployer(aave.w3, aave.wallet).call(
        "move aWETH", a_weth.functions.transfer(Web3.to_checksum_address(other), 3 * 10**18)
    )
    found = _foreign_since(watch, start)
    assert found[0] == f"a transaction at nonce {start[1]} that we never signed"
    assert any(f.startswith("25000000 base units of USDT into the wallet") for f in found), found
    assert any(f.startswith("3000000000000000000 base units of aWETH out of the wallet") for f in found), found

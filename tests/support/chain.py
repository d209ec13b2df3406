"""Helpers for the chain adapter's tests on a devnet (``tests.support.devnet``): a local signer,
a tx sender and an Aave lending adapter wired the way the factory wires them, mock tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from bot.adapters.chain.aave_lending import AaveLending, LendingConfig
from bot.adapters.chain.aave_reader import AaveReader
from bot.adapters.chain.tx_sender import SenderConfig, TxSender
from bot.adapters.chain.tx_store import TxStore
from bot.devnet import scenario
from bot.domain import decimal_to_wad
from tests.support.devnet import MINTABLE_ERC20, Devnet

SIGNER_INDEX = 5  # a funded anvil account nobody else uses in the bare-anvil tests


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in response:
        raise RuntimeError(f"{method}: {response['error']}")
    return response.get("result")


def local_account(index: int) -> LocalAccount:
    _address, key = scenario.account_key(index)
    return Account.from_key(key)


def make_sender(w3: Web3, store_path: Path, *, index: int = SIGNER_INDEX, clock: Any = None, **config: Any) -> TxSender:
    settings = {"chain_id": 31337, "poll_interval": 0.01, "wait_timeout": 10.0, **config}
    return TxSender(w3, local_account(index), TxStore(store_path), SenderConfig(**settings), clock=clock)


def deploy_token(
    devnet: Devnet, *, symbol: str = "TKN", decimals: int = 6, mint_to: str | None = None, amount: int = 0
) -> Any:
    token = devnet.token(devnet.deploy(MINTABLE_ERC20, symbol, symbol, decimals))
    if mint_to:
        devnet.w3.eth.wait_for_transaction_receipt(
            token.functions.mint(mint_to, amount).transact({"from": mint_to}), poll_latency=0.01
        )
    return token


def make_lending(
    chain: Devnet, store_path: Path, *, hf_floor: str = "1.1", clock: Any = None, **sender_config: Any
) -> AaveLending:
    reader = AaveReader(
        chain.w3, pool_addresses_provider=chain.market.pool_addresses_provider, multicall3=chain.market.multicall3
    )
    sender = make_sender(chain.w3, store_path, index=scenario.DEMO_WALLET_INDEX, clock=clock, **sender_config)
    return AaveLending(reader, sender, LendingConfig(hf_floor_wad=decimal_to_wad(hf_floor)))

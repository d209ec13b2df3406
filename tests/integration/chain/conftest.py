"""Fixtures for the chain adapter: a bare anvil (tx sender) and a deployed Aave market.

Both are module-scoped; each test runs inside an ``evm_snapshot`` that is reverted afterwards,
with automine back on (a revert does not restore mining settings). Each test gets its own tx
store, since a revert also rewinds nonces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from bot.adapters.chain.aave_lending import AaveLending, LendingConfig
from bot.adapters.chain.aave_reader import AaveReader
from bot.adapters.chain.rpc import make_web3
from bot.adapters.chain.tx_sender import SenderConfig, TxSender
from bot.adapters.chain.tx_store import TxStore
from bot.devnet import anvil, scenario
from bot.devnet.aave_market import Market, deploy_market
from bot.devnet.scenario import OpenedPosition
from bot.domain import decimal_to_wad

ARTIFACTS = Path(__file__).resolve().parents[3] / "devnet-deps/node_modules/@aave/core-v3/artifacts"
SIGNER_INDEX = 5  # a funded anvil account nobody else uses in the bare-anvil tests


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in response:
        raise RuntimeError(f"{method}: {response['error']}")
    return response.get("result")


def local_account(index: int) -> LocalAccount:
    _address, key = scenario.account_key(index)
    return Account.from_key(key)


@dataclass
class BareChain:
    node: anvil.Anvil
    w3: Web3


@pytest.fixture(scope="module")
def bare_node() -> Iterator[BareChain]:
    with anvil.Anvil() as node:
        yield BareChain(node, make_web3(node.rpc_url))


@pytest.fixture()
def bare(bare_node: BareChain) -> Iterator[BareChain]:
    yield from _isolated(bare_node.w3, bare_node)


def _isolated(w3: Web3, value: Any) -> Iterator[Any]:
    snapshot_id = anvil.snapshot(w3)
    try:
        yield value
    finally:
        rpc(w3, "evm_setAutomine", True)
        rpc(w3, "anvil_dropAllTransactions")
        anvil.revert(w3, snapshot_id)
        # anvil keeps a spiked next-block base fee across a revert: put it back.
        rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(w3.eth.get_block("latest")["baseFeePerGas"]))


def make_sender(w3: Web3, store_path: Path, *, index: int = SIGNER_INDEX, clock: Any = None,
                **config: Any) -> TxSender:
    settings = {"chain_id": 31337, "poll_interval": 0.01, "wait_timeout": 10.0, **config}
    return TxSender(w3, local_account(index), TxStore(store_path), SenderConfig(**settings), clock=clock)


def deploy_token(w3: Web3, *, symbol: str = "TKN", decimals: int = 6, mint_to: str | None = None,
                 amount: int = 0) -> Any:
    artifact = json.loads((ARTIFACTS / "contracts/mocks/tokens/MintableERC20.sol/MintableERC20.json").read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    deployer = w3.eth.accounts[0]
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor(symbol, symbol, decimals).transact({"from": deployer}), poll_latency=0.01
    )
    token = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    if mint_to:
        w3.eth.wait_for_transaction_receipt(
            token.functions.mint(mint_to, amount).transact({"from": mint_to}), poll_latency=0.01
        )
    return token


# -- the Aave market ----------------------------------------------------------------------------
@dataclass
class AaveChain:
    node: anvil.Anvil
    w3: Web3
    market: Market
    position: OpenedPosition
    liquidity_provider: str
    wallet: str  # the demo wallet (anvil account 2), signing locally


@contextmanager
def aave_chain() -> Iterator[AaveChain]:
    """anvil + the devnet's Aave market + the demo position (account 2), stopped on exit."""
    with anvil.Anvil() as node:
        w3 = make_web3(node.rpc_url)
        accounts = scenario.accounts(w3)
        market = deploy_market(w3, admin=accounts[scenario.ADMIN_INDEX])
        provider = accounts[scenario.LIQUIDITY_PROVIDER_INDEX]
        scenario.provide_liquidity(w3, market, provider=provider)
        wallet = accounts[scenario.DEMO_WALLET_INDEX]
        position = scenario.open_position(w3, market, wallet=wallet)
        yield AaveChain(node, w3, market, position, provider, wallet)


@pytest.fixture(scope="module")
def aave_node() -> Iterator[AaveChain]:
    with aave_chain() as chain:
        yield chain


@pytest.fixture()
def aave(aave_node: AaveChain) -> Iterator[AaveChain]:
    yield from _isolated(aave_node.w3, aave_node)


def make_lending(chain: AaveChain, store_path: Path, *, hf_floor: str = "1.1", clock: Any = None,
                 **sender_config: Any) -> AaveLending:
    reader = AaveReader(chain.w3, pool_addresses_provider=chain.market.pool_addresses_provider,
                        multicall3=chain.market.multicall3)
    sender = make_sender(chain.w3, store_path, index=scenario.DEMO_WALLET_INDEX, clock=clock, **sender_config)
    return AaveLending(reader, sender, LendingConfig(hf_floor_wad=decimal_to_wad(hf_floor)))

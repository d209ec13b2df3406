"""A deployed devnet market shared by a test module; each test runs inside an evm snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from web3 import Web3

from bot.devnet import anvil, scenario
from bot.devnet.aave_market import Market, deploy_market
from bot.devnet.scenario import OpenedPosition


@dataclass(frozen=True)
class Devnet:
    node: anvil.Anvil
    w3: Web3
    market: Market
    position: OpenedPosition
    liquidity_provider: str


@pytest.fixture(scope="module")
def devnet() -> Iterator[Devnet]:
    with anvil.Anvil() as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        accounts = scenario.accounts(w3)
        market = deploy_market(w3, admin=accounts[scenario.ADMIN_INDEX])
        provider = accounts[scenario.LIQUIDITY_PROVIDER_INDEX]
        scenario.provide_liquidity(w3, market, provider=provider)
        position = scenario.open_position(w3, market, wallet=accounts[scenario.DEMO_WALLET_INDEX])
        yield Devnet(node, w3, market, position, provider)


@pytest.fixture()
def chain(devnet: Devnet) -> Iterator[Devnet]:
    """The shared devnet, reverted to its deployed state after the test."""
    snapshot_id = anvil.snapshot(devnet.w3)
    try:
        yield devnet
    finally:
        anvil.revert(devnet.w3, snapshot_id)

"""A deployed devnet market shared by a test module; each test runs inside an evm snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from web3 import Web3

from bot.devnet import anvil
from bot.devnet.aave_market import Market
from bot.devnet.local import local_devnet
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
    with local_devnet() as local:
        yield Devnet(local.node, local.w3, local.market, local.demo.position, local.demo.liquidity_provider)


@pytest.fixture()
def chain(devnet: Devnet) -> Iterator[Devnet]:
    """The shared devnet, reverted to its deployed state after the test."""
    snapshot_id = anvil.snapshot(devnet.w3)
    try:
        yield devnet
    finally:
        anvil.revert(devnet.w3, snapshot_id)

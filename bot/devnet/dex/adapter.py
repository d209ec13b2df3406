"""Deploy the project's deleverage adapter on the devnet from an unlocked account (its owner)."""

from __future__ import annotations

from web3 import Web3

from bot.adapters.chain import dex_adapter
from bot.devnet.aave_market import Deployer


def deploy_adapter(w3: Web3, *, owner: str, pool: str, router: str) -> str:
    """The adapter's address; ``owner`` (an unlocked anvil account) is the only account that may
    start a deleverage, and the one whose position it works on."""
    d = Deployer(w3, owner)
    factory = w3.eth.contract(abi=dex_adapter.abi(), bytecode=dex_adapter.creation_code())
    receipt = d.call(
        "deploy DeleverageAdapter",
        factory.constructor(Web3.to_checksum_address(pool), Web3.to_checksum_address(router)),
    )
    return str(receipt["contractAddress"])

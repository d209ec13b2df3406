"""Multicall3 at its canonical address on the devnet (see ``contracts/PROVENANCE.md``)."""

from __future__ import annotations

from importlib import resources
from typing import Any

MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"

# The subset of the Multicall3 ABI the project uses.
MULTICALL3_ABI: list[dict[str, Any]] = [
    {
        "name": "aggregate3",
        "type": "function",
        "stateMutability": "payable",
        "inputs": [
            {
                "name": "calls",
                "type": "tuple[]",
                "components": [
                    {"name": "target", "type": "address"},
                    {"name": "allowFailure", "type": "bool"},
                    {"name": "callData", "type": "bytes"},
                ],
            }
        ],
        "outputs": [
            {
                "name": "returnData",
                "type": "tuple[]",
                "components": [{"name": "success", "type": "bool"}, {"name": "returnData", "type": "bytes"}],
            }
        ],
    },
    {
        "name": "getBlockNumber",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "blockNumber", "type": "uint256"}],
    },
    {
        "name": "getCurrentBlockTimestamp",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "timestamp", "type": "uint256"}],
    },
]


def _data_file(name: str) -> str:
    return resources.files("bot.devnet.contracts").joinpath(name).read_text().strip()


def runtime_code() -> str:
    """Multicall3's runtime bytecode, "0x…"."""
    return _data_file("multicall3.runtime.hex")


def deploy_transaction() -> str:
    """The pre-signed canonical deployment transaction, "0x…"."""
    return _data_file("multicall3.deploy-tx.hex")


def install_multicall3(w3: Any) -> str:
    """Make sure Multicall3 answers at its canonical address; install the runtime code if absent."""
    from bot.devnet.anvil import set_code

    existing = bytes(w3.eth.get_code(MULTICALL3_ADDRESS))
    expected = bytes.fromhex(runtime_code().removeprefix("0x"))
    if existing != expected:
        set_code(w3, MULTICALL3_ADDRESS, "0x" + expected.hex())
    return MULTICALL3_ADDRESS

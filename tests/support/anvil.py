"""A bare anvil on a free loopback port and mock tokens deployed from the Aave artifacts."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "devnet-deps/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
ARTIFACTS = ROOT / "devnet-deps/node_modules/@aave/core-v3/artifacts/contracts"
# anvil's public test keys (mnemonic "test test ... junk"): 0 = user, 1 = exchange hot wallet
USER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HOT_WALLET_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Anvil:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), "--silent", "--chain-id", "31337"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.w3 = Web3(HTTPProvider(self.url, request_kwargs={"timeout": 10}))
        deadline = time.time() + 15
        while True:
            try:
                self.w3.eth.block_number
                break
            except Exception:
                if time.time() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("anvil did not start")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def mine(self, blocks: int = 1) -> None:
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])

    def deploy(self, artifact: str, *args) -> str:
        data = json.loads((ARTIFACTS / artifact).read_text())
        factory = self.w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
        sender = self.w3.eth.accounts[0]
        tx_hash = factory.constructor(*args).transact({"from": sender})
        return self.w3.eth.wait_for_transaction_receipt(tx_hash)["contractAddress"]

    def token(self, address: str):
        data = json.loads((ARTIFACTS / "mocks/tokens/MintableERC20.sol/MintableERC20.json").read_text())
        return self.w3.eth.contract(address=address, abi=data["abi"])


def start_anvil() -> Iterator[Anvil]:
    anvil = Anvil()
    try:
        yield anvil
    finally:
        anvil.stop()

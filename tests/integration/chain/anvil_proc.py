"""A bare anvil on a free loopback port, for the transaction-sender tests."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from web3 import Web3

ROOT = Path(__file__).resolve().parents[3]
ANVIL = ROOT / "devnet-deps/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
ARTIFACTS = ROOT / "devnet-deps/node_modules/@aave/core-v3/artifacts"
# anvil's public test keys (default mnemonic): not secrets, but still never logged.
ANVIL_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AnvilProcess:
    def __init__(self, *extra: str, chain_id: int = 31337) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.chain_id = chain_id
        self.proc = subprocess.Popen(
            [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), "--chain-id", str(chain_id), "--silent",
             *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.w3 = Web3(Web3.HTTPProvider(self.url, exception_retry_configuration=None))
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                self.w3.eth.block_number
                return
            except Exception:  # noqa: BLE001
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("anvil did not start")

    def rpc(self, method: str, *params: object) -> object:
        response = self.w3.provider.make_request(method, list(params))
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response.get("result")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

"""The one way tests start a devnet.

``start_devnet(demo)``: anvil as a child of the test process and, unless ``demo`` is None, the
Aave v3 market with the demo position (``bot.devnet.local.deploy_demo``, what `devnet up`
deploys). ``cli_devnet(state_dir)``: `delever devnet up` in a subprocess, as a user starts it
(anvil mining a block a second, the exchange emulator, the state file), always brought down.

The fixtures (loaded for every test by the root ``conftest.py``) are module-scoped: with
``pytest -n 2 --dist loadscope`` a module runs on one worker, so its devnet starts once. Tests
that change the chain take ``reverted(...)``, which puts the snapshot back afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from bot.adapters.chain.rpc import make_web3
from bot.devnet import anvil
from bot.devnet.aave_market import Market
from bot.devnet.dex.depth import DepthProfile
from bot.devnet.local import DemoDeployment, DemoOptions, deploy_demo
from bot.devnet.scenario import OpenedPosition
from bot.devnet.state import read_state_data

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "devnet.toml"
ARTIFACTS = ROOT / "devnet-deps/node_modules/@aave/core-v3/artifacts"
MINTABLE_ERC20 = "contracts/mocks/tokens/MintableERC20.sol/MintableERC20.json"


@dataclass(frozen=True)
class Devnet:
    """A running anvil, and the demo deployment on it when one was asked for."""

    node: anvil.Anvil
    w3: Web3
    demo: DemoDeployment | None

    @property
    def rpc_url(self) -> str:
        return self.node.rpc_url

    @property
    def deployed(self) -> DemoDeployment:
        if self.demo is None:
            raise AssertionError("this devnet is a bare anvil: start it with a DemoOptions")
        return self.demo

    @property
    def market(self) -> Market:
        return self.deployed.market

    @property
    def wallet(self) -> str:
        return self.deployed.wallet

    @property
    def position(self) -> OpenedPosition:
        return self.deployed.position

    @property
    def liquidity_provider(self) -> str:
        return self.deployed.liquidity_provider

    def mine(self, blocks: int = 1) -> None:
        anvil.rpc_call(self.rpc_url, "anvil_mine", [hex(blocks)])

    def deploy(self, artifact: str, *args: Any) -> str:
        """Deploy a compiled Aave artifact (path under ``artifacts/``) from account 0; its address."""
        data = json.loads((ARTIFACTS / artifact).read_text())
        factory = self.w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
        tx_hash = factory.constructor(*args).transact({"from": self.w3.eth.accounts[0]})
        return str(self.w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.01)["contractAddress"])

    def token(self, address: str) -> Any:
        """A MintableERC20 (the Aave mocks' token) at ``address``."""
        data = json.loads((ARTIFACTS / MINTABLE_ERC20).read_text())
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=data["abi"])


@contextmanager
def start_devnet(
    demo: DemoOptions | None = DemoOptions(), anvil_options: anvil.AnvilOptions | None = None
) -> Iterator[Devnet]:
    """anvil (child process) and, unless ``demo`` is None, the demo deployment; stopped on exit."""
    with anvil.Anvil(anvil_options or anvil.AnvilOptions()) as node:
        w3 = make_web3(node.rpc_url, timeout=30)
        yield Devnet(node, w3, deploy_demo(w3, node.rpc_url, demo) if demo is not None else None)


@contextmanager
def reverted(w3: Web3) -> Iterator[None]:
    """Run the body on the chain as it is now, and put it back afterwards (automine on, pool
    empty, base fee as it was: anvil keeps a spiked next-block base fee across a revert)."""
    snapshot_id = anvil.snapshot(w3)
    try:
        yield
    finally:
        w3.provider.make_request("evm_setIntervalMining", [0])  # type: ignore[arg-type]
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        w3.provider.make_request("anvil_dropAllTransactions", [])  # type: ignore[arg-type]
        anvil.revert(w3, snapshot_id)
        base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
        w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bare_devnet() -> Iterator[Devnet]:
    """A bare anvil shared by the module."""
    with start_devnet(demo=None) as devnet:
        yield devnet


@pytest.fixture(scope="module")
def aave_devnet() -> Iterator[Devnet]:
    """anvil + Aave v3 + the demo position (100 WETH at HF ≈ 1.45), shared by the module."""
    with start_devnet(DemoOptions()) as devnet:
        yield devnet


@pytest.fixture(scope="module")
def dex_devnet() -> Iterator[Devnet]:
    """``aave_devnet`` plus Uniswap v3 WETH/USDT and WETH/USDC pools (the default depth profile,
    what `devnet up` deploys), shared by the module."""
    with start_devnet(DemoOptions(dex=DepthProfile())) as devnet:
        yield devnet


# ---- `delever devnet up`, as a user runs it --------------------------------------------------


def cli_env(state_dir: Path) -> dict[str, str]:
    """The user's environment without any DELEVER_* of the caller, pointed at ``state_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEVER_")}
    env.update({"DELEVER_STATE_DIR": str(state_dir), "DELEVER_CONFIG": str(CONFIG), "PYTHONPATH": str(ROOT)})
    return env


def run_cli(
    state_dir: Path, *args: str, extra_env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``delever ARGS`` in a subprocess with ``cli_env(state_dir)``."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**cli_env(state_dir), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def devnet_up(state_dir: Path, *args: str, cwd: Path = ROOT) -> dict[str, Any]:
    """`delever devnet up --json ARGS` in ``state_dir``; its connection facts."""
    state_dir.mkdir(parents=True, exist_ok=True)
    up = run_cli(state_dir, "devnet", "up", "--json", *args, cwd=cwd, timeout=180)
    if up.returncode != 0:
        raise RuntimeError(f"devnet up failed ({up.returncode}): {up.stderr.strip()[-2000:]}")
    return dict(json.loads(up.stdout))


def devnet_down(state_dir: Path, cwd: Path = ROOT) -> None:
    """`delever devnet down`, then stop, by pid, anything the state file still names (no orphan
    anvil or emulator after a failed test)."""
    state = read_state_data(state_dir / "devnet.json") or {}
    run_cli(state_dir, "devnet", "down", cwd=cwd, timeout=60)
    for pid in (state.get("pids") or {}).values():  # a no-op after a clean `down`
        if anvil.pid_alive(int(pid)):
            anvil.terminate_pid(int(pid))


@contextmanager
def cli_devnet(state_dir: Path, *args: str) -> Iterator[dict[str, Any]]:
    """`delever devnet up --json ARGS` for the body, always brought down afterwards."""
    try:
        yield devnet_up(state_dir, *args)
    finally:
        devnet_down(state_dir)

"""`delever devnet ...` as a user runs it: subprocesses, a detached anvil, the state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from bot.devnet import anvil

pytestmark = pytest.mark.integration

UP_KEYS = {"rpc_url", "chain_id", "pool_addresses_provider", "pool", "wallet", "tokens", "oracle", "data_provider",
           "multicall3", "price_feeds", "pids", "exchange_url", "api_key", "api_secret"}  # fmt: skip


def _run(state_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DELEVER_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "devnet", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture()
def state_dir(tmp_path):
    yield tmp_path
    # Whatever the test did, leave no anvil behind.
    _run(tmp_path, "down")
    state_file = tmp_path / "devnet.json"
    if state_file.exists():
        for pid in json.loads(state_file.read_text())["pids"].values():
            anvil.terminate_pid(pid)


def test_devnet_cli_up_set_price_advance_status_down(state_dir) -> None:
    up = _run(state_dir, "up", "--json")
    assert up.returncode == 0, up.stderr
    lines = up.stdout.strip().splitlines()
    assert len(lines) == 1
    facts = json.loads(lines[0])
    assert facts.keys() >= UP_KEYS
    assert "wallet_private_key" not in facts
    assert facts["chain_id"] == 31337 and facts["rpc_url"].startswith("http://127.0.0.1:")
    assert set(facts["tokens"]) == {"WETH", "WBTC", "USDC", "USDT"}
    pid = facts["pids"]["anvil"]
    assert anvil.pid_alive(pid)
    state_file = json.loads((state_dir / "devnet.json").read_text())
    assert state_file["wallet_private_key"].startswith("0x")
    # The exchange emulator runs beside the chain and answers the public Binance routes.
    assert facts["exchange_url"].startswith("http://127.0.0.1:") and facts["api_key"]
    assert facts["api_secret"] == "********" and len(state_file["api_secret"]) > 8  # printed masked, kept in the file
    exchange_pid = facts["pids"]["exchange"]
    assert anvil.pid_alive(exchange_pid)
    with urllib.request.urlopen(facts["exchange_url"] + "/api/v3/ticker/24hr?symbol=ETHUSDT", timeout=10) as reply:
        assert abs(Decimal(json.loads(reply.read())["bidPrice"]) - 2000) < 1  # follows the devnet oracle

    again = _run(state_dir, "up", "--json")
    assert again.returncode == 2
    assert again.stdout == ""
    assert "already running" in again.stderr.strip().splitlines()[-1]

    status = json.loads(_run(state_dir, "status", "--json").stdout)
    assert status["running"] is True
    hf_start = Decimal(status["health_factor"])
    assert abs(hf_start - Decimal("1.45")) < Decimal("1e-6")

    moved = _run(state_dir, "set-price", "WETH", "1600", "--json")
    assert moved.returncode == 0, moved.stderr
    hf_moved = Decimal(json.loads(moved.stdout)["health_factor"])
    assert abs(hf_moved - hf_start * Decimal("0.8")) < Decimal("1e-6")  # HF scales with the collateral price

    huge = _run(state_dir, "set-price", "WETH", "1e308")
    assert huge.returncode == 2 and len(huge.stderr.strip().splitlines()) == 1
    unchanged = json.loads(_run(state_dir, "status", "--json").stdout)  # the feed was not written
    assert abs(Decimal(unchanged["health_factor"]) - hf_moved) < Decimal("1e-6")

    advanced = _run(state_dir, "advance", "30d", "--json")
    assert advanced.returncode == 0, advanced.stderr
    assert Decimal(json.loads(advanced.stdout)["health_factor"]) < hf_moved  # interest accrued

    unknown = _run(state_dir, "set-price", "DOGE", "1")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1

    down = _run(state_dir, "down", "--json")
    assert down.returncode == 0 and json.loads(down.stdout) == {
        "stopped": ["exchange", "anvil"],
        "journals_moved": {},
        "journals_in_use": [],
    }
    assert not anvil.pid_alive(pid) and not anvil.pid_alive(exchange_pid)
    assert not (state_dir / "devnet.json").exists()
    assert _run(state_dir, "down").returncode == 0
    assert json.loads(_run(state_dir, "status", "--json").stdout)["running"] is False


def test_devnet_cli_up_with_sizes_and_port(state_dir) -> None:
    port = anvil.free_port()
    up = _run(state_dir, "up", "--json", "--collateral", "10", "--hf", "2", "--port", str(port))
    assert up.returncode == 0, up.stderr
    facts = json.loads(up.stdout)
    assert facts["rpc_url"] == f"http://127.0.0.1:{port}"
    status = json.loads(_run(state_dir, "status", "--json").stdout)
    assert abs(Decimal(status["health_factor"]) - 2) < Decimal("1e-6")


def test_devnet_cli_up_refusing_the_target_leaves_no_process(state_dir) -> None:
    up = _run(state_dir, "up", "--hf", "1.01")  # below LT/LTV = 1.031: the borrow would revert
    assert up.returncode == 2
    assert "LTV" in up.stderr
    assert not (state_dir / "devnet.json").exists()
    log = (state_dir / "anvil.log").read_text()
    assert log  # anvil ran…
    # …and is gone: no process listens on any port recorded in its log.
    ports = [line.split(":")[-1] for line in log.splitlines() if "Listening on" in line]
    assert ports and not anvil.is_answering(f"http://127.0.0.1:{ports[-1].strip()}")

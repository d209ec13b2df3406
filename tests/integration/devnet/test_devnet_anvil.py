"""The anvil runner: starts on loopback, answers, stops, and never outlives a killed test process."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bot.devnet import anvil
from bot.errors import UserInputError

pytestmark = pytest.mark.integration


def test_anvil_context_manager_starts_answers_and_stops() -> None:
    with anvil.Anvil(anvil.AnvilOptions(chain_id=1337)) as node:
        assert node.rpc_url.startswith("http://127.0.0.1:")
        assert int(anvil.rpc_call(node.rpc_url, "eth_chainId"), 16) == 1337
        pid = node.process.pid
    assert not anvil.pid_alive(pid)
    assert not anvil.is_answering(node.rpc_url)


def test_anvil_no_mining_mines_only_on_request() -> None:
    with anvil.Anvil(anvil.AnvilOptions(no_mining=True)) as node:
        account = anvil.rpc_call(node.rpc_url, "eth_accounts")[0]
        anvil.rpc_call(node.rpc_url, "eth_sendTransaction", [{"from": account, "to": account, "value": "0x1"}])
        assert anvil.rpc_call(node.rpc_url, "eth_blockNumber") == "0x0"
        anvil.rpc_call(node.rpc_url, "evm_mine")
        assert anvil.rpc_call(node.rpc_url, "eth_blockNumber") == "0x1"


def test_anvil_taken_port_is_refused_with_an_error() -> None:
    with anvil.Anvil() as first, pytest.raises(UserInputError, match="in use"):
        anvil.Anvil(anvil.AnvilOptions(port=first.port), startup_timeout=5).start()


def test_anvil_dies_with_a_killed_parent() -> None:
    script = (
        "from bot.devnet import anvil\n"
        "node = anvil.Anvil().start()\n"
        "print(node.process.pid, node.rpc_url, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid_text, url = parent.stdout.readline().split()
        assert anvil.is_answering(url)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while anvil.pid_alive(int(pid_text)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not anvil.pid_alive(int(pid_text))

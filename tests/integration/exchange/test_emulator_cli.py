"""``python -m bot.devnet.exchange`` as a background process reading a devnet state file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import ccxt
import pytest

from bot.devnet.exchange import ccxt_config
from tests.support.devnet import ROOT, start_devnet

pytestmark = pytest.mark.integration


def test_emulator_cli_serves_prints_facts_and_updates_state(tmp_path: Path) -> None:
    with start_devnet(demo=None) as anvil:
        usdt = anvil.deploy("contracts/mocks/tokens/MintableERC20.sol/MintableERC20.json", "Tether USD", "USDT", 6)
        state_file = tmp_path / "devnet.json"
        state_file.write_text(json.dumps({"rpc_url": anvil.rpc_url, "chain_id": 31337, "tokens": {"USDT": usdt}}))
        env = dict(os.environ, DELEVER_EXCHANGE__API_KEY="k" * 64, DELEVER_EXCHANGE__API_SECRET="s" * 64)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.devnet.exchange",
                "--port",
                "0",
                "--state-file",
                str(state_file),
                "--update-state",
                "--price",
                "ETHUSDT=2500",
                "--balance",
                "ETH=3",
                "--info-file",
                str(tmp_path / "info.json"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            facts = json.loads(process.stdout.readline())
            assert facts["api_key"] == "k" * 64 and facts["exchange_url"].startswith("http://127.0.0.1:")
            assert facts["exchange_hot_wallet"] == "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
            state = json.loads(state_file.read_text())
            assert state["exchange_url"] == facts["exchange_url"] and state["pids"]["exchange"] == process.pid
            assert state["tokens"] == {"USDT": usdt}
            assert (tmp_path / "info.json").stat().st_mode & 0o077 == 0
            client = ccxt.binance(ccxt_config(facts["exchange_url"], facts["api_key"], facts["api_secret"]))
            client.load_markets()
            assert client.currencies["USDT"]["networks"]["ERC20"]["info"]["contractAddress"] == usdt
            assert 2490 < client.fetch_order_book("ETH/USDT", 5)["bids"][0][0] < 2500
            assert client.fetch_balance()["ETH"]["total"] == 3.0
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0

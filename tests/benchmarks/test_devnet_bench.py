"""Devnet timings: anvil start, full market deployment, `devnet up` wall time.

`make bench` runs them with pytest-benchmark; `make test` runs each once as a smoke test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from web3 import Web3

from bot.devnet import anvil, scenario
from bot.devnet.aave_market import deploy_market

pytestmark = pytest.mark.integration


def test_bench_anvil_start_until_it_answers(benchmark) -> None:
    def start_stop() -> None:
        with anvil.Anvil() as node:
            assert anvil.is_answering(node.rpc_url)

    benchmark.pedantic(start_stop, rounds=5, iterations=1, warmup_rounds=1)


def test_bench_full_market_deployment(benchmark) -> None:
    with anvil.Anvil() as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        admin = scenario.accounts(w3)[0]
        market = benchmark.pedantic(lambda: deploy_market(w3, admin=admin), rounds=3, iterations=1, warmup_rounds=1)
        assert len(market.reserves) == 4


def test_bench_devnet_up_wall_time(benchmark, tmp_path) -> None:
    env = {**os.environ, "DELEVER_STATE_DIR": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", "devnet", *args], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    def up() -> dict:
        result = cli("up", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    try:
        facts = benchmark.pedantic(up, teardown=lambda: cli("down"), rounds=3, iterations=1)
        assert facts["chain_id"] == 31337
    finally:
        cli("down")

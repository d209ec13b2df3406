"""`delever status` as a user runs it: a subprocess against the devnet state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.devnet import scenario
from tests.support.devnet import Devnet

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def run_status(
    state_dir: Path, *args: str, config: str | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEVER_")}
    env.update({"DELEVER_STATE_DIR": str(state_dir), **(extra_env or {})})
    root_args = ["--config", config] if config else []
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *root_args, "status", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_state(chain: Devnet, state_dir: Path, *, chain_id: int = 31337) -> None:
    state = {
        "rpc_url": chain.node.rpc_url,
        "chain_id": chain_id,
        "pool_addresses_provider": chain.market.pool_addresses_provider,
        "pool": chain.market.pool,
        "multicall3": chain.market.multicall3,
        "wallet": chain.wallet,
        "wallet_private_key": scenario.account_key(scenario.DEMO_WALLET_INDEX)[1],
        "oracle": chain.market.oracle,
        "data_provider": chain.market.data_provider,
        "tokens": chain.market.tokens,
        "price_feeds": chain.market.price_feeds,
        "pids": {},
        "started_at": "2026-01-01T00:00:00Z",
        "exchange_url": "http://127.0.0.1:9",
        "api_key": "k" * 24,
        "api_secret": "s" * 48,  # unused by status
    }
    (state_dir / "devnet.json").write_text(json.dumps(state))


def test_status_json_reports_position_matching_the_pool(aave: Devnet, tmp_path: Path) -> None:
    write_state(aave, tmp_path)
    done = run_status(tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)  # exactly one JSON object on stdout
    on_chain = scenario.pool_account_data(aave.w3, aave.market.pool, aave.wallet, block=payload["block"])
    assert payload["chain_id"] == 31337 and payload["wallet"] == aave.wallet
    assert Decimal(payload["health_factor"]) == Decimal(on_chain.health_factor_wad) / 10**18
    assert Decimal(payload["total_debt_usd"]) == Decimal(on_chain.total_debt_base) / 10**8
    assert [c["symbol"] for c in payload["collateral"]] == ["WETH"]
    assert Decimal(payload["collateral"][0]["liquidation_price_usd"]) < Decimal(payload["collateral"][0]["price_usd"])
    assert [d["symbol"] for d in payload["debt"]] == ["USDT"]
    assert payload["matches_chain"] is True
    assert scenario.account_key(scenario.DEMO_WALLET_INDEX)[1][2:] not in done.stdout + done.stderr


def test_status_table_on_terminal_output(aave: Devnet, tmp_path: Path) -> None:
    write_state(aave, tmp_path)
    done = run_status(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Health factor" in done.stdout and "WETH" in done.stdout and "USDT" in done.stdout


def test_status_chain_id_mismatch_exits_2_with_one_line(aave: Devnet, tmp_path: Path) -> None:
    write_state(aave, tmp_path, chain_id=1)
    done = run_status(tmp_path, "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "chain id 31337" in done.stderr


def test_status_without_config_or_state_exits_2(tmp_path: Path) -> None:
    done = run_status(tmp_path, "--json")
    assert done.returncode == 2 and "no state file" in done.stderr


def test_status_json_through_the_devnet_config(aave: Devnet, tmp_path: Path) -> None:
    write_state(aave, tmp_path)
    done = run_status(tmp_path, "--json", config="config/devnet.toml")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["wallet"] == aave.wallet and payload["matches_chain"] is True


def test_status_config_chain_id_mismatch_exits_2(aave: Devnet, tmp_path: Path) -> None:
    write_state(aave, tmp_path)
    done = run_status(tmp_path, "--json", config="config/devnet.toml", extra_env={"DELEVER_CHAIN__CHAIN_ID": "1337"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "chain id 31337" in done.stderr and "1337" in done.stderr

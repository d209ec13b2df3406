"""Helpers for the settings, config-check and logging tests: keys, files, environments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from eth_account import Account

REPO = Path(__file__).resolve().parents[2]

KEY_A = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
ADDRESS_A = Account.from_key(KEY_A).address
KEY_B = "0x" + "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ADDRESS_B = Account.from_key(KEY_B).address
MAINNET_PROVIDER = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"
SEPOLIA_PROVIDER = "0x012bAC54348C0E635dCAc9D5FB99f06F24136C9A"

DRY_RUN_TOML = f"""
mode = "dry-run"

[chain]
rpc_url = "http://127.0.0.1:8545"
chain_id = 1
pool_addresses_provider = "{MAINNET_PROVIDER}"

[wallet]
address = "{ADDRESS_A}"
"""

TESTNET_TOML = f"""
mode = "testnet"

[chain]
rpc_url = "http://127.0.0.1:8545"
chain_id = 31337
pool_addresses_provider = "{SEPOLIA_PROVIDER}"

[wallet]
key_source = "env"

[exchange]
withdrawal_allowlist = ["{ADDRESS_A}"]
"""

SIGNING_ENV = {
    "DELEVER_WALLET__PRIVATE_KEY": KEY_A,
    "DELEVER_EXCHANGE__API_KEY": "test-api-key-0001",
    "DELEVER_EXCHANGE__API_SECRET": "test-api-secret-0001",
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_keystore(path: Path, key: str, password: str, *, mode: int = 0o600) -> Path:
    """A v3 keystore with a cheap KDF (pbkdf2, 2 iterations) so tests stay fast."""
    document = Account.encrypt(key, password, kdf="pbkdf2", iterations=2)
    path.write_text(json.dumps(document))
    path.chmod(mode)
    return path


def devnet_state(**overrides: object) -> dict[str, object]:
    state: dict[str, object] = {
        "rpc_url": "http://127.0.0.1:18545",
        "chain_id": 31337,
        "pool_addresses_provider": SEPOLIA_PROVIDER.lower(),
        "pool": "0x" + "01" * 20,
        "oracle": "0x" + "02" * 20,
        "data_provider": "0x" + "03" * 20,
        "multicall3": "0x" + "04" * 20,
        "wallet": ADDRESS_B.lower(),
        "wallet_private_key": KEY_B,
        "tokens": {"WETH": "0x" + "05" * 20, "USDT": "0x" + "06" * 20},
        "price_feeds": {},
        "exchange_url": "http://127.0.0.1:18801",
        "api_key": "devnet-api-key-777",
        "api_secret": "devnet-api-secret-777",
        "exchange_hot_wallet": "0x" + "07" * 20,
        "pids": {"anvil": 1},
        "started_at": "2026-01-01T00:00:00Z",
    }
    state.update(overrides)
    return state


def write_state(directory: Path, **overrides: object) -> Path:
    return write(directory / "devnet.json", json.dumps(devnet_state(**overrides)))


def clean_env(**extra: str) -> dict[str, str]:
    """The process environment without any DELEVER_ variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DELEVER_")}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m bot.cli ARGS`` with stderr not a TTY (JSON logs), as a user would run it."""
    env = {**env, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )

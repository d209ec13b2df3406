"""The shipped example configs and policy snippets all pass `config check`."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from bot.redact import clear_secrets
from bot.settings import load_settings
from bot.settings.sources import deep_merge
from tests.support.settings_support import (
    ADDRESS_A,
    ADDRESS_B,
    KEY_A,
    REPO,
    SEPOLIA_PROVIDER,
    clean_env,
    run_cli,
    write,
    write_state,
)

CONFIG = REPO / "config"
POLICIES = sorted((CONFIG / "policies").glob("*.toml"))

SEPOLIA_ENV = {
    "DELEVER_WALLET__PRIVATE_KEY": KEY_A,
    "DELEVER_EXCHANGE__WITHDRAWAL_ALLOWLIST": f'["{ADDRESS_A}"]',
    "DELEVER_EXCHANGE__API_KEY": "sepolia-key-000001",
    "DELEVER_EXCHANGE__API_SECRET": "sepolia-secret-000001",
}
MAINNET_ENV = {"DELEVER_WALLET__ADDRESS": ADDRESS_A}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    yield
    clear_secrets()


def test_devnet_example_reads_the_state_file(tmp_path):
    write_state(tmp_path / ".delever")
    s = load_settings(CONFIG / "devnet.toml", env={})
    assert (s.mode, s.chain.chain_id, s.chain.rounding) == ("testnet", 31337, "v3.0")
    assert s.wallet.address == ADDRESS_B and s.signer().address == ADDRESS_B
    assert s.exchange.withdrawal_allowlist == (ADDRESS_B,)
    assert s.policy.name == "threshold"
    assert s.policy.params == {"trigger_hf": Decimal("1.3"), "target_hf": Decimal("1.6")}
    assert s.limits.hf_floor == Decimal("1.05")
    assert s.journal.path == tmp_path / ".delever" / "journal.sqlite"


def test_sepolia_example_is_a_testnet_config(tmp_path):
    s = load_settings(CONFIG / "sepolia.toml", env=SEPOLIA_ENV)
    assert (s.mode, s.chain.chain_id, s.chain.rounding) == ("testnet", 11155111, "v3.5")
    assert s.chain.pool_addresses_provider == SEPOLIA_PROVIDER
    assert s.wallet.address == ADDRESS_A


def test_sepolia_example_watches_without_keys_in_dry_run(tmp_path):
    env = {"DELEVER_MODE": "dry-run", "DELEVER_WALLET__KEY_SOURCE": "none", "DELEVER_WALLET__ADDRESS": ADDRESS_A}
    assert load_settings(CONFIG / "sepolia.toml", env=env).mode == "dry-run"


def test_mainnet_example_is_dry_run_on_chain_1(tmp_path):
    s = load_settings(CONFIG / "mainnet.example.toml", env=MAINNET_ENV)
    assert (s.mode, s.chain.chain_id, s.chain.rounding) == ("dry-run", 1, "v3.5")
    assert s.chain.pool_addresses_provider == "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"


@pytest.mark.parametrize("snippet", POLICIES, ids=[p.stem for p in POLICIES])
def test_policy_snippets_replace_the_policy_table(tmp_path, snippet):
    base = tomllib.loads((CONFIG / "mainnet.example.toml").read_text())
    base.pop("policy")
    merged = deep_merge(base, tomllib.loads(snippet.read_text()))
    config = write(tmp_path / "c.toml", _to_toml(merged))
    s = load_settings(config, env=MAINNET_ENV)
    assert s.policy.name == snippet.stem
    assert s.policy.params


@pytest.mark.parametrize("snippet", POLICIES, ids=[p.stem for p in POLICIES])
def test_policy_snippets_bind_to_the_policy_params(snippet):
    loader = pytest.importorskip("strategies.loader")
    table = tomllib.loads(snippet.read_text(), parse_float=Decimal)["policy"]
    assert loader.load_policy(table["name"], table.get("params", {})).name == snippet.stem


def test_shipped_configs_hold_no_secrets():
    secret_assignment = re.compile(r"^\s*(private_key|keystore_password|api_key|api_secret|telegram_token)\s*=", re.M)
    for path in CONFIG.rglob("*.toml"):
        text = path.read_text()
        assert not secret_assignment.search(text), path
        assert not re.search(r"\b(0x)?[0-9a-fA-F]{64}\b", text), path


def test_policy_snippets_cover_the_builtin_policies():
    assert [p.stem for p in POLICIES] == ["ladder", "paced", "threshold"]


@pytest.mark.parametrize(
    ("name", "env"),
    [("devnet.toml", {}), ("sepolia.toml", SEPOLIA_ENV), ("mainnet.example.toml", MAINNET_ENV)],
)
def test_example_passes_config_check(tmp_path, name, env):
    write_state(tmp_path / ".delever")
    result = run_cli("--config", str(CONFIG / name), "config", "check", env=clean_env(**env), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"# config {CONFIG / name}: ok" in result.stdout


def _to_toml(data: dict, prefix: str = "") -> str:
    """Enough TOML writing for the example files (tables of scalars and arrays)."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_value(value)}")
    for key, value in tables:
        name = f"{prefix}{key}"
        lines.append(f"\n[{name}]")
        lines.append(_to_toml(value, prefix=f"{name}."))
    return "\n".join(lines) + "\n"


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)

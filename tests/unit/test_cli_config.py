"""`delever config check` as a user runs it: `python -m bot.cli`, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.settings_support import (
    ADDRESS_A,
    DRY_RUN_TOML,
    KEY_A,
    clean_env,
    run_cli,
    write,
    write_keystore,
)


def test_config_check_prints_the_config_and_exits_0(tmp_path):
    config = write(tmp_path / "c.toml", DRY_RUN_TOML + "[limits]\nhf_floor = 1.25\n")
    result = run_cli("--config", str(config), "config", "check", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"# config {config}: ok (mode dry-run)\n")
    assert 'mode = "dry-run"' in result.stdout
    assert f'address = "{ADDRESS_A}"' in result.stdout
    assert "hf_floor = 1.25" in result.stdout
    assert "private_key = (not set)  # secret, from DELEVER_WALLET__PRIVATE_KEY" in result.stdout
    assert result.stderr == ""


def test_config_check_json_with_config_after_the_command(tmp_path):
    config = write(tmp_path / "c.toml", DRY_RUN_TOML + 'key_source = "env"\n')
    env = clean_env(DELEVER_WALLET__PRIVATE_KEY=KEY_A)
    result = run_cli("config", "check", "--config", str(config), "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)  # exactly one object, nothing else on stdout
    assert payload["ok"] is True
    assert payload["signer"] == ADDRESS_A
    assert payload["secrets"]["wallet.private_key"] is True
    assert payload["secrets"]["exchange.api_secret"] is False
    assert payload["settings"]["wallet"]["private_key"] == "********"
    assert payload["settings"]["limits"]["hf_floor"] == "1.10"
    assert payload["settings"]["chain"]["chain_id"] == 1
    assert KEY_A[2:] not in result.stdout + result.stderr


def test_config_check_reads_delever_config(tmp_path):
    config = write(tmp_path / "c.toml", DRY_RUN_TOML)
    result = run_cli("config", "check", env=clean_env(DELEVER_CONFIG=str(config)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_config_check_bad_value_is_one_stderr_line_and_exit_2(tmp_path):
    config = write(tmp_path / "c.toml", DRY_RUN_TOML + "[limits]\nhf_floor = 0.9\n")
    result = run_cli("--config", str(config), "config", "check", "--json", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "delever: error: config: limits.hf_floor: must be greater than 1\n"


def test_config_check_unknown_key_is_exit_2(tmp_path):
    config = write(tmp_path / "c.toml", DRY_RUN_TOML.replace("[chain]\n", '[chain]\nrpc_urll = "x"\n'))
    result = run_cli("config", "check", "-c", str(config), env=clean_env(), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, "delever: error: config: chain.rpc_urll: unknown key\n")


def test_config_check_wrong_keystore_password_is_exit_2(tmp_path):
    keystore = write_keystore(tmp_path / "k.json", KEY_A, "right-password")
    config = write(tmp_path / "c.toml", DRY_RUN_TOML + f'key_source = "keystore"\nkeystore_path = "{keystore}"\n')
    env = clean_env(DELEVER_WALLET__KEYSTORE_PASSWORD="wrong-password")
    result = run_cli("--config", str(config), "config", "check", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"delever: error: config: wallet.keystore_password: wrong password for keystore {keystore} "
        "(check DELEVER_WALLET__KEYSTORE_PASSWORD)\n"
    )
    assert result.stdout == ""


def test_config_check_missing_devnet_state_is_exit_2(tmp_path):
    config = write(tmp_path / "c.toml", 'mode = "testnet"\ndevnet_state = ".delever/devnet.json"\n')
    result = run_cli("--config", str(config), "config", "check", env=clean_env(), cwd=tmp_path)
    expected = tmp_path / ".delever" / "devnet.json"
    assert result.returncode == 2
    assert result.stderr == f"delever: error: devnet state file {expected} not found: run `delever devnet up` first\n"


def test_config_check_without_a_config_is_exit_2(tmp_path: Path):
    result = run_cli("config", "check", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "delever: error: config: no config file: pass --config FILE or set DELEVER_CONFIG\n"

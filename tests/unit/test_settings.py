"""Settings: file + environment layering, unknown keys, secrets from the environment, rules, paths."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.errors import ConfigError, UserInputError
from bot.redact import clear_secrets
from bot.settings import Settings, load_settings
from tests.support.settings_support import (
    ADDRESS_A,
    ADDRESS_B,
    DRY_RUN_TOML,
    KEY_A,
    KEY_B,
    SIGNING_ENV,
    TESTNET_TOML,
    write,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    yield
    clear_secrets()


def load(tmp_path: Path, text: str, **env: str) -> Settings:
    return load_settings(write(tmp_path / "c.toml", text), env=env)


def error_of(tmp_path: Path, text: str, **env: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, **env)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- loading ---------------------------------------------------------------------------------


def test_load_settings_minimal_dry_run_fills_defaults(tmp_path):
    s = load(tmp_path, DRY_RUN_TOML)
    assert s.mode == "dry-run"
    assert s.chain.chain_id == 1
    assert s.chain.rounding == "v3.5"
    assert s.wallet.key_source == "none"
    assert s.exchange.id == "binance" and s.exchange.symbol == "ETH/USDT"
    assert s.exchange.base == "ETH" and s.exchange.quote == "USDT"
    assert s.limits.hf_floor == Decimal("1.10")
    assert s.policy.name == "threshold"
    assert s.journal.path == tmp_path / ".delever" / "journal.sqlite"
    assert s.metrics.host == "127.0.0.1" and s.metrics.enabled is False
    assert s.signs is False


def test_load_settings_toml_floats_become_exact_decimals(tmp_path):
    s = load(tmp_path, DRY_RUN_TOML + "[limits]\nhf_floor = 1.05\nmax_batch_usd = 12345.67\n")
    assert s.limits.hf_floor == Decimal("1.05")
    assert s.limits.max_batch_usd == Decimal("12345.67")


def test_load_settings_path_defaults_to_delever_config_env(tmp_path):
    path = write(tmp_path / "x.toml", DRY_RUN_TOML)
    assert load_settings(env={"DELEVER_CONFIG": str(path)}).wallet.address == ADDRESS_A


def test_load_settings_without_any_path_names_both_ways(tmp_path):
    with pytest.raises(ConfigError, match="pass --config FILE or set DELEVER_CONFIG"):
        load_settings(env={})


def test_load_settings_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserInputError, match=r"config: file .*nope.toml not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_load_settings_invalid_toml_names_the_position_not_the_text(tmp_path):
    message = error_of(tmp_path, 'mode = "dry-run"\n[chain\nrpc_url = "supersecretvalue"\n')
    assert "invalid TOML" in message and "line 2" in message
    assert "supersecretvalue" not in message


def test_settings_are_frozen(tmp_path):
    s = load(tmp_path, DRY_RUN_TOML)
    with pytest.raises(ValidationError):
        s.limits.hf_floor = Decimal("2")  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.mode = "live"  # type: ignore[misc]


def test_settings_constructed_directly_ignore_the_environment(monkeypatch):
    monkeypatch.setenv("DELEVER_MODE", "live")
    s = Settings(
        chain={"rpc_url": "http://127.0.0.1:8545", "chain_id": 1, "pool_addresses_provider": ADDRESS_B},
        wallet={"address": ADDRESS_A},
    )
    assert s.mode == "dry-run"


# --- unknown keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ('rpc_urll = "x"\n' + DRY_RUN_TOML, "rpc_urll"),
        (DRY_RUN_TOML.replace("[chain]\n", '[chain]\nrpc_urll = "x"\n'), "chain.rpc_urll"),
        (DRY_RUN_TOML + "nickname = 3\n", "wallet.nickname"),
        (DRY_RUN_TOML + "[exchange]\nsecret_sauce = 1\n", "exchange.secret_sauce"),
        (DRY_RUN_TOML + "[policy]\nnmae = 'x'\n", "policy.nmae"),
        (DRY_RUN_TOML + "[limits]\nhf_flor = 1.2\n", "limits.hf_flor"),
        (DRY_RUN_TOML + "[journal]\nfile = 'j'\n", "journal.file"),
        (DRY_RUN_TOML + "[metrics]\nbind = 'x'\n", "metrics.bind"),
        (DRY_RUN_TOML + "[notify]\nemail = 'x'\n", "notify.email"),
        (DRY_RUN_TOML + "[telemetry]\non = true\n", "telemetry"),
    ],
)
def test_unknown_key_is_rejected_by_its_path(tmp_path, extra, path):
    assert error_of(tmp_path, extra) == f"config: {path}: unknown key"


def test_unknown_nested_env_key_names_the_variable(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML, DELEVER_LIMITS__HF_FLOR="1.2")
    assert message == "config: limits.hf_flor: unknown key (from DELEVER_LIMITS__HF_FLOR)"


def test_unrelated_delever_variables_are_ignored(tmp_path):
    s = load(tmp_path, DRY_RUN_TOML, DELEVER_DEBUG="1", DELEVER_CONFIG="elsewhere", DELEVER_STATE_DIR=str(tmp_path))
    assert s.mode == "dry-run"


# --- environment overrides --------------------------------------------------------------------


def test_env_overrides_nested_values_over_the_file(tmp_path):
    text = DRY_RUN_TOML + "[limits]\nhf_floor = 1.3\n"
    s = load(
        tmp_path,
        text,
        DELEVER_LIMITS__HF_FLOOR="1.1",
        DELEVER_CHAIN__CONFIRMATIONS="5",
        DELEVER_EXCHANGE__WITHDRAWAL_ALLOWLIST=f'["{ADDRESS_A}"]',
        delever_metrics__enabled="true",
    )
    assert s.limits.hf_floor == Decimal("1.1")
    assert s.chain.confirmations == 5
    assert s.exchange.withdrawal_allowlist == (ADDRESS_A,)
    assert s.metrics.enabled is True


def test_empty_env_values_count_as_unset(tmp_path):
    s = load(tmp_path, DRY_RUN_TOML, DELEVER_WALLET__PRIVATE_KEY="", DELEVER_LIMITS__HF_FLOOR="")
    assert s.wallet.private_key is None and s.limits.hf_floor == Decimal("1.10")


def test_env_policy_params_are_read_as_toml_scalars(tmp_path):
    s = load(
        tmp_path,
        DRY_RUN_TOML + "[policy]\nname = 'threshold'\nparams = { trigger_hf = 1.3 }\n",
        DELEVER_POLICY__PARAMS__TARGET_HF="1.6",
        DELEVER_POLICY__PARAMS__HORIZON_S="3600",
        DELEVER_POLICY__PARAMS__LABEL="calm",
    )
    assert s.policy.params == {
        "trigger_hf": Decimal("1.3"),
        "target_hf": Decimal("1.6"),
        "horizon_s": 3600,
        "label": "calm",
    }


def test_env_list_that_is_not_json_is_one_line_error(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML, DELEVER_EXCHANGE__WITHDRAWAL_ALLOWLIST="0xabc")
    assert message.startswith("config: exchange: ") and "JSON" in message
    assert "0xabc" not in message


def test_policy_params_accept_nested_arrays(tmp_path):
    s = load(tmp_path, DRY_RUN_TOML + "[policy]\nname = 'ladder'\nparams = { steps = [[0, 0.25], [0.1, 0.3]] }\n")
    assert s.policy.params["steps"] == ((0, Decimal("0.25")), (Decimal("0.1"), Decimal("0.3")))


# --- secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "var"),
    [
        ("wallet", "private_key", "DELEVER_WALLET__PRIVATE_KEY"),
        ("wallet", "keystore_password", "DELEVER_WALLET__KEYSTORE_PASSWORD"),
        ("exchange", "api_key", "DELEVER_EXCHANGE__API_KEY"),
        ("exchange", "api_secret", "DELEVER_EXCHANGE__API_SECRET"),
        ("notify", "telegram_token", "DELEVER_NOTIFY__TELEGRAM_TOKEN"),
    ],
)
def test_secret_in_the_file_is_refused_without_echoing_it(tmp_path, section, key, var):
    line = f'{key} = "leaked-value-xyz"\n'
    if section == "wallet":
        text = DRY_RUN_TOML.replace("[wallet]\n", "[wallet]\n" + line)
    else:
        text = DRY_RUN_TOML + f"\n[{section}]\n" + line
    message = error_of(tmp_path, text)
    assert message == (f"config: {section}.{key}: secrets come from the environment, not the config file (set {var})")
    assert "leaked-value-xyz" not in message


def test_env_private_key_gives_the_wallet_address(tmp_path):
    text = DRY_RUN_TOML.replace(f'address = "{ADDRESS_A}"', 'key_source = "env"')
    s = load(tmp_path, text, DELEVER_WALLET__PRIVATE_KEY=KEY_B)
    assert s.wallet.address == ADDRESS_B
    assert s.signer().address == ADDRESS_B
    assert KEY_B not in repr(s) and KEY_B[2:] not in repr(s)


def test_env_private_key_of_another_wallet_is_refused(tmp_path):
    text = DRY_RUN_TOML + 'key_source = "env"\n'
    message = error_of(tmp_path, text, DELEVER_WALLET__PRIVATE_KEY=KEY_B)
    assert message == (
        f"config: wallet.address: {ADDRESS_A} does not match the key in DELEVER_WALLET__PRIVATE_KEY ({ADDRESS_B})"
    )


def test_env_key_source_without_key_names_the_variable(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML + 'key_source = "env"\n')
    assert message == (
        'config: wallet.private_key: required secret missing for key_source "env" (set DELEVER_WALLET__PRIVATE_KEY)'
    )


def test_malformed_private_key_is_refused_without_echoing_it(tmp_path):
    bad = "0x" + "zz" * 32
    message = error_of(tmp_path, DRY_RUN_TOML + 'key_source = "env"\n', DELEVER_WALLET__PRIVATE_KEY=bad)
    assert message.startswith("config: wallet.private_key: must be 32 bytes of hex")
    assert "zz" not in message


def test_private_key_with_read_only_key_source_is_refused(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML, DELEVER_WALLET__PRIVATE_KEY=KEY_A)
    assert message.startswith(
        'config: wallet.private_key: is set (DELEVER_WALLET__PRIVATE_KEY) but key_source is "none"'
    )


def test_keystore_key_source_needs_path_and_password(tmp_path):
    text = DRY_RUN_TOML + 'key_source = "keystore"\n'
    assert error_of(tmp_path, text) == 'config: wallet.keystore_path: required for key_source "keystore"'
    message = error_of(tmp_path, text + 'keystore_path = "k.json"\n')
    assert message == (
        'config: wallet.keystore_password: required secret missing for key_source "keystore" '
        "(set DELEVER_WALLET__KEYSTORE_PASSWORD)"
    )


def test_exchange_keys_come_in_pairs(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML, DELEVER_EXCHANGE__API_KEY="k-123456")
    assert message == (
        "config: exchange.api_secret: required secret missing (the API key is set) (set DELEVER_EXCHANGE__API_SECRET)"
    )


def test_telegram_token_needs_a_chat_id(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML, DELEVER_NOTIFY__TELEGRAM_TOKEN="123:abcdef")
    assert message == "config: notify.telegram_chat_id: required when DELEVER_NOTIFY__TELEGRAM_TOKEN is set"
    s = load(tmp_path, DRY_RUN_TOML + "[notify]\ntelegram_chat_id = -1001\n", DELEVER_NOTIFY__TELEGRAM_TOKEN="123:abc")
    assert s.notify.telegram_chat_id == "-1001"


def test_repr_masks_every_secret_and_the_rpc_url(tmp_path):
    text = TESTNET_TOML.replace("http://127.0.0.1:8545", "https://eth.example/v2/AlchemyKey0123456789abc")
    s = load(
        tmp_path,
        text + '[notify]\nwebhook_url = "https://hooks.example/T0/B0/WebhookToken0123456789"\ntelegram_chat_id = "1"\n',
        **SIGNING_ENV,
        DELEVER_NOTIFY__TELEGRAM_TOKEN="tg-token-0123456789",
    )
    shown = repr(s) + str(s) + s.model_dump_json()
    for secret in (
        KEY_A,
        KEY_A[2:],
        "test-api-secret-0001",
        "test-api-key-0001",
        "tg-token-0123456789",
        "AlchemyKey0123456789abc",
        "WebhookToken0123456789",
    ):
        assert secret not in shown


# --- cross-field rules ------------------------------------------------------------------------


@pytest.mark.parametrize("chain_id", [1, 10, 137, 42161, 8453, 43114, 999999])
def test_testnet_mode_refuses_mainnet_and_unknown_chain_ids(tmp_path, chain_id):
    from bot.settings.types import MAINNET_CHAIN_IDS

    message = error_of(tmp_path, TESTNET_TOML.replace("31337", str(chain_id)), **SIGNING_ENV)
    assert message.startswith('config: chain.chain_id: mode "testnet" needs a testnet chain id (31337, 1337, ')
    what = f"{MAINNET_CHAIN_IDS[chain_id]} mainnet" if chain_id in MAINNET_CHAIN_IDS else "unknown chain"
    assert message.endswith(f"; {chain_id} is {what}")


@pytest.mark.parametrize("chain_id", [31337, 11155111, 17000, 84532, 421614])
def test_testnet_mode_accepts_testnet_chain_ids(tmp_path, chain_id):
    assert load(tmp_path, TESTNET_TOML.replace("31337", str(chain_id)), **SIGNING_ENV).chain.chain_id == chain_id


def test_live_mode_refuses_a_testnet_chain_id(tmp_path):
    message = error_of(tmp_path, TESTNET_TOML.replace('mode = "testnet"', 'mode = "live"'), **SIGNING_ENV)
    assert (
        message
        == 'config: chain.chain_id: mode "live" on testnet chain 31337 (anvil / hardhat devnet): use mode = "testnet"'
    )


def live_toml() -> str:
    return TESTNET_TOML.replace('mode = "testnet"', 'mode = "live"').replace("31337", "1")


def test_live_mode_with_key_and_exchange_keys_loads(tmp_path):
    s = load(tmp_path, live_toml(), **SIGNING_ENV)
    assert s.mode == "live" and s.signs and s.wallet.address == ADDRESS_A


def test_live_mode_needs_a_signing_key_source(tmp_path):
    text = live_toml().replace('key_source = "env"', f'address = "{ADDRESS_A}"')
    env = {k: v for k, v in SIGNING_ENV.items() if "WALLET" not in k}
    message = error_of(tmp_path, text, **env)
    assert message == 'config: wallet.key_source: mode "live" signs transactions: use "env" or "keystore"'


@pytest.mark.parametrize("missing", ["DELEVER_EXCHANGE__API_KEY", "DELEVER_EXCHANGE__API_SECRET"])
def test_live_mode_needs_both_exchange_keys(tmp_path, missing):
    env = {
        k: v for k, v in SIGNING_ENV.items() if k not in ("DELEVER_EXCHANGE__API_KEY", "DELEVER_EXCHANGE__API_SECRET")
    }
    message = error_of(tmp_path, live_toml(), **env)
    assert (
        message == 'config: exchange.api_key: required secret missing for mode "live" (set DELEVER_EXCHANGE__API_KEY)'
    )


@pytest.mark.parametrize("mode", ["testnet", "live"])
def test_signing_modes_need_the_wallet_in_the_withdrawal_allowlist(tmp_path, mode):
    text = live_toml() if mode == "live" else TESTNET_TOML
    message = error_of(tmp_path, text.replace(ADDRESS_A, ADDRESS_B), **SIGNING_ENV)
    assert message == f"config: exchange.withdrawal_allowlist: must contain the wallet address {ADDRESS_A}"


def test_dry_run_allowlist_is_optional_but_must_hold_the_wallet_when_given(tmp_path):
    assert load(tmp_path, DRY_RUN_TOML).exchange.withdrawal_allowlist == ()
    message = error_of(tmp_path, DRY_RUN_TOML + f'[exchange]\nwithdrawal_allowlist = ["{ADDRESS_B}"]\n')
    assert message == f"config: exchange.withdrawal_allowlist: must contain the wallet address {ADDRESS_A}"


def test_wallet_address_is_required(tmp_path):
    assert error_of(tmp_path, DRY_RUN_TOML.replace(f'address = "{ADDRESS_A}"', "")) == (
        "config: wallet.address: required (the wallet whose position is managed)"
    )


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ("hf_floor = 1.0", "config: limits.hf_floor: must be greater than 1"),
        ("hf_floor = 0.95", "config: limits.hf_floor: must be greater than 1"),
        ("max_slippage_bps = 0", "config: limits.max_slippage_bps: must be greater than 0"),
        ("max_slippage_bps = 2001", "config: limits.max_slippage_bps: must be at most 2000"),
        ("price_shock_bps = -1", "config: limits.price_shock_bps: must be at least 0"),
        ("max_oracle_divergence_bps = 0", "config: limits.max_oracle_divergence_bps: must be greater than 0"),
        ("cooldown_s = -1", "config: limits.cooldown_s: must be at least 0.0"),
        (
            "min_batch_usd = 2000\nmax_batch_usd = 1000",
            "config: limits.min_batch_usd: must not exceed max_batch_usd (1000)",
        ),
        (
            "max_batch_usd = 2000\nmax_daily_usd = 1000",
            "config: limits.max_batch_usd: must not exceed max_daily_usd (1000)",
        ),
        ("max_batch_usd = 0", "config: limits.max_batch_usd: must be greater than 0"),
    ],
)
def test_limit_rules(tmp_path, limits, expected):
    assert error_of(tmp_path, DRY_RUN_TOML + f"[limits]\n{limits}\n") == expected


def test_slippage_at_the_cap_and_shock_override_load(tmp_path):
    s = load(tmp_path, DRY_RUN_TOML + "[limits]\nmax_slippage_bps = 2000\nprice_shock_bps = 800\n")
    assert s.limits.max_slippage_bps == 2000 and s.limits.price_shock_bps == 800


def test_address_must_be_checksummed(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML.replace(ADDRESS_A, ADDRESS_A.lower()))
    assert message == f"config: wallet.address: must be EIP-55 checksummed ({ADDRESS_A})"
    message = error_of(tmp_path, DRY_RUN_TOML.replace(ADDRESS_A, "0x1234"))
    assert message == "config: wallet.address: must be a 0x-prefixed 20-byte hex address"
    message = error_of(tmp_path, DRY_RUN_TOML.replace(ADDRESS_A, "0x" + "0" * 40))
    assert message == "config: wallet.address: must not be the zero address"


def test_rpc_url_needs_a_known_scheme(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML.replace("http://127.0.0.1:8545", "ftp://node"))
    assert message == "config: chain.rpc_url: must be a http or https or ws or wss URL with a host"


def test_mode_and_rounding_are_closed_sets(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML.replace('mode = "dry-run"', 'mode = "paper"'))
    assert message == "config: mode: should be 'dry-run', 'testnet' or 'live'"
    message = error_of(tmp_path, DRY_RUN_TOML.replace("chain_id = 1", 'chain_id = 1\nrounding = "v3.4"'))
    assert message == "config: chain.rounding: should be 'v3.0' or 'v3.5'"


def test_several_problems_share_one_line(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML + "[limits]\nhf_floor = 1\nmax_slippage_bps = 0\n")
    assert message.startswith("config: ")
    assert "limits.hf_floor: must be greater than 1" in message
    assert "limits.max_slippage_bps: must be greater than 0" in message


def test_policy_file_must_exist_and_resolves_against_cwd(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML + "[policy]\nname = 'mine.py'\n")
    assert message == f"config: policy.name: policy file {tmp_path / 'mine.py'} not found"
    write(tmp_path / "mine.py", "")
    assert load(tmp_path, DRY_RUN_TOML + "[policy]\nname = 'mine.py'\n").policy.name == str(tmp_path / "mine.py")


def test_policy_name_must_be_builtin_like_or_a_py_file(tmp_path):
    message = error_of(tmp_path, DRY_RUN_TOML + "[policy]\nname = 'Threshold Policy'\n")
    assert message.startswith("config: policy.name: must be a built-in policy name")


# --- devnet state -----------------------------------------------------------------------------

DEVNET_TOML = """
mode = "testnet"
devnet_state = ".delever/devnet.json"
[chain]
rounding = "v3.0"
[wallet]
key_source = "env"
"""


def test_devnet_state_fills_connection_wallet_and_exchange(tmp_path):
    from tests.support.settings_support import SEPOLIA_PROVIDER, write_state

    write_state(tmp_path / ".delever")
    s = load(tmp_path, DEVNET_TOML)
    assert s.devnet_state == tmp_path / ".delever" / "devnet.json"
    assert s.chain.rpc_url == "http://127.0.0.1:18545"
    assert s.chain.chain_id == 31337
    assert s.chain.pool_addresses_provider == SEPOLIA_PROVIDER
    assert s.wallet.address == ADDRESS_B
    assert s.wallet.private_key is not None and s.wallet.private_key.get_secret_value() == KEY_B
    assert s.exchange.api_url == "http://127.0.0.1:18801"
    assert s.exchange.api_key.get_secret_value() == "devnet-api-key-777"
    assert s.exchange.api_secret.get_secret_value() == "devnet-api-secret-777"
    assert s.exchange.withdrawal_allowlist == (ADDRESS_B,)


def test_devnet_state_yields_to_file_and_environment(tmp_path):
    from tests.support.settings_support import write_state

    write_state(tmp_path / ".delever")
    text = DEVNET_TOML.replace("[chain]\n", '[chain]\nrpc_url = "http://127.0.0.1:9"\n')
    s = load(
        tmp_path,
        text,
        DELEVER_WALLET__PRIVATE_KEY=KEY_A,
        DELEVER_EXCHANGE__API_KEY="env-k",
        DELEVER_EXCHANGE__API_SECRET="env-s",
    )
    assert s.chain.rpc_url == "http://127.0.0.1:9"
    assert s.wallet.private_key.get_secret_value() == KEY_A
    assert s.wallet.address == ADDRESS_A  # derived from the env key, not the state's wallet
    assert s.exchange.withdrawal_allowlist == (ADDRESS_A,)
    assert s.exchange.api_secret.get_secret_value() == "env-s"


def test_devnet_state_file_missing_says_how_to_create_it(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, DEVNET_TOML)
    path = tmp_path / ".delever" / "devnet.json"
    assert str(info.value) == f"devnet state file {path} not found: run `delever devnet up` first"


def test_state_dir_env_relocates_the_default_state_directory(tmp_path):
    from tests.support.settings_support import write_state

    state_dir = tmp_path / "elsewhere"
    write_state(state_dir)
    s = load(tmp_path, DEVNET_TOML, DELEVER_STATE_DIR=str(state_dir))
    assert s.devnet_state == state_dir / "devnet.json"
    assert s.journal.path == state_dir / "journal.sqlite"


def test_devnet_state_that_is_not_json_is_one_line(tmp_path):
    write(tmp_path / ".delever" / "devnet.json", '{"rpc_url": "http://x", \n oops')
    with pytest.raises(ConfigError, match=r"devnet state file .* is not valid JSON \(line 2\)"):
        load(tmp_path, DEVNET_TOML)


def test_relative_paths_resolve_against_the_current_directory(tmp_path):
    s = load(tmp_path, DRY_RUN_TOML + "[journal]\npath = 'data/j.sqlite'\n")
    assert s.journal.path == tmp_path / "data" / "j.sqlite"
    s = load(tmp_path, DRY_RUN_TOML + "[journal]\npath = '/abs/j.sqlite'\n")
    assert s.journal.path == Path("/abs/j.sqlite")

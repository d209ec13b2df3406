"""Canary secrets: planted as private key, keystore password, API key/secret and Telegram token,
they must appear in no stdout, stderr, log line, error message or repr — on success and failure."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest
import structlog
from eth_account import Account

from bot.errors import ConfigError
from bot.logs import configure_logging, get_logger
from bot.redact import MASK as MASK_TEXT
from bot.redact import clear_secrets
from bot.settings import load_settings
from bot.settings.view import masked_view
from tests.support.canaries import plant_canaries
from tests.support.settings_support import SEPOLIA_PROVIDER, clean_env, run_cli, write, write_keystore

CANARY_KEY = "0x" + secrets.token_hex(32)
CANARY_KEYSTORE_KEY = "0x" + secrets.token_hex(32)
CANARY_PASSWORD = "canary-password-" + secrets.token_hex(8)
CANARY_API_KEY = "canary-apikey-" + secrets.token_hex(8)
CANARY_API_SECRET = "canary-apisecret-" + secrets.token_hex(8)
CANARY_TELEGRAM = "canary-telegram-" + secrets.token_hex(8)
CANARY_NOT_A_KEY = "canary-notakey-" + secrets.token_hex(8)
ADDRESS = Account.from_key(CANARY_KEY).address
KEYSTORE_ADDRESS = Account.from_key(CANARY_KEYSTORE_KEY).address

CANARIES = (
    CANARY_KEY,
    CANARY_KEY[2:],
    CANARY_KEYSTORE_KEY[2:],
    CANARY_PASSWORD,
    CANARY_API_KEY,
    CANARY_API_SECRET,
    CANARY_TELEGRAM,
    CANARY_NOT_A_KEY,
)


def config_text(address: str, wallet_lines: str) -> str:
    return f"""
mode = "testnet"
[chain]
rpc_url = "http://127.0.0.1:8545"
chain_id = 31337
pool_addresses_provider = "{SEPOLIA_PROVIDER}"
[wallet]
{wallet_lines}
[exchange]
withdrawal_allowlist = ["{address}"]
[notify]
telegram_chat_id = "42"
"""


SECRET_ENV = {
    "DELEVER_EXCHANGE__API_KEY": CANARY_API_KEY,
    "DELEVER_EXCHANGE__API_SECRET": CANARY_API_SECRET,
    "DELEVER_NOTIFY__TELEGRAM_TOKEN": CANARY_TELEGRAM,
}


@pytest.fixture
def configs(tmp_path: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    env_config = write(tmp_path / "env.toml", config_text(ADDRESS, 'key_source = "env"'))
    keystore = write_keystore(tmp_path / "k.json", CANARY_KEYSTORE_KEY, CANARY_PASSWORD)
    keystore_config = write(
        tmp_path / "keystore.toml",
        config_text(KEYSTORE_ADDRESS, f'key_source = "keystore"\nkeystore_path = "{keystore}"'),
    )
    return {
        "env": (env_config, {**SECRET_ENV, "DELEVER_WALLET__PRIVATE_KEY": CANARY_KEY}),
        "keystore": (keystore_config, {**SECRET_ENV, "DELEVER_WALLET__KEYSTORE_PASSWORD": CANARY_PASSWORD}),
    }


def assert_no_canary(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"a canary secret leaked: {canary[:16]}…"


@pytest.mark.parametrize("kind", ["env", "keystore"])
def test_canaries_stay_out_of_config_check_output(tmp_path, configs, kind):
    config, env = configs[kind]
    runs = [
        ("--log-level", "debug", "--config", str(config), "config", "check"),
        ("--log-json", "--log-level", "debug", "--config", str(config), "config", "check", "--json"),
    ]
    for args in runs:
        result = run_cli(*args, env=clean_env(**env), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert_no_canary(result.stdout + result.stderr)
    payload = json.loads(result.stdout)
    assert payload["signer"] == (ADDRESS if kind == "env" else KEYSTORE_ADDRESS)
    assert payload["secrets"]["exchange.api_secret"] is True


def test_canaries_stay_out_of_config_errors(tmp_path, configs):
    config, env = configs["env"]
    unknown_key = write(tmp_path / "unknown.toml", config.read_text() + "surprise = 1\n")
    secret_in_file = write(tmp_path / "in-file.toml", config.read_text() + f'telegram_token = "{CANARY_TELEGRAM}"\n')
    keystore_config, keystore_env = configs["keystore"]
    failures = [
        (unknown_key, env, "config: notify.surprise: unknown key"),
        (secret_in_file, env, "config: notify.telegram_token: secrets come from the environment"),
        (config, {**env, "DELEVER_WALLET__PRIVATE_KEY": CANARY_NOT_A_KEY}, "config: wallet.private_key: must be"),
        (keystore_config, {**keystore_env, "DELEVER_WALLET__KEYSTORE_PASSWORD": CANARY_NOT_A_KEY}, "wrong password"),
    ]
    for path, failing_env, expected in failures:
        result = run_cli("--config", str(path), "config", "check", "--json", env=clean_env(**failing_env), cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""
        assert_no_canary(result.stdout + result.stderr)
        with pytest.raises(ConfigError) as info:
            load_settings(path, env=failing_env).signer()
        assert_no_canary(str(info.value) + repr(info.value))
    clear_secrets()


@pytest.mark.parametrize("as_json", [True, False])
def test_canaries_stay_out_of_logs_and_reprs(configs, capsys, as_json):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        config, env = configs["env"]
        settings = load_settings(config, env=env)
        keystore_config, keystore_env = configs["keystore"]
        keystore_settings = load_settings(keystore_config, env=keystore_env)
        account = keystore_settings.signer()
        for shown in (settings, keystore_settings):
            assert_no_canary(
                repr(shown) + str(shown) + shown.model_dump_json() + json.dumps(masked_view(shown), default=str)
            )

        configure_logging(json=as_json, level="debug")
        log = get_logger("delever.canary")
        log.info("settings_loaded", settings=settings, wallet=settings.wallet, exchange=keystore_settings.exchange)
        log.info("raw values", value=CANARY_API_SECRET, pair=(CANARY_TELEGRAM, CANARY_API_KEY), key=CANARY_KEY[2:])
        log.info(f"formatted {CANARY_PASSWORD} into the message")
        log.debug("signer", account=account, key=account.key, key_hex=account.key.hex())
        log.info("env dump", env=dict(env))
        try:
            raise RuntimeError(f"exchange said: bad signature for secret {CANARY_API_SECRET} and key {CANARY_KEY}")
        except RuntimeError:
            log.exception("order_failed")
        logging.getLogger("ccxt.base.exchange").error("headers %s", {"X-MBX-APIKEY": CANARY_API_KEY})
        try:
            raise ValueError(CANARY_PASSWORD)
        except ValueError:
            logging.getLogger("web3").exception("decrypt failed")
        out, err = capsys.readouterr()
        assert "order_failed" in err and "RuntimeError" in err and "settings_loaded" in err
        assert_no_canary(out + err)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()
        clear_secrets()


# --- canaries inside ordinary settings: every line the command line prints is scrubbed ---------


@pytest.mark.parametrize("as_json", [False, True])
def test_canaries_inside_paths_stay_out_of_config_check(tmp_path, as_json):
    planted = plant_canaries(tmp_path)
    args = ["--log-json", "--log-level", "debug", "--config", planted.path.name, "config", "check"]
    result = run_cli(*args, *(["--json"] if as_json else []), env=clean_env(**planted.env), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    planted.assert_clean(result.stdout + result.stderr)
    if as_json:
        payload = json.loads(result.stdout)
        assert payload["signer"] == planted.address
        assert payload["settings"]["wallet"]["keystore_path"] == f"{tmp_path}/********"
        assert payload["settings"]["journal"]["path"] == f"{tmp_path}/journal-********.sqlite"
        assert payload["config_path"] == "config-********.toml"
    else:
        assert result.stdout.startswith("# config config-********.toml: ok (mode testnet)")
        assert f'keystore_path = "{tmp_path}/********"' in result.stdout


def test_canaries_inside_paths_stay_out_of_one_line_errors(tmp_path):
    planted = plant_canaries(tmp_path, keystore_exists=False)
    result = run_cli("--config", str(planted.path), "config", "check", env=clean_env(**planted.env), cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr == f"delever: error: config: wallet.keystore_path: keystore file {tmp_path}/******** not found\n"
    )
    planted.assert_clean(result.stdout + result.stderr)
    planted = plant_canaries(tmp_path)
    secret_dir = planted.env["DELEVER_EXCHANGE__API_SECRET"]
    policy = write(tmp_path / "p.toml", planted.path.read_text() + f'[policy]\nname = "{secret_dir}/p.py"\n')
    result = run_cli("--config", str(policy), "config", "check", env=clean_env(**planted.env), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"delever: error: config: policy.name: policy file {tmp_path}/********/p.py not found\n"
    planted.assert_clean(result.stdout + result.stderr)


def test_an_unexpected_error_quoting_a_secret_is_one_scrubbed_line(capsys):
    import typer

    from bot.cli.common import run_guarded
    from bot.redact import register_secret

    secret = "canary-" + secrets.token_hex(8)
    register_secret(secret)
    crashing = typer.Typer()

    @crashing.command()
    def boom() -> None:
        print(f"partial {secret[:5]}", end="")  # a secret split across two writes of one line
        print(f"{secret[5:]} written")
        raise FileNotFoundError(2, "No such file or directory", f"/data/{secret}/journal.sqlite")

    try:
        assert run_guarded(crashing, []) == 1
        out, err = capsys.readouterr()
        assert out == "partial ******** written\n"
        assert (
            err
            == "delever: error: FileNotFoundError: [Errno 2] No such file or directory: '/data/********/journal.sqlite'\n"
        )
    finally:
        clear_secrets()


@pytest.mark.parametrize("secret", ['pa"ss\\word-7731', "pässwörd-7731", "pass\tword-7731"])
def test_secrets_that_json_or_repr_escape_are_masked_in_their_escaped_spelling(capsys, secret):
    from bot.cli.common import print_json
    from bot.redact import register_secret, scrub

    register_secret(secret)
    try:
        print_json({"path": f"/x/{secret}", "note": [secret]})
        assert MASK_TEXT in capsys.readouterr().out
        for spelling in (json.dumps(secret), json.dumps(secret, ensure_ascii=False), repr(secret)):
            assert scrub(f"at {spelling}") in (f'at "{MASK_TEXT}"', f"at '{MASK_TEXT}'")
    finally:
        clear_secrets()


def test_devnet_up_json_masks_the_exchange_api_secret(tmp_path, monkeypatch, capsys):
    from bot.cli.common import print_json
    from bot.cli.devnet_cmd import _connection_facts
    from bot.devnet.state import DevnetState
    from tests.support.settings_support import devnet_state

    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path))
    state = DevnetState.from_json(devnet_state(api_secret=CANARY_API_SECRET, wallet_private_key=CANARY_KEY))
    print_json(_connection_facts(state))
    out = capsys.readouterr().out
    facts = json.loads(out)
    assert facts["api_secret"] == MASK_TEXT and facts["api_key"] == "devnet-api-key-777"
    assert "wallet_private_key" not in facts
    assert_no_canary(out)

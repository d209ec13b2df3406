"""Canary secrets for the redaction tests: planted in settings — and, by ``plant_canaries``,
inside ordinary settings too (paths, file names) — they must appear in no journal row, log line,
metric, notification, or line the command line prints."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

CANARY_KEY = "0x" + "c4" * 32
CANARY_PASSWORD = "canary-keystore-pw-7731"
CANARY_API_SECRET = "canary-api-secret-55aa"
CANARY_TG_TOKEN = "123456:canary-telegram-token"
CANARIES = (CANARY_KEY, CANARY_PASSWORD, CANARY_API_SECRET, CANARY_TG_TOKEN, "c4c4c4c4c4c4c4c4")
PAP = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"  # a PoolAddressesProvider address for fake chains


# --- canaries planted where a secret should never be, yet may be: inside non-secret settings ---


@dataclass(frozen=True)
class PlantedConfig:
    """A testnet config whose secrets also appear inside ordinary settings: the keystore path is
    the password, the journal path holds the API secret, the kill-switch path holds the key the
    keystore decrypts to, the config file's own name holds the Telegram token."""

    path: Path
    env: dict[str, str]
    canaries: tuple[str, ...]
    address: str

    def assert_clean(self, text: str) -> None:
        for canary in self.canaries:
            assert canary not in text, f"a canary secret leaked: {canary[:12]}… in {text[:2000]!r}"


def plant_canaries(directory: Path, *, keystore_exists: bool = True) -> PlantedConfig:
    key = "0x" + secrets.token_hex(32)
    password = "canary-pw-" + secrets.token_hex(6)
    api_key = "canary-apikey-" + secrets.token_hex(6)
    api_secret = "canary-apisecret-" + secrets.token_hex(6)
    telegram = "canary-telegram-" + secrets.token_hex(6)
    address = Account.from_key(key).address
    if keystore_exists:
        document = Account.encrypt(key, password, kdf="pbkdf2", iterations=2)
        keystore = directory / password  # the keystore path equals the password
        keystore.write_text(json.dumps(document))
        keystore.chmod(0o600)
    text = f"""
mode = "testnet"
[chain]
rpc_url = "http://127.0.0.1:1"
chain_id = 31337
pool_addresses_provider = "{PAP}"
[wallet]
address = "{address}"
key_source = "keystore"
keystore_path = "{password}"
[exchange]
withdrawal_allowlist = ["{address}"]
[journal]
path = "{directory / ("journal-" + api_secret + ".sqlite")}"
[engine]
kill_switch_path = "{directory / ("STOP-" + key[2:])}"
[notify]
telegram_chat_id = "42"
"""
    config = directory / f"config-{telegram}.toml"
    config.write_text(text)
    env = {
        "DELEVER_WALLET__KEYSTORE_PASSWORD": password,
        "DELEVER_EXCHANGE__API_KEY": api_key,
        "DELEVER_EXCHANGE__API_SECRET": api_secret,
        "DELEVER_NOTIFY__TELEGRAM_TOKEN": telegram,
    }
    return PlantedConfig(config, env, (key, key[2:], password, api_key, api_secret, telegram), address)

"""Keystore key source: v3 round trip, wrong password, file permissions, address checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.redact import clear_secrets
from bot.settings import load_settings
from tests.support.settings_support import ADDRESS_A, ADDRESS_B, DRY_RUN_TOML, KEY_A, write, write_keystore

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    yield
    clear_secrets()


def keystore_toml(*, address: str | None = ADDRESS_A, path: str = "wallet.keystore.json") -> str:
    text = DRY_RUN_TOML if address else DRY_RUN_TOML.replace(f'address = "{ADDRESS_A}"\n', "")
    if address and address != ADDRESS_A:
        text = text.replace(ADDRESS_A, address)
    return text + f'key_source = "keystore"\nkeystore_path = "{path}"\n'


def load(tmp_path: Path, text: str, password: str = PASSWORD):
    config = write(tmp_path / "c.toml", text)
    return load_settings(config, env={"DELEVER_WALLET__KEYSTORE_PASSWORD": password})


def test_keystore_round_trip_gives_the_signing_account(tmp_path):
    write_keystore(tmp_path / "wallet.keystore.json", KEY_A, PASSWORD)
    s = load(tmp_path, keystore_toml())
    assert s.wallet.keystore_path == tmp_path / "wallet.keystore.json"
    account = s.signer()
    assert account.address == ADDRESS_A
    assert account.key.hex().removeprefix("0x") == KEY_A[2:]
    assert PASSWORD not in repr(s) and KEY_A[2:] not in repr(s)


def test_keystore_address_fills_a_missing_wallet_address(tmp_path):
    write_keystore(tmp_path / "wallet.keystore.json", KEY_A, PASSWORD)
    assert load(tmp_path, keystore_toml(address=None)).wallet.address == ADDRESS_A


def test_keystore_wrong_password_is_one_clear_config_error(tmp_path):
    write_keystore(tmp_path / "wallet.keystore.json", KEY_A, PASSWORD)
    s = load(tmp_path, keystore_toml(), password="not the password")
    with pytest.raises(ConfigError) as info:
        s.signer()
    path = tmp_path / "wallet.keystore.json"
    assert str(info.value) == (
        f"config: wallet.keystore_password: wrong password for keystore {path} "
        "(check DELEVER_WALLET__KEYSTORE_PASSWORD)"
    )
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_keystore_readable_by_group_or_others_is_refused_at_load(tmp_path, mode):
    path = write_keystore(tmp_path / "wallet.keystore.json", KEY_A, PASSWORD, mode=mode)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, keystore_toml())
    assert str(info.value) == (
        f"config: wallet.keystore_path: keystore {path} is accessible by group/others "
        f"(mode {mode:04o}); run `chmod 600 {path}`"
    )


def test_keystore_owner_read_only_is_accepted(tmp_path):
    write_keystore(tmp_path / "wallet.keystore.json", KEY_A, PASSWORD, mode=0o400)
    assert load(tmp_path, keystore_toml()).signer().address == ADDRESS_A


def test_keystore_of_another_wallet_is_refused_before_decrypting(tmp_path):
    path = write_keystore(tmp_path / "wallet.keystore.json", KEY_A, PASSWORD)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, keystore_toml(address=ADDRESS_B))
    assert str(info.value) == f"config: wallet.address: {ADDRESS_B} does not match keystore {path} ({ADDRESS_A})"


def test_keystore_missing_file_is_named(tmp_path):
    with pytest.raises(
        ConfigError, match=r"config: wallet.keystore_path: keystore file .*wallet.keystore.json not found"
    ):
        load(tmp_path, keystore_toml())


def test_keystore_that_is_not_json_is_refused(tmp_path):
    path = write(tmp_path / "wallet.keystore.json", "not json")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="is not a JSON keystore"):
        load(tmp_path, keystore_toml())


def test_read_only_key_source_has_no_signer(tmp_path):
    s = load_settings(write(tmp_path / "c.toml", DRY_RUN_TOML), env={})
    with pytest.raises(ConfigError, match='wallet.key_source: "none" is read-only'):
        s.signer()

"""Signing keys: from the environment or an eth-account v3 keystore, decrypted only when asked.

Nothing here puts a key, a password or a keystore's content into a message or a repr. Every
error raised is a ``ConfigError`` (exit 2) raised ``from None`` so no library exception that
might quote its input rides along as the context.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from eth_utils import to_checksum_address

from bot.errors import ConfigError
from bot.redact import register_secret

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from pydantic import SecretStr

KEY_ENV = "DELEVER_WALLET__PRIVATE_KEY"
PASSWORD_ENV = "DELEVER_WALLET__KEYSTORE_PASSWORD"


def address_of_key(private_key: str) -> str:
    """The checksummed address of a hex private key (shape already validated)."""
    from eth_account import Account  # imported on use: it costs a second at start-up

    try:
        return Account.from_key(private_key).address
    except Exception:  # noqa: BLE001 - the library's message may quote the key
        raise ConfigError(f"config: wallet.private_key: not a valid secp256k1 key (check {KEY_ENV})") from None


def keystore_address(path: Path) -> str:
    """The address recorded in a keystore file, after checking its permissions. No decryption."""
    document = _read_keystore(path)
    raw = document.get("address")
    if not isinstance(raw, str) or len(raw.removeprefix("0x")) != 40:
        raise ConfigError(f"config: wallet.keystore_path: keystore {path} has no address field")
    try:
        return to_checksum_address("0x" + raw.removeprefix("0x"))
    except ValueError:
        raise ConfigError(f"config: wallet.keystore_path: keystore {path} has an invalid address field") from None


def signer_from_key(private_key: SecretStr, *, expected_address: str | None) -> LocalAccount:
    from eth_account import Account

    try:
        account = Account.from_key(private_key.get_secret_value())
    except Exception:  # noqa: BLE001
        raise ConfigError(f"config: wallet.private_key: not a valid secp256k1 key (check {KEY_ENV})") from None
    _check_address(account.address, expected_address, source=KEY_ENV)
    return account


def signer_from_keystore(path: Path, password: SecretStr, *, expected_address: str | None) -> LocalAccount:
    """Decrypt the keystore (scrypt/pbkdf2 as recorded in the file; can take a second)."""
    from eth_account import Account

    document = _read_keystore(path)
    try:
        key = Account.decrypt(document, password.get_secret_value())
    except ValueError:
        # eth-account says "MAC mismatch" for a wrong password; fail closed, never retry.
        raise ConfigError(
            f"config: wallet.keystore_password: wrong password for keystore {path} (check {PASSWORD_ENV})"
        ) from None
    except Exception:  # noqa: BLE001 - a malformed crypto section
        raise ConfigError(f"config: wallet.keystore_path: keystore {path} cannot be decrypted (malformed)") from None
    register_secret("0x" + bytes(key).hex())
    account = Account.from_key(key)
    _check_address(account.address, expected_address, source=f"keystore {path}")
    return account


def _check_address(actual: str, expected: str | None, *, source: str) -> None:
    if expected is not None and actual != expected:
        raise ConfigError(f"config: wallet.address: {expected} does not match the key in {source} ({actual})")


def _read_keystore(path: Path) -> dict:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"config: wallet.keystore_path: keystore file {path} not found") from None
    except OSError as exc:
        raise ConfigError(f"config: wallet.keystore_path: cannot read {path} ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"config: wallet.keystore_path: {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"config: wallet.keystore_path: keystore {path} is accessible by group/others "
            f"(mode {mode:04o}); run `chmod 600 {path}`"
        )
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"config: wallet.keystore_path: cannot read {path} ({exc.strerror})") from None
    except ValueError:
        raise ConfigError(f"config: wallet.keystore_path: {path} is not a JSON keystore") from None
    if not isinstance(document, dict) or not isinstance(document.get("crypto") or document.get("Crypto"), dict):
        raise ConfigError(f"config: wallet.keystore_path: {path} is not an eth-account v3 keystore")
    return document

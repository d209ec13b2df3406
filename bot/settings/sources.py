"""Where setting values come from: the TOML file, the environment, the devnet state file.

Precedence, highest first: environment (``DELEVER_…``, nested with ``__``), the TOML file, the
devnet state file (it only fills what the other two leave out). Secrets come from the
environment (or the devnet state) only; a secret key in the TOML file is an error.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from pydantic_settings import BaseSettings, EnvSettingsSource
from pydantic_settings.exceptions import SettingsError
from pydantic_settings.sources.utils import parse_env_vars

from bot.devnet.state import read_state_data
from bot.errors import ConfigError
from bot.redact import register_secret
from bot.settings.sections import MASKED_SECRET_PATHS
from bot.settings.types import private_key_shape
from bot.settings.wallet import address_of_key

CONFIG_ENV = "DELEVER_CONFIG"
STATE_DIR_ENV = "DELEVER_STATE_DIR"
DEFAULT_STATE_DIR = ".delever"
ENV_PREFIX = "DELEVER_"


# A config is a few kilobytes; these bounds refuse garbage before it can exhaust anything.
MAX_CONFIG_BYTES = 1_000_000
MAX_CONFIG_DEPTH = 16


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The config file as a dict; floats become Decimal so 1.05 stays exactly 1.05.

    Only a regular file is read: a FIFO would block and ``/dev/zero`` never ends."""
    file = Path(path)
    try:
        info = file.stat()
    except FileNotFoundError:
        raise ConfigError(f"config: file {file} not found") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"config: cannot read {file} ({getattr(exc, 'strerror', None) or 'bad path'})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"config: {file} is not a regular file")
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"config: {file} is larger than {MAX_CONFIG_BYTES} bytes: not a config file")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"config: cannot read {file} ({reason})") from None
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's messages name the position and the rule, never the offending value.
        raise ConfigError(f"config: {file}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"config: {file}: nested more than {MAX_CONFIG_DEPTH} levels deep") from None
    if _depth(data) > MAX_CONFIG_DEPTH:
        raise ConfigError(f"config: {file}: nested more than {MAX_CONFIG_DEPTH} levels deep")
    reject_file_secrets(data)
    return data


def _depth(value: Any, level: int = 0) -> int:
    """How deeply tables and arrays nest (stops counting past the limit)."""
    if level > MAX_CONFIG_DEPTH:
        return level
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return max((_depth(child, level + 1) for child in children), default=level)


def reject_file_secrets(data: Mapping[str, Any]) -> None:
    for (section, name), env in MASKED_SECRET_PATHS.items():
        table = data.get(section)
        if isinstance(table, Mapping) and name in table:
            raise ConfigError(
                f"config: {section}.{name}: secrets come from the environment, not the config file (set {env})"
            )


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' env parsing (prefix, ``__`` nesting, JSON for lists) over a given mapping."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given_env = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._given_env, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def env_values(
    settings_cls: type[BaseSettings], env: Mapping[str, str]
) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The ``DELEVER_…`` overrides as nested values, and which variable set each leaf path."""
    for var in MASKED_SECRET_PATHS.values():
        register_secret(_lookup(env, var))  # before anything can fail and print
    try:
        values = _MappingEnvSource(settings_cls, env)()
    except SettingsError as exc:
        # pydantic-settings names the field, never the value; lists and tables must be JSON.
        match = re.search(r'field "([^"]+)"', str(exc))
        field = match.group(1) if match else "?"
        raise ConfigError(
            f"config: {field}: a {ENV_PREFIX}{field.upper()}__… value is not valid JSON "
            "(lists and tables from the environment are JSON, e.g. '[\"0x…\"]')"
        ) from None
    values = _typed_policy_params(values)
    origins: dict[tuple[str, ...], str] = {}
    _collect_origins(values, (), origins)
    return values, origins


def _lookup(env: Mapping[str, str], name: str) -> str | None:
    for key, value in env.items():
        if key.upper() == name:
            return value
    return None


def _collect_origins(node: Any, path: tuple[str, ...], out: dict[tuple[str, ...], str]) -> None:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _collect_origins(value, (*path, str(key)), out)
    elif path:
        out[path] = ENV_PREFIX + "__".join(part.upper() for part in path)


def _typed_policy_params(values: dict[str, Any]) -> dict[str, Any]:
    """Read env policy params as TOML scalars: ``DELEVER_POLICY__PARAMS__TRIGGER_HF=1.3`` is a Decimal."""
    policy = values.get("policy")
    if not isinstance(policy, dict) or not isinstance(policy.get("params"), dict):
        return values
    params = {key: _toml_scalar(val) if isinstance(val, str) else val for key, val in policy["params"].items()}
    return {**values, "policy": {**policy, "params": params}}


def _toml_scalar(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}", parse_float=Decimal)["v"]
    except tomllib.TOMLDecodeError:
        return text


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_path(value: str | os.PathLike[str], env: Mapping[str, str]) -> Path:
    """Absolute path: relative to the current directory, with ``.delever/…`` moved to ``$DELEVER_STATE_DIR``."""
    path = Path(value).expanduser()
    state_dir = env.get(STATE_DIR_ENV)
    if not path.is_absolute() and path.parts[:1] == (DEFAULT_STATE_DIR,) and state_dir:
        path = Path(state_dir).expanduser().joinpath(*path.parts[1:])
    return path if path.is_absolute() else Path.cwd() / path


def resolve_paths(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Make every path setting absolute (and give the journal its default location)."""
    data = dict(data)
    if isinstance(data.get("devnet_state"), str):
        data["devnet_state"] = resolve_path(data["devnet_state"], env)
    journal = data.get("journal", {})
    if isinstance(journal, Mapping):
        path = journal.get("path", f"{DEFAULT_STATE_DIR}/journal.sqlite")
        if isinstance(path, str):
            data["journal"] = {**journal, "path": resolve_path(path, env)}
    wallet = data.get("wallet")
    if isinstance(wallet, Mapping) and isinstance(wallet.get("keystore_path"), str):
        data["wallet"] = {**wallet, "keystore_path": resolve_path(wallet["keystore_path"], env)}
    policy = data.get("policy")
    if isinstance(policy, Mapping) and isinstance(policy.get("name"), str) and policy["name"].endswith(".py"):
        data["policy"] = {**policy, "name": str(resolve_path(policy["name"], env))}
    return data


def read_devnet_state(path: Path) -> dict[str, Any]:
    state = read_state_data(path)
    if state is None:
        raise ConfigError(f"devnet state file {path} not found: run `delever devnet up` first")
    return state


def fill_from_devnet(data: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """Fill what the file and the environment left out from a devnet state file."""

    def section(name: str) -> dict[str, Any]:
        value = data.get(name, {})
        return dict(value) if isinstance(value, Mapping) else value

    chain, wallet, exchange = section("chain"), section("wallet"), section("exchange")
    if isinstance(chain, dict):
        _fill(chain, "rpc_url", state.get("rpc_url"))
        _fill(chain, "chain_id", state.get("chain_id"))
        _fill(chain, "pool_addresses_provider", _checksum(state.get("pool_addresses_provider")))
        data = {**data, "chain": chain}
    state_wallet = _checksum(state.get("wallet"))
    if isinstance(wallet, dict):
        env_key = wallet.get("private_key")
        if env_key is None:
            _fill(wallet, "address", state_wallet)
        if state.get("wallet_private_key"):
            _fill(wallet, "key_source", "env")
            if wallet.get("key_source") == "env":
                _fill(wallet, "private_key", state["wallet_private_key"])
        data = {**data, "wallet": wallet}
    if isinstance(exchange, dict):
        _fill(exchange, "api_url", state.get("exchange_url"))
        if (
            state.get("api_key")
            and state.get("api_secret")
            and "api_key" not in exchange
            and "api_secret" not in exchange
        ):
            exchange["api_key"], exchange["api_secret"] = state["api_key"], state["api_secret"]
        # The wallet the run will use (an env key may replace the demo wallet) may receive withdrawals.
        payee = _wallet_address(wallet) if isinstance(wallet, dict) else state_wallet
        allowlist = exchange.get("withdrawal_allowlist", [])
        if payee and isinstance(allowlist, (list, tuple)) and payee not in allowlist:
            exchange["withdrawal_allowlist"] = [*allowlist, payee]
        data = {**data, "exchange": exchange}
    dex_state, dex = state.get("dex"), section("dex")
    if isinstance(dex_state, Mapping) and isinstance(dex, dict):
        # The devnet's Uniswap v3 quoter and router, and the deleverage adapter once one is deployed.
        _fill(dex, "quoter_address", _checksum(dex_state.get("quoter")))
        _fill(dex, "swap_router", _checksum(dex_state.get("router")))
        _fill(dex, "adapter_address", _checksum(dex_state.get("adapter")))
        data = {**data, "dex": dex}
    return data


def _wallet_address(wallet: Mapping[str, Any]) -> str | None:
    if isinstance(wallet.get("address"), str):
        return wallet["address"]
    try:
        key = private_key_shape(wallet.get("private_key"))
        return address_of_key(str(key))
    except (ValueError, ConfigError):
        return None  # the validators report it


def _fill(table: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and table.get(key) is None:
        table[key] = value


def _checksum(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return to_checksum_address(value)
    except ValueError:
        return value  # left for the validator to report

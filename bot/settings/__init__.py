"""Settings: one TOML file plus ``DELEVER_…`` environment overrides, validated once at start-up.

    settings = load_settings("config/devnet.toml")
    settings.limits.hf_floor            # Decimal("1.05")
    account = settings.signer()         # eth-account LocalAccount, decrypted on demand

Every model is frozen and rejects unknown keys. Secrets (private key, keystore password,
exchange API key/secret, Telegram token) come from the environment only, are ``SecretStr``
(masked in ``repr``), and are registered with ``bot.redact`` so no log line can carry them.
Every problem is a ``ConfigError`` with one line naming the key path, never the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.errors import ConfigError
from bot.redact import register_secret, register_url_secrets
from bot.settings.errors import config_error
from bot.settings.sections import (
    MASKED_SECRET_PATHS,
    ChainConfig,
    ConsoleConfig,
    EngineConfig,
    ExchangeConfig,
    FieldProblem,
    JournalConfig,
    LimitsConfig,
    MetricsConfig,
    NotifyConfig,
    PolicyConfig,
    WalletConfig,
    missing_secret,
)
from bot.settings.sources import (
    CONFIG_ENV,
    DEFAULT_STATE_DIR,
    deep_merge,
    env_values,
    fill_from_devnet,
    read_devnet_state,
    read_toml,
    resolve_path,
    resolve_paths,
)
from bot.settings.types import MAINNET_CHAIN_IDS, TESTNET_CHAIN_IDS
from bot.settings.wallet import keystore_address, signer_from_key, signer_from_keystore

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

__all__ = [
    "ChainConfig",
    "ConsoleConfig",
    "EngineConfig",
    "ExchangeConfig",
    "JournalConfig",
    "LimitsConfig",
    "MetricsConfig",
    "Mode",
    "BacktestSettings",
    "NotifyConfig",
    "PolicyConfig",
    "Settings",
    "WalletConfig",
    "load_backtest_settings",
    "load_settings",
    "load_settings_or_devnet",
    "override_limits",
]

Mode = Literal["dry-run", "testnet", "live"]


class Settings(BaseSettings):
    """The whole configuration. Build it with ``load_settings``; constructing it directly reads
    only the keyword arguments (no environment), which is what tests want."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        validate_default=True,
        env_prefix="DELEVER_",
        env_nested_delimiter="__",
        case_sensitive=False,
        env_ignore_empty=True,  # `DELEVER_X=` (docker-compose style) means unset
    )

    mode: Mode = "dry-run"
    devnet_state: Path | None = None
    chain: ChainConfig
    wallet: WalletConfig = WalletConfig()
    exchange: ExchangeConfig = ExchangeConfig()
    policy: PolicyConfig = PolicyConfig()
    limits: LimitsConfig = LimitsConfig()
    journal: JournalConfig = JournalConfig()
    metrics: MetricsConfig = MetricsConfig()
    notify: NotifyConfig = NotifyConfig()
    engine: EngineConfig = EngineConfig()
    console: ConsoleConfig = ConsoleConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings layers file, environment and devnet state itself (explicit precedence).
        return (init_settings,)

    @model_validator(mode="after")
    def _mode_rules(self) -> Settings:
        chain_id = self.chain.chain_id
        if self.mode == "testnet" and chain_id not in TESTNET_CHAIN_IDS:
            known = ", ".join(str(i) for i in list(TESTNET_CHAIN_IDS)[:6]) + ", …"
            what = f"{MAINNET_CHAIN_IDS[chain_id]} mainnet" if chain_id in MAINNET_CHAIN_IDS else "unknown chain"
            raise FieldProblem(
                ("chain", "chain_id"), f'mode "testnet" needs a testnet chain id ({known}); {chain_id} is {what}'
            )
        if self.mode == "live" and chain_id in TESTNET_CHAIN_IDS:
            raise FieldProblem(
                ("chain", "chain_id"),
                f'mode "live" on testnet chain {chain_id} ({TESTNET_CHAIN_IDS[chain_id]}): use mode = "testnet"',
            )
        if self.wallet.address is None:
            raise FieldProblem(("wallet", "address"), "required (the wallet whose position is managed)")
        if self.limits.buffer_usd > 0 and not self.engine.repay_idle:
            raise FieldProblem(
                ("limits", "buffer_usd"), "needs engine.repay_idle = true (batches spend the buffer first)"
            )
        if self.mode in ("testnet", "live"):
            if self.wallet.key_source == "none":
                raise FieldProblem(
                    ("wallet", "key_source"), f'mode "{self.mode}" signs transactions: use "env" or "keystore"'
                )
            for name in ("api_key", "api_secret"):
                if getattr(self.exchange, name) is None:
                    problem = missing_secret("exchange", name, f' for mode "{self.mode}"')
                    raise FieldProblem(("exchange", *problem.path), str(problem))
        allowlist = self.exchange.withdrawal_allowlist
        if (self.mode != "dry-run" or allowlist) and self.wallet.address not in allowlist:
            raise FieldProblem(
                ("exchange", "withdrawal_allowlist"), f"must contain the wallet address {self.wallet.address}"
            )
        return self

    @property
    def signs(self) -> bool:
        """Whether this mode signs and sends anything (testnet and live)."""
        return self.mode in ("testnet", "live")

    def signer(self) -> LocalAccount:
        """The signing account, built on demand (a keystore is decrypted on each call: keep the result).

        Raises ``ConfigError`` (exit 2) for ``key_source = "none"``, a wrong keystore password, a
        keystore file open to group/others, or a key that is not ``wallet.address``'s.
        """
        wallet = self.wallet
        if wallet.key_source == "env" and wallet.private_key is not None:
            return signer_from_key(wallet.private_key, expected_address=wallet.address)
        if wallet.key_source == "keystore" and wallet.keystore_path and wallet.keystore_password:
            return signer_from_keystore(wallet.keystore_path, wallet.keystore_password, expected_address=wallet.address)
        raise ConfigError('config: wallet.key_source: "none" is read-only: no signer')


def load_settings(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> Settings:
    """Read, layer and validate the configuration.

    ``path`` defaults to ``$DELEVER_CONFIG``; ``env`` defaults to ``os.environ``. Environment
    variables ``DELEVER_<SECTION>__<KEY>`` override the file. Raises ``ConfigError``.
    """
    env = dict(os.environ if env is None else env)
    path = path or env.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"config: no config file: pass --config FILE or set {CONFIG_ENV}")
    file_values = read_toml(path)
    overrides, origins = env_values(Settings, env)
    data = _resolve_engine_paths(resolve_paths(deep_merge(file_values, overrides), env), env)
    if isinstance(data.get("devnet_state"), Path):
        data = fill_from_devnet(data, read_devnet_state(data["devnet_state"]))
    data = _address_from_keystore(data)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise config_error(exc, env_origins=origins) from None
    _check_files(settings)
    _register_secrets(settings)
    return settings


def load_settings_or_devnet(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Settings:
    """``load_settings`` when a config is given (``path`` or ``$DELEVER_CONFIG``); otherwise
    read-only settings for the local devnet from its state file
    (``$DELEVER_STATE_DIR/devnet.json``, default ``.delever/devnet.json``): dry-run, no signer."""
    env = dict(os.environ if env is None else env)
    if path or env.get(CONFIG_ENV):
        return load_settings(path, env=env)
    state = resolve_path(f"{DEFAULT_STATE_DIR}/devnet.json", env)
    if not state.is_file():
        raise ConfigError(f"no config: pass --config FILE, or start the devnet (no state file at {state})")
    # The devnet deploys @aave/core-v3 1.19.3, a v3.0-v3.4 release (as config/devnet.toml says).
    chain = {"rounding": "v3.0"}
    data = resolve_paths({"mode": "dry-run", "chain": chain, "wallet": {"key_source": "none"}, "exchange": {}}, env)
    try:
        return Settings(**fill_from_devnet(data, read_devnet_state(state)))
    except ValidationError as exc:
        raise config_error(exc) from None


def override_limits(
    limits: LimitsConfig, overrides: Mapping[str, Any], *, origins: Mapping[str, str] | None = None
) -> LimitsConfig:
    """``limits`` with ``overrides`` (e.g. command-line flags) validated by the same rules as the
    file: a bound the TOML rejects is rejected here with the same ``ConfigError`` line, naming
    where the value came from (``origins``: key → e.g. ``"--max-slippage-bps"``)."""
    values = {**limits.model_dump(), **overrides}
    where = {("limits", key): origin for key, origin in (origins or {}).items()}
    try:
        return BacktestSettings(limits=values).limits
    except ValidationError as exc:
        raise config_error(exc, env_origins=where) from None


def _resolve_engine_paths(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    engine = data.get("engine")
    if isinstance(engine, Mapping) and isinstance(engine.get("kill_switch_path"), str):
        return {**data, "engine": {**engine, "kill_switch_path": resolve_path(engine["kill_switch_path"], env)}}
    return data


def _address_from_keystore(data: dict[str, Any]) -> dict[str, Any]:
    wallet = data.get("wallet")
    if not isinstance(wallet, Mapping) or wallet.get("key_source") != "keystore":
        return data
    if wallet.get("address") is None and isinstance(wallet.get("keystore_path"), Path):
        return {**data, "wallet": {**wallet, "address": keystore_address(wallet["keystore_path"])}}
    return data


def _check_files(settings: Settings) -> None:
    """The file checks that need no secret: keystore permissions and address, policy file."""
    wallet = settings.wallet
    if wallet.key_source == "keystore" and wallet.keystore_path is not None:
        recorded = keystore_address(wallet.keystore_path)
        if recorded != wallet.address:
            raise ConfigError(
                f"config: wallet.address: {wallet.address} does not match keystore {wallet.keystore_path} ({recorded})"
            )
    if settings.policy.is_file and not Path(settings.policy.name).is_file():
        raise ConfigError(f"config: policy.name: policy file {settings.policy.name} not found")


def _register_secrets(settings: Settings) -> None:
    for section, name in MASKED_SECRET_PATHS:
        register_secret(getattr(getattr(settings, section), name))
    register_secret(settings.notify.webhook_url)
    if settings.notify.webhook_url is not None:
        register_url_secrets(settings.notify.webhook_url.get_secret_value())
    register_url_secrets(settings.chain.rpc_url)
    register_url_secrets(settings.exchange.api_url)


# The sections a backtest reads from a config file: what to decide and within which limits.
# The chain, the wallet, the journal, metrics and notifications are the daemon's; a backtest
# accepts a full daemon config and ignores those sections (it touches no chain).
BACKTEST_SECTIONS = ("exchange", "policy", "limits", "engine")
_DAEMON_ONLY_KEYS = frozenset({"mode", "devnet_state", "chain", "wallet", "journal", "metrics", "notify", "console"})


class BacktestSettings(BaseModel):
    """The part of ``Settings`` a backtest uses; every default is the schema's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: ExchangeConfig = ExchangeConfig()
    policy: PolicyConfig = PolicyConfig()
    limits: LimitsConfig = LimitsConfig()
    engine: EngineConfig = EngineConfig()


def load_backtest_settings(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> BacktestSettings:
    """``BacktestSettings`` from a config file (``None``: the schema's defaults only, no
    environment). Unknown top-level keys are errors, as for the daemon; secrets are not read."""
    if path is None:
        return BacktestSettings()
    env = dict(os.environ if env is None else env)
    file_values = read_toml(path)
    unknown = sorted(set(file_values) - set(BACKTEST_SECTIONS) - _DAEMON_ONLY_KEYS)
    if unknown:
        raise ConfigError(f"config: {unknown[0]}: unknown key")
    overrides, origins = env_values(Settings, env)
    merged = deep_merge(file_values, overrides)
    data = {k: v for k, v in merged.items() if k in BACKTEST_SECTIONS}
    if isinstance(data.get("exchange"), Mapping):  # credentials are the daemon's business
        data["exchange"] = {k: v for k, v in data["exchange"].items() if k not in ("api_key", "api_secret")}
    try:
        settings = BacktestSettings(**data)
    except ValidationError as exc:
        raise config_error(exc, env_origins=origins) from None
    if settings.policy.is_file and not Path(settings.policy.name).is_file():
        raise ConfigError(f"config: policy.name: policy file {settings.policy.name} not found")
    return settings

"""The sections of the settings: frozen pydantic models, unknown keys rejected, rules per section.

Rules that span sections (mode vs chain id, live needs keys, the allowlist holds the wallet)
live on the root ``Settings`` in ``bot/settings/__init__.py``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, field_serializer, field_validator, model_validator

from bot.domain.position import Rounding
from bot.redact import mask_url
from bot.settings.types import (
    FROZEN_STRICT,
    ChecksumAddress,
    HttpUrl,
    Identifier,
    PositiveUsd,
    PrivateKeyFormat,
    RpcUrl,
    Seconds,
    is_loopback_host,
    private_key_shape,
    url_validator,
)
from bot.settings.wallet import address_of_key

MASKED_SECRET_PATHS: dict[tuple[str, str], str] = {
    ("wallet", "private_key"): "DELEVER_WALLET__PRIVATE_KEY",
    ("wallet", "keystore_password"): "DELEVER_WALLET__KEYSTORE_PASSWORD",
    ("exchange", "api_key"): "DELEVER_EXCHANGE__API_KEY",
    ("exchange", "api_secret"): "DELEVER_EXCHANGE__API_SECRET",
    ("notify", "telegram_token"): "DELEVER_NOTIFY__TELEGRAM_TOKEN",
    ("console", "token"): "DELEVER_CONSOLE__TOKEN",
}
"""Secrets accepted from the environment only, with the variable that sets each."""


class FieldProblem(ValueError):
    """A rule broken at ``path`` (relative to the model that raised it); the message has no input value."""

    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def missing_secret(section: str, name: str, why: str = "") -> FieldProblem:
    env = MASKED_SECRET_PATHS[(section, name)]
    return FieldProblem((name,), f"required secret missing{why} (set {env})")


class ChainConfig(BaseModel):
    model_config = FROZEN_STRICT

    # Hosted RPC URLs carry an API key in the path: kept out of repr, masked on display.
    rpc_url: Annotated[RpcUrl, Field(repr=False)]
    chain_id: Annotated[int, Field(gt=0)]
    pool_addresses_provider: ChecksumAddress
    confirmations: Annotated[int, Field(ge=0, le=64)] = 2
    rounding: Literal["v3.0", "v3.5"] = "v3.5"
    # How often the daemon asks the node for its head block (one eth_blockNumber call); it
    # acts on each new block (see ``engine.tick_interval_s``).
    poll_interval_s: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] = 2.0

    @field_serializer("rpc_url", when_used="json")
    def _masked_rpc_url(self, value: str) -> str | None:
        return mask_url(value)

    @property
    def rounding_mode(self) -> Rounding:
        return Rounding(self.rounding)


class WalletConfig(BaseModel):
    model_config = FROZEN_STRICT

    address: ChecksumAddress | None = None
    key_source: Literal["env", "keystore", "none"] = "none"
    keystore_path: Path | None = None
    private_key: Annotated[SecretStr, PrivateKeyFormat] | None = None
    keystore_password: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _address_from_env_key(cls, data: Any) -> Any:
        # The address follows from an env key; derive it so it need not be repeated.
        if not isinstance(data, dict) or data.get("address") is not None or data.get("key_source") != "env":
            return data
        try:
            raw = private_key_shape(data.get("private_key"))
        except ValueError:
            return data  # the field validator reports it
        return {**data, "address": address_of_key(str(raw))}

    @model_validator(mode="after")
    def _key_source_has_its_secret(self) -> WalletConfig:
        if self.key_source == "env":
            if self.private_key is None:
                raise missing_secret("wallet", "private_key", ' for key_source "env"')
            derived = address_of_key(self.private_key.get_secret_value())
            if self.address is not None and self.address != derived:
                raise FieldProblem(
                    ("address",), f"{self.address} does not match the key in DELEVER_WALLET__PRIVATE_KEY ({derived})"
                )
        elif self.private_key is not None:
            raise FieldProblem(
                ("private_key",),
                f'is set (DELEVER_WALLET__PRIVATE_KEY) but key_source is "{self.key_source}": unset it or use "env"',
            )
        if self.key_source == "keystore":
            if self.keystore_path is None:
                raise FieldProblem(("keystore_path",), 'required for key_source "keystore"')
            if self.keystore_password is None:
                raise missing_secret("wallet", "keystore_password", ' for key_source "keystore"')
        elif self.keystore_password is not None:
            raise FieldProblem(
                ("keystore_password",),
                f'is set (DELEVER_WALLET__KEYSTORE_PASSWORD) but key_source is "{self.key_source}"',
            )
        return self


class ExchangeConfig(BaseModel):
    model_config = FROZEN_STRICT

    id: Identifier = "binance"
    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,15}/[A-Z0-9]{2,15}$")] = "ETH/USDT"
    deposit_network: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{2,32}$")] = "ERC20"
    api_url: HttpUrl | None = None
    withdrawal_allowlist: tuple[ChecksumAddress, ...] = ()
    timeout_ms: Annotated[int, Field(gt=0, le=120_000)] = 10_000
    # Binance drops a signed request older than this. A lookup that finds no order (or
    # withdrawal) is conclusive only recvWindow + 1 s after the last possible send.
    recv_window_ms: Annotated[int, Field(ge=1000, le=60_000)] = 10_000
    # While the exchange does not answer, an order or withdrawal whose outcome is unknown is
    # looked up by key (with alerts) for up to this long, then the journal halts for review.
    reconcile_timeout_s: Annotated[float, Field(ge=10, le=7 * 86_400, allow_inf_nan=False)] = 21_600.0
    # The recent candles (klines) the planner's in-transit shock takes its σ from, read with
    # the other exchange reads; 0: none (the plan says it uses limits.price_shock_bps alone).
    # 288 × 5m is one day: the whole window the shock's regime σ is read over.
    candles_timeframe: Literal["1m", "5m", "15m", "1h"] = "5m"
    candles_limit: Annotated[int, Field(ge=0, le=1000)] = 288
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _keys_come_in_pairs(self) -> ExchangeConfig:
        if self.api_key is not None and self.api_secret is None:
            raise missing_secret("exchange", "api_secret", " (the API key is set)")
        if self.api_secret is not None and self.api_key is None:
            raise missing_secret("exchange", "api_key", " (the API secret is set)")
        return self

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]


Scalar = bool | int | Decimal | str
# TOML arrays of scalars, or of arrays of scalars (a ladder's [[drawdown, distance], …]).
ParamValue = Scalar | tuple[Scalar | tuple[Scalar, ...], ...]


class PolicyConfig(BaseModel):
    model_config = FROZEN_STRICT

    name: Annotated[str, Field(min_length=1, max_length=512)] = "threshold"
    params: dict[Identifier, ParamValue] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _builtin_or_file(cls, value: str) -> str:
        if value.endswith(".py") or re.fullmatch(r"[a-z][a-z0-9_\-]*", value):
            return value
        raise ValueError("must be a built-in policy name (threshold, ladder, paced, …) or a path to a .py file")

    @property
    def is_file(self) -> bool:
        return self.name.endswith(".py")


class LimitsConfig(BaseModel):
    model_config = FROZEN_STRICT

    max_slippage_bps: Annotated[int, Field(gt=0, le=2000)] = 100
    hf_floor: Annotated[Decimal, Field(gt=1, le=10, allow_inf_nan=False)] = Decimal("1.10")
    # The least in-transit price shock a sell floor must survive; the planner sizes it from
    # recent volatility above this when it has price history.
    price_shock_bps: Annotated[int, Field(ge=0, lt=9000)] = 300
    # The shock above that floor: this quantile of the worst fall over a batch's round trip in
    # the shipped price history, in the regime of the recent candles' volatility.
    shock_quantile: Annotated[Decimal, Field(ge=Decimal("0.5"), le=Decimal("0.9999"), allow_inf_nan=False)] = Decimal(
        "0.999"
    )
    max_batch_usd: PositiveUsd = Decimal("100000")
    max_daily_usd: PositiveUsd = Decimal("1000000")
    min_batch_usd: PositiveUsd = Decimal("100")
    cooldown_s: Seconds = 300.0
    max_oracle_divergence_bps: Annotated[int, Field(gt=0, le=5000)] = 300
    # Stablecoins (debt token, ≈ USD) the bot may spend from the wallet at a batch's start and
    # refill from its sale: with it, batches repay first and HF never dips below their start.
    buffer_usd: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal("0")
    # When hf_floor at the shocked price has left no room for any withdrawal for
    # emergency_after_s (the crash has happened; the day-long regime keeps the shock high), a
    # smaller batch may go, keeping HF at or above this at the shocked price: standing still is
    # how such a position slides into liquidation. At or above hf_floor: off. Not at once: the
    # minutes after a crash leg are when the next leg comes.
    emergency_hf_floor: Annotated[Decimal, Field(ge=1, le=10, allow_inf_nan=False)] = Decimal("1.01")
    emergency_after_s: Annotated[int, Field(ge=0, le=7 * 86_400)] = 3600

    @model_validator(mode="after")
    def _ordered_amounts(self) -> LimitsConfig:
        if self.min_batch_usd > self.max_batch_usd:
            raise FieldProblem(("min_batch_usd",), f"must not exceed max_batch_usd ({self.max_batch_usd})")
        if self.max_batch_usd > self.max_daily_usd:
            raise FieldProblem(("max_batch_usd",), f"must not exceed max_daily_usd ({self.max_daily_usd})")
        return self


class JournalConfig(BaseModel):
    model_config = FROZEN_STRICT

    path: Path = Path(".delever/journal.sqlite")


class MetricsConfig(BaseModel):
    model_config = FROZEN_STRICT

    enabled: bool = False
    host: Annotated[str, Field(min_length=1, max_length=253)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 9108
    # Serving metrics beyond this machine shows the position to the network: an explicit choice.
    allow_remote: bool = False

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> MetricsConfig:
        if not self.allow_remote and not is_loopback_host(self.host):
            raise FieldProblem(("host",), "is not a loopback address: set metrics.allow_remote = true to serve it")
        return self


class ConsoleConfig(BaseModel):
    """The operator's web console (``delever console``, ``delever run --console``)."""

    model_config = FROZEN_STRICT

    host: Annotated[str, Field(min_length=1, max_length=253)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8765
    # The stop and clear-halt controls need it (header X-Delever-Token); without it the page is read-only.
    token: Annotated[SecretStr, Field(min_length=16)] | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None

    @model_validator(mode="after")
    def _off_loopback_needs_token_and_tls(self) -> ConsoleConfig:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise FieldProblem(("tls_certfile",), "tls_certfile and tls_keyfile go together")
        if not is_loopback_host(self.host) and (self.token is None or self.tls_certfile is None):
            raise FieldProblem(
                ("host",),
                f"{self.host} is not a loopback address: serving the console beyond this machine needs "
                "DELEVER_CONSOLE__TOKEN and console.tls_certfile/tls_keyfile",
            )
        return self


class EngineConfig(BaseModel):
    """How the daemon runs: when it acts, how it waits, when it gives up."""

    model_config = FROZEN_STRICT

    # None: act on every new block (the head is polled every chain.poll_interval_s);
    # a number: act every so many seconds instead (chains with sub-second blocks).
    tick_interval_s: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] | None = None
    # Watching blocks: act at least this often even when no new block arrives (a stalled node).
    max_tick_gap_s: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] = 60.0
    # Between reads while a step waits (confirmations, deposit credit, withdrawal landing);
    # None: chain.poll_interval_s.
    poll_interval_s: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] | None = None
    # A transfer or a pending transaction not final after this long needs a human.
    transfer_timeout_s: Annotated[float, Field(ge=10, le=7 * 86_400, allow_inf_nan=False)] = 3 * 3600.0
    # Failed ticks in a row before the daemon halts (fail closed).
    max_consecutive_failures: Annotated[int, Field(ge=1, le=100)] = 3
    # The file whose existence stops the daemon within seconds; None: STOP next to the journal.
    kill_switch_path: Path | None = None
    # Once the policy asks to restore HF to a target, keep unwinding until HF reaches it even
    # when the policy goes quiet in between (threshold: from its trigger up), then stop. Kept
    # in the journal (restarts, run --once). Off: the policy alone decides each tick.
    hold_to_target: bool = False
    # Unwrap WETH before depositing it? None: when the collateral is WETH and the exchange coin ETH.
    unwrap_native: bool | None = None
    # Repay with the debt token already idle in the wallet before withdrawing anything.
    repay_idle: bool = True
    # Idle funds (on the exchange, or debt tokens in the wallet) worth less are left alone.
    sweep_min_usd: PositiveUsd = Decimal("10")
    # Wait before looking up a write whose answer was lost (let it land first).
    reconcile_grace_s: Annotated[float, Field(ge=0, le=300, allow_inf_nan=False)] = 2.0
    # Retries of a read, or of a write the venue refused as retryable, before the tick fails.
    max_retries: Annotated[int, Field(ge=0, le=50)] = 8
    backoff_s: Annotated[float, Field(gt=0, le=60, allow_inf_nan=False)] = 1.0
    # Batches in flight at once (1: one round trip at a time). More overlap their waits while
    # the HF floor holds at the shocked price with all collateral in transit counted as gone.
    max_in_flight: Annotated[int, Field(ge=1, le=16)] = 1


class DexConfig(BaseModel):
    """The atomic DEX route: flash-borrow the debt, repay, withdraw and swap in one transaction
    through the project's adapter contract."""

    model_config = FROZEN_STRICT

    # "auto": each batch takes the cheaper route that respects the cap, the DEX when the CEX
    # path cannot act; "cex": the exchange only; "dex": the atomic route only.
    route: Literal["auto", "cex", "dex"] = "cex"
    # The deployed adapter (``delever adapter deploy``); None: no DEX route on this chain.
    adapter_address: ChecksumAddress | None = None
    # The Uniswap v3 SwapRouter the adapter swaps through (`delever adapter deploy` builds it in;
    # Ethereum mainnet: 0xE592427A0AEce92De3Edee1F18E0157C05861564).
    swap_router: ChecksumAddress | None = None
    # Uniswap v3 fee tiers priced for each batch (hundredths of a bip: 500 = 0.05 %).
    fee_tiers: tuple[Annotated[int, Field(gt=0, lt=1_000_000)], ...] = (500, 3000)
    # Uniswap v3's QuoterV2 on this chain (the DEX route's prices); required with the adapter.
    quoter_address: ChecksumAddress | None = None


class NotifyConfig(BaseModel):
    model_config = FROZEN_STRICT

    telegram_api_url: HttpUrl = "https://api.telegram.org"
    min_alert_level: Literal["info", "warning", "critical"] = "warning"
    on_batches: bool = True  # a message per finished batch, besides the alerts
    # The same alert (numbers aside) again within this many seconds is counted, not sent again.
    repeat_after_s: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] = 600.0

    # Webhook URLs (Slack, Discord) embed their credential: kept as a secret, masked on display.
    webhook_url: Annotated[SecretStr, BeforeValidator(lambda v: _webhook(v))] | None = None
    telegram_token: SecretStr | None = None
    telegram_chat_id: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)] | None = None

    @model_validator(mode="after")
    def _telegram_pair(self) -> NotifyConfig:
        if self.telegram_token is not None and self.telegram_chat_id is None:
            raise FieldProblem(("telegram_chat_id",), "required when DELEVER_NOTIFY__TELEGRAM_TOKEN is set")
        if self.telegram_chat_id is not None and self.telegram_token is None:
            raise missing_secret("notify", "telegram_token", " (telegram_chat_id is set)")
        return self


def _webhook(value: Any) -> Any:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return url_validator(("http", "https"))(raw)

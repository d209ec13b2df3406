"""Configuration of the exchange emulator: markets, depth profiles, coins, chain, keys.

Plain frozen dataclasses so a test can build one in a line and the CLI can fill one from flags.
Amounts are ``Decimal`` whole coins; on-chain amounts become int base units only in ``funds``.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


class MarketClock(Protocol):
    """Time for the market's own dynamics (book refill, withdrawal delay). UNIX seconds."""

    def now(self) -> float: ...


class SystemClock:
    """Wall time plus an offset that ``advance`` moves forward (the admin endpoint uses it)."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@dataclass(frozen=True, slots=True)
class DepthProfile:
    """The resting book the emulator shows around the reference price, per side.

    ``depth_usd_1pct``: quote value resting within 1 % of the mid on each side.
    ``shape``: "linear" (uniform density: cumulative depth grows linearly with distance)
    or "sqrt" (cumulative depth ∝ √distance: liquidity concentrated near the touch).
    ``spread_bps``: full bid/ask spread. ``level_bps``: distance between levels.
    ``levels``: levels per side (with ``level_bps`` they set how far the book reaches).
    ``half_life_s``: liquidity eaten by takers refills toward the profile with this
    half-life (0 = instantly, None = never).
    """

    depth_usd_1pct: Decimal = Decimal(5_000_000)
    shape: str = "linear"
    spread_bps: Decimal = Decimal(1)
    level_bps: Decimal = Decimal(2)
    levels: int = 500
    half_life_s: float | None = 60.0

    def __post_init__(self) -> None:
        if self.shape not in ("linear", "sqrt"):
            raise ValueError(f"unknown depth shape {self.shape!r} (linear | sqrt)")
        if self.depth_usd_1pct < 0 or self.spread_bps < 0 or self.level_bps <= 0 or self.levels < 1:
            raise ValueError("depth profile needs depth >= 0, spread >= 0, level_bps > 0, levels >= 1")

    def replace(self, **changes: Any) -> DepthProfile:
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for key, value in changes.items():
            if key not in fields:
                raise ValueError(f"unknown depth profile field {key!r}")
            if key in ("depth_usd_1pct", "spread_bps", "level_bps"):
                value = Decimal(str(value))
            elif key == "levels":
                value = int(value)
            elif key == "half_life_s":
                value = None if value is None else float(value)
            fields[key] = value
        return DepthProfile(**fields)


@dataclass(frozen=True, slots=True)
class MarketConfig:
    symbol: str  # exchange id, e.g. "ETHUSDT"
    base: str
    quote: str
    tick_size: Decimal = Decimal("0.01")
    step_size: Decimal = Decimal("0.0001")
    min_qty: Decimal | None = None  # defaults to step_size
    max_qty: Decimal = Decimal("900000")
    min_price: Decimal | None = None  # defaults to tick_size
    max_price: Decimal = Decimal("1000000")
    min_notional: Decimal = Decimal(5)
    max_notional: Decimal = Decimal("9000000")
    base_precision: int = 8
    quote_precision: int = 8

    @property
    def lot_min(self) -> Decimal:
        return self.min_qty if self.min_qty is not None else self.step_size

    @property
    def price_min(self) -> Decimal:
        return self.min_price if self.min_price is not None else self.tick_size


DEFAULT_MARKETS = (
    MarketConfig("ETHUSDT", "ETH", "USDT", step_size=Decimal("0.0001")),
    MarketConfig("BTCUSDT", "BTC", "USDT", step_size=Decimal("0.00001")),
)
DEFAULT_PRICES = {"ETHUSDT": Decimal(3000), "BTCUSDT": Decimal(100_000)}
DEFAULT_DEPTH = {
    "ETHUSDT": DepthProfile(depth_usd_1pct=Decimal(5_000_000)),
    "BTCUSDT": DepthProfile(depth_usd_1pct=Decimal(14_000_000)),
}


@dataclass(frozen=True, slots=True)
class CoinConfig:
    """A coin that can be deposited and withdrawn on the devnet chain (network "ETH").

    ``token``: ERC-20 address, or None for native ETH. ``decimals``: on-chain decimals.
    """

    coin: str
    token: str | None = None
    decimals: int = 18
    withdraw_fee: Decimal = Decimal(0)
    withdraw_min: Decimal = Decimal(0)
    withdraw_max: Decimal = Decimal(10_000_000_000)
    withdraw_multiple: Decimal = Decimal("0.00000001")
    name: str = ""


DEFAULT_COINS = {
    "ETH": CoinConfig(
        "ETH", None, 18, Decimal("0.0008"), Decimal("0.0016"), withdraw_multiple=Decimal("0.00000001"), name="Ethereum"
    ),
    "USDT": CoinConfig(
        "USDT", None, 6, Decimal(1), Decimal(10), withdraw_multiple=Decimal("0.000001"), name="TetherUS"
    ),
    "BTC": CoinConfig("BTC", None, 8, Decimal("0.00001"), Decimal("0.0001"), name="Bitcoin"),
}


def random_key(length: int = 64) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


PriceFn = Callable[[str], Decimal]


@dataclass(slots=True)
class EmulatorConfig:
    """Everything ``start_emulator`` needs. Defaults give a working two-market exchange.

    Prices: ``prices`` maps a market symbol to a fixed Decimal or a zero-argument callable;
    ``price_fn`` (symbol -> Decimal) overrides it; with ``rpc_url`` and ``oracle_feeds``
    (base asset -> aggregator address, e.g. {"ETH": "0x.."}) or ``aave_oracle`` with
    ``oracle_assets`` (base asset -> token address) the reference follows the devnet oracle
    (a quote-asset entry, e.g. "USDT", divides). The admin API can pin a price on top.
    Funds: with ``rpc_url`` the emulator watches the chain for deposits to its deposit
    address and pays withdrawals from ``hot_wallet_key``; ``coins`` maps coin -> token.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = field(default_factory=random_key)
    api_secret: str = field(default_factory=random_key, repr=False)
    markets: tuple[MarketConfig, ...] = DEFAULT_MARKETS
    prices: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    price_fn: PriceFn | None = None
    oracle_feeds: Mapping[str, str] = field(default_factory=dict)
    aave_oracle: str | None = None  # AaveOracle address: read getAssetPrice(oracle_assets[base])
    oracle_assets: Mapping[str, str] = field(default_factory=dict)  # base asset -> token, e.g. {"ETH": WETH}
    depth: Mapping[str, DepthProfile] = field(default_factory=lambda: dict(DEFAULT_DEPTH))
    taker_fee: Decimal = Decimal("0.001")
    maker_fee: Decimal = Decimal("0.001")
    balances: Mapping[str, Decimal] = field(default_factory=dict)
    clock: MarketClock = field(default_factory=SystemClock)
    check_timestamp: bool = True
    # funds on chain
    rpc_url: str | None = None
    hot_wallet_key: str | None = field(default=None, repr=False)
    deposit_key: str | None = field(default=None, repr=False)  # derived from the secret if None
    coins: Mapping[str, CoinConfig] = field(default_factory=lambda: dict(DEFAULT_COINS))
    deposit_confirmations: int = 2
    deposit_start_block: int | None = None  # first block scanned for deposits (None: the head at start)
    withdrawal_delay_s: float = 2.0
    poll_interval_s: float = 0.2
    auto_mint: bool = True  # top up the hot wallet by minting a mock token when it runs short

"""Where the reference (mid) price of each market comes from.

Layers, first that answers wins: a price pinned through the admin API; ``price_fn``;
the devnet oracle (MockAggregator ``latestAnswer()`` through web3, cached per block);
the fixed/callable entries of ``EmulatorConfig.prices``. With a ``clock``, every price the
board answers is kept in its minute bars (``history``: what the klines route serves).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from bot.devnet.exchange.config import MarketClock, MarketConfig
from bot.devnet.exchange.klines import PriceHistory

AGGREGATOR_ABI = [
    {
        "inputs": [],
        "name": "latestAnswer",
        "outputs": [{"type": "int256"}],
        "stateMutability": "view",
        "type": "function",
    },
    {"inputs": [], "name": "decimals", "outputs": [{"type": "uint8"}], "stateMutability": "view", "type": "function"},
]


AAVE_ORACLE_ABI = [
    {
        "inputs": [{"type": "address"}],
        "name": "getAssetPrice",
        "outputs": [{"type": "uint256"}],
        "stateMutability": "view",
        "type": "function",
    },
]


class OraclePrices:
    """Reads the devnet oracle once per block, per asset.

    ``feeds``: asset -> MockAggregator address (``latestAnswer()``, ``decimals()`` or 8).
    ``aave_oracle`` + ``assets``: asset -> token address, read through the AaveOracle's
    ``getAssetPrice`` (8 decimals): this follows a price change made by swapping the
    aggregator behind the asset (``setAssetSources``).
    """

    def __init__(
        self,
        rpc_url: str,
        feeds: Mapping[str, str],
        aave_oracle: str | None = None,
        assets: Mapping[str, str] | None = None,
    ) -> None:
        from web3 import HTTPProvider, Web3

        self._w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 5}))
        self._feeds = {
            asset.upper(): self._w3.eth.contract(address=Web3.to_checksum_address(addr), abi=AGGREGATOR_ABI)
            for asset, addr in feeds.items()
        }
        self._aave = (
            self._w3.eth.contract(address=Web3.to_checksum_address(aave_oracle), abi=AAVE_ORACLE_ABI)
            if aave_oracle
            else None
        )
        self._assets = {a.upper(): Web3.to_checksum_address(t) for a, t in (assets or {}).items()} if self._aave else {}
        self._decimals: dict[str, int] = {}
        self._cache: dict[str, tuple[int, Decimal]] = {}
        self._lock = threading.Lock()

    def has(self, asset: str) -> bool:
        return asset.upper() in self._assets or asset.upper() in self._feeds

    def price(self, asset: str) -> Decimal:
        asset = asset.upper()
        with self._lock:
            block = self._w3.eth.block_number
            cached = self._cache.get(asset)
            if cached and cached[0] == block:
                return cached[1]
            if asset in self._assets:
                answer = int(self._aave.functions.getAssetPrice(self._assets[asset]).call(block_identifier=block))
                value = Decimal(answer).scaleb(-8)
                self._cache[asset] = (block, value)
                return value
            feed = self._feeds[asset]
            if asset not in self._decimals:
                try:
                    self._decimals[asset] = int(feed.functions.decimals().call())
                except Exception:  # some mocks have no decimals(): Aave's base currency is 8
                    self._decimals[asset] = 8
            answer = int(feed.functions.latestAnswer().call(block_identifier=block))
            value = Decimal(answer).scaleb(-self._decimals[asset])
            self._cache[asset] = (block, value)
            return value


class ScriptedPrice:
    """A price path over the market clock: ``points`` of (seconds from start, price),
    linearly interpolated, flat before the first and after the last point.

    Use as a ``prices`` entry: ``prices={"ETHUSDT": ScriptedPrice([(0, 3000), (600, 2100)], clock)}``.
    """

    def __init__(self, points: list[tuple[float, Any]], clock: Any, start: float | None = None) -> None:
        if not points:
            raise ValueError("a scripted price needs at least one point")
        self._points = sorted((float(t), Decimal(str(p))) for t, p in points)
        self._clock = clock
        self._start = clock.now() if start is None else start

    def __call__(self) -> Decimal:
        elapsed = self._clock.now() - self._start
        points = self._points
        if elapsed <= points[0][0]:
            return points[0][1]
        for (t0, p0), (t1, p1) in zip(points, points[1:]):
            if elapsed <= t1:
                weight = Decimal(str((elapsed - t0) / (t1 - t0))) if t1 > t0 else Decimal(1)
                return (p0 + (p1 - p0) * weight).quantize(Decimal("0.00000001"))
        return points[-1][1]


class PriceBoard:
    def __init__(
        self,
        markets: Mapping[str, MarketConfig],
        prices: Mapping[str, Any],
        price_fn: Callable[[str], Decimal] | None = None,
        oracle: OraclePrices | None = None,
        clock: MarketClock | None = None,
    ) -> None:
        self._markets = markets
        self._clock = clock
        self.history = PriceHistory()
        self._static = dict(prices)
        self._price_fn = price_fn
        self._oracle = oracle
        self._pinned: dict[str, Decimal] = {}

    def pin(self, symbol: str, price: Decimal | None) -> None:
        """Fix a market's reference price (None removes the pin)."""
        if price is None:
            self._pinned.pop(symbol, None)
        else:
            if price <= 0:
                raise ValueError("price must be positive")
            self._pinned[symbol] = Decimal(price)

    def set_static(self, symbol: str, price: Any) -> None:
        self._static[symbol] = price

    def reference(self, symbol: str) -> Decimal:
        price = self._reference(symbol)
        if self._clock is not None:
            self.history.record(symbol, self._clock.now(), price)
        return price

    def sample(self) -> None:
        """Read every market's reference price once (into ``history``)."""
        for symbol in self._markets:
            try:
                self.reference(symbol)
            except KeyError:  # a market without any price source: nothing to keep
                continue

    def _reference(self, symbol: str) -> Decimal:
        if symbol in self._pinned:
            return self._pinned[symbol]
        if self._price_fn is not None:
            return Decimal(self._price_fn(symbol))
        market = self._markets[symbol]
        if self._oracle is not None and self._oracle.has(market.base):
            base = self._oracle.price(market.base)
            if self._oracle.has(market.quote):
                return base / self._oracle.price(market.quote)
            return base
        value = self._static.get(symbol)
        if value is None:
            raise KeyError(f"no reference price for {symbol}")
        if callable(value):
            value = value()
        return Decimal(value)

"""``bot.compose.live`` and the read-only lending: live snapshots from fakes at the ports (no network)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from bot.compose.adapters import ChainUnavailable, ReadOnlyLending, VenueUnavailable
from bot.compose.live import acquire_snapshot
from bot.domain import Level, OrderBook, Position, Reserve, Rounding, Snapshot
from bot.errors import ConfigError, GuardRefused, Halt, RateLimited, Retryable
from bot.ports import MarketRules
from bot.settings import Settings

D = Decimal
RULES = MarketRules("ETH/USDT", "ETH", "USDT", D("0.01"), D("0.0001"), D("0.0001"), D(5), D("0.001"))
BOOK = OrderBook("ETH/USDT", (Level(D(1999), D(3)),), (Level(D(2001), D(3)),))
CANDLES = tuple((1_700_000_000 - 60 * (99 - i), D(2000 + i % 3)) for i in range(100))


def settings(*, keys: bool = True) -> Settings:
    return Settings(
        chain={"rpc_url": "http://127.0.0.1:1", "chain_id": 31337, "pool_addresses_provider": "0x" + "11" * 20},
        wallet={"address": "0x" + "22" * 20},
        exchange={"symbol": "ETH/USDT", **({"api_key": "k", "api_secret": "s"} if keys else {})},
    )


def snapshot(chain_id: int = 31337) -> Snapshot:
    reserves = (
        Reserve("WETH", 18, 2000 * 10**8, 8000, 8250, 10500, collateral=10**19, debt=0),
        Reserve("USDT", 6, 10**8, 7500, 8000, 10500, collateral=0, debt=10_000 * 10**6),
    )
    return Snapshot(
        Position(reserves, Rounding.V3_0), block=7, timestamp=1_700_000_000, chain_id=chain_id, wallet="0x" + "22" * 20
    )


class FakeLending:
    def __init__(self, result: Snapshot | Exception) -> None:
        self.result = result

    def snapshot(self) -> Snapshot:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class FakeVenue:
    def __init__(self, *, balances: dict[str, Decimal] | None = None, error: Exception | None = None) -> None:
        self._balances = balances or {}
        self.error = error
        self.calls: list[str] = []

    def rules(self, symbol: str) -> MarketRules:
        self.calls.append("rules")
        if self.error:
            raise self.error
        return RULES

    def order_book(self, symbol: str, depth: int = 100) -> OrderBook:
        self.calls.append(f"book:{depth}")
        return BOOK

    def balances(self) -> dict[str, Decimal]:
        self.calls.append("balances")
        return self._balances

    def recent_prices(self, symbol: str, *, timeframe: str, limit: int) -> tuple[tuple[int, Decimal], ...]:
        self.calls.append(f"candles:{timeframe}x{limit}")
        return CANDLES[-limit:]


def test_acquire_snapshot_enriches_the_chain_read_with_book_rules_and_nonzero_balances() -> None:
    venue = FakeVenue(balances={"USDT": D("12.5"), "BNB": D(0), "ETH": D("0.1")})
    snap, rules = acquire_snapshot(settings(), lending=FakeLending(snapshot()), venue=venue)
    assert rules == RULES and snap.book == BOOK
    assert snap.exchange_balances == {"ETH": D("0.1"), "USDT": D("12.5")}
    # The default candles: one day of 5m bars (the fake answers the 100 it has).
    assert snap.price_history == CANDLES and snap.price_history_source == "5m candles (ccxt fetch_ohlcv)"
    assert snap.block == 7
    assert venue.calls == ["rules", "book:500", "balances", "candles:5mx288"]


def test_acquire_snapshot_without_api_keys_reads_public_data_only() -> None:
    venue = FakeVenue(balances={"USDT": D(1)})
    snap, _ = acquire_snapshot(settings(keys=False), lending=FakeLending(snapshot()), venue=venue)
    assert snap.exchange_balances == {} and "balances" not in venue.calls


def test_acquire_snapshot_without_the_venue_contacts_no_exchange() -> None:
    snap, rules = acquire_snapshot(settings(), lending=FakeLending(snapshot()), venue=None, with_venue=False)
    assert rules is None and snap.book is None


@pytest.mark.parametrize("error", [Retryable("down"), RateLimited("slow", retry_after=1), Halt("bad key")])
def test_acquire_snapshot_when_the_venue_fails_raises_venue_unavailable(error: Exception) -> None:
    with pytest.raises(VenueUnavailable, match="--no-book"):
        acquire_snapshot(settings(), lending=FakeLending(snapshot()), venue=FakeVenue(error=error))


def test_acquire_snapshot_unknown_market_stays_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no market"):
        acquire_snapshot(
            settings(),
            lending=FakeLending(snapshot()),
            venue=FakeVenue(error=ConfigError("the exchange lists no market ETH/USDT")),
        )


def test_acquire_snapshot_on_another_chain_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="chain id 1, the config says 31337"):
        acquire_snapshot(settings(), lending=FakeLending(snapshot(chain_id=1)), venue=FakeVenue())


def test_acquire_snapshot_when_the_rpc_fails_raises_chain_unavailable() -> None:
    with pytest.raises(ChainUnavailable, match="does not answer"):
        acquire_snapshot(settings(), lending=FakeLending(Retryable("RPC read failed")), venue=FakeVenue())


class FakeReader:
    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id

    def snapshot(self, wallet: str) -> Snapshot:
        return snapshot(self.chain_id)


def test_read_only_lending_refuses_every_write_and_halts_on_a_chain_switch() -> None:
    wallet = "0x" + "22" * 20
    lending = ReadOnlyLending(FakeReader(31337), wallet=wallet, chain_id=31337)  # type: ignore[arg-type]
    assert lending.snapshot().chain_id == 31337 and lending.lookup("k") is None
    for write in (
        lambda: lending.withdraw(key="k", symbol="WETH", amount=1),
        lambda: lending.repay(key="k", symbol="USDT", amount=1),
        lambda: lending.unwrap(key="k", amount=1),
        lambda: lending.transfer(key="k", symbol="ETH", to=wallet, amount=1),
    ):
        with pytest.raises(GuardRefused):
            write()
    with pytest.raises(Halt, match="chain id 1"):
        ReadOnlyLending(FakeReader(1), wallet=wallet, chain_id=31337).snapshot()  # type: ignore[arg-type]


class FakeMarketReader(FakeReader):
    """``AaveReader``'s discovery and its read with the pool's own account data."""

    def __init__(self, chain_id: int, *, market_error: Exception | None = None) -> None:
        super().__init__(chain_id)
        self.market_error = market_error

    def market(self) -> None:
        if self.market_error:
            raise self.market_error

    def read(self, wallet: str) -> SimpleNamespace:
        return SimpleNamespace(snapshot=self.snapshot(wallet), matches_chain=True)


def test_read_position_reads_the_configured_wallet(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.compose import live

    monkeypatch.setattr(live, "connect_chain", lambda chain: "link")
    monkeypatch.setattr(live, "aave_reader", lambda link, chain: FakeMarketReader(31337))
    read = live.read_position(settings())
    assert read.matches_chain and read.snapshot.block == 7


def test_read_position_without_a_market_at_the_provider_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.adapters.chain.multicall import ChainDataError
    from bot.compose import live

    monkeypatch.setattr(live, "connect_chain", lambda chain: "link")
    monkeypatch.setattr(
        live, "aave_reader", lambda link, chain: FakeMarketReader(31337, market_error=ChainDataError("no code"))
    )
    with pytest.raises(ConfigError, match="no Aave v3 market at chain.pool_addresses_provider"):
        live.read_position(settings())

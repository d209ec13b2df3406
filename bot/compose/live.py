"""Live reads for the commands that sign nothing: ``plan`` and ``status``.

    snapshot, rules = acquire_snapshot(settings)      # what `delever plan` plans from
    read = read_position(settings)                    # what `delever status` shows
    journal = open_journal_read_only(settings)         # what `delever history` reads
    activity = read_activity(settings)                # the daemon's open batch, for `status`

What ``acquire_snapshot`` reads:

- the chain: the Aave position, oracle prices and wallet balances in ONE Multicall3 read at one
  block, through a read-only lending whose RPC was checked to serve ``chain.chain_id``;
- the exchange: the order book of ``exchange.symbol``, the free balances (only with API keys;
  public data otherwise) and the market rules (tick, lot step, minimums, taker fee). The chain
  read and the book are a few hundred milliseconds apart, not one instant.
- price history: the last ``exchange.candles_limit`` candles of ``exchange.candles_timeframe``
  (ccxt ``fetch_ohlcv``; the devnet emulator serves them from the prices it followed), for the
  planner's σ. When the exchange cannot serve them (or too few), the snapshot says why
  (``price_history_source``) and the plan states that it uses ``limits.price_shock_bps``.

Failures, by what the caller does (``delever plan`` maps them to exit codes):

- ``ConfigError`` (exit 2): the RPC serves another chain id than the config, the configured
  PoolAddressesProvider holds no Aave market there, the exchange lists no ``exchange.symbol``;
- ``ChainUnavailable`` / ``VenueUnavailable`` (exit 1): the RPC or the exchange does not answer
  or refuses the credentials. One line, no URL. Nothing is planned on a guess:
  ``with_venue=False`` (``plan --no-book``) skips the exchange on purpose and the planner falls
  back to its synthetic depth model.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.adapters.chain.aave_reader import PositionRead
from bot.adapters.chain.multicall import ChainDataError
from bot.clock import SystemClock
from bot.compose import configs
from bot.compose.adapters import (
    ChainUnavailable,
    VenueUnavailable,
    aave_reader,
    connect_chain,
    open_lending,
    open_venue,
)
from bot.domain import OrderBook, Snapshot
from bot.engine.history import Progress, progress
from bot.engine.journal import Journal, JournalCorrupt
from bot.engine.volatility import read_price_history
from bot.errors import ConfigError, Halt, Rejected, Retryable, UserInputError
from bot.ports import Lending, MarketRules, Venue
from bot.settings import Settings

# Levels asked of the exchange: deep enough for the planner to walk the bids down to the cap
# (Binance weighs 101-500 levels at 25; the devnet emulator serves 500).
BOOK_DEPTH = 500
_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")


def read_chain(settings: Settings, lending: Lending) -> Snapshot:
    """The position at one block, its chain id checked against the config."""
    reader = getattr(lending, "reader", None)
    try:
        if reader is not None:
            _discover(settings, reader)
        snapshot = lending.snapshot()
    except Retryable as exc:
        raise ChainUnavailable(f"the chain RPC does not answer: {exc}") from None
    if snapshot.chain_id != settings.chain.chain_id:
        raise ConfigError(f"the RPC serves chain id {snapshot.chain_id}, the config says {settings.chain.chain_id}")
    return snapshot


def read_venue(
    settings: Settings, venue: Venue, *, depth: int = BOOK_DEPTH
) -> tuple[OrderBook, dict[str, Decimal], MarketRules]:
    """(order book, free non-zero balances, market rules) of ``exchange.symbol``.

    Balances need API keys; without them (public data only) they are left empty.
    """
    exchange = settings.exchange
    try:
        rules = venue.rules(exchange.symbol)
        book = venue.order_book(exchange.symbol, depth)
        balances = venue.balances() if exchange.api_key is not None and exchange.api_secret is not None else {}
    except UserInputError:
        raise  # an unknown market: the config is wrong
    except (Retryable, Halt, Rejected) as exc:
        raise VenueUnavailable(
            f"the exchange ({exchange.id}) is unavailable: {_without_queries(str(exc))}; "
            "nothing planned (`delever plan --no-book` plans on a synthetic book instead)"
        ) from None
    return book, {coin: amount for coin, amount in sorted(balances.items()) if amount != 0}, rules


def acquire_snapshot(
    settings: Settings, *, lending: Lending | None = None, venue: Venue | None = None, with_venue: bool = True
) -> tuple[Snapshot, MarketRules | None]:
    """The live state: the chain snapshot enriched with the exchange's book, free balances and
    market rules (``rules`` is None with ``with_venue=False``: no exchange is contacted).

    ``lending``/``venue`` default to a read-only lending and ``open_venue(settings.exchange)``.
    """
    lending = lending if lending is not None else open_lending(settings, read_only=True)
    snapshot = read_chain(settings, lending)
    if not with_venue:
        return snapshot, None
    venue = venue if venue is not None else open_venue(settings.exchange)
    book, balances, rules = read_venue(settings, venue)
    exchange = settings.exchange
    history = read_price_history(
        venue, exchange.symbol, timeframe=exchange.candles_timeframe, limit=exchange.candles_limit
    )
    return dataclasses.replace(
        snapshot,
        book=book,
        exchange_balances=balances,
        price_history=history.points,
        price_history_source=history.source,
    ), rules


def read_position(settings: Settings) -> PositionRead:
    """The wallet's position at one block, with the pool's own account data to compare
    (``matches_chain``): what ``delever status`` shows."""
    reader = aave_reader(connect_chain(settings.chain), settings.chain)
    assert settings.wallet.address is not None  # the schema requires it
    try:
        _discover(settings, reader)
        return reader.read(settings.wallet.address)
    except Retryable as exc:
        raise ChainUnavailable(f"the chain RPC does not answer: {exc}") from None


def _discover(settings: Settings, reader: Any) -> None:
    try:
        reader.market()  # discovery: cached after the first read
    except ChainDataError as exc:
        raise ConfigError(
            f"no Aave v3 market at chain.pool_addresses_provider {settings.chain.pool_addresses_provider} "
            f"on chain {settings.chain.chain_id} ({exc})"
        ) from None


def _without_queries(text: str) -> str:
    """Request URLs without their query strings (timestamps, signatures: noise in one line)."""
    return _QUERY.sub(r"\1", text)


# ---- the daemon's journal, read beside it -----------------------------------------------------


def open_journal_read_only(settings: Settings) -> Journal:
    """The journal the daemon of ``settings`` writes (``configs.journal_path``, as ``run``
    resolves it: a dry-run's ``*.dry-run.sqlite``), opened read-only: no writer lock, so it
    works while the daemon runs. ``UserInputError`` when there is none."""
    path = configs.journal_path(settings)
    if not path.is_file():
        raise UserInputError(f"no journal at {path} (the {settings.mode} daemon of this config writes there)")
    try:
        return Journal(path, clock=SystemClock(), read_only=True)
    except JournalCorrupt as exc:
        raise UserInputError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class DaemonActivity:
    """What the journal says the daemon is doing: its control state and the open batch."""

    journal: Path
    control: str
    control_reason: str | None
    progress: Progress | None  # the newest OPEN batch, None when idle


def read_activity(settings: Settings) -> DaemonActivity | None:
    """The daemon's open batch and funds in transit; None when it has no journal yet."""
    try:
        journal = open_journal_read_only(settings)
    except UserInputError:
        return None
    with journal:
        state, reason = journal.control()
        open_batches = journal.open_batches()
        current = None
        if open_batches:
            batch = open_batches[-1]
            current = progress(batch, journal.steps(batch.id))
    return DaemonActivity(journal.path, state.value, reason, current)

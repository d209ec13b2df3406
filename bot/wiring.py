"""The one place that builds the real adapters and live snapshots from ``Settings``.

    settings = load_settings("config/devnet.toml")
    lending = open_lending(settings)                  # AaveLending (signs) or ReadOnlyLending
    venue = open_venue(settings)                      # CcxtVenue on exchange.api_url
    snapshot, rules = acquire_snapshot(settings)      # what `delever plan` plans from

What ``acquire_snapshot`` reads:

- the chain: the Aave position, oracle prices and wallet balances in ONE Multicall3 read at one
  block (``AaveReader.read``), after checking that the RPC serves ``chain.chain_id``;
- the exchange: the order book of ``exchange.symbol``, the free balances (only with API keys;
  public data otherwise) and the market rules (tick, lot step, minimums, taker fee). The chain
  read and the book are a few hundred milliseconds apart, not one instant.
- price history: none. The devnet's exchange emulator serves no klines and the devnet oracle
  keeps no rounds, so ``Snapshot.price_history`` stays empty and the planner sizes the
  in-transit shock from ``limits.price_shock_bps`` alone (its documented fallback).

Failures, by what the caller does (``delever plan`` maps them to exit codes):

- ``ConfigError`` (exit 2): the RPC serves another chain id than the config, the configured
  PoolAddressesProvider holds no Aave market there, the exchange lists no ``exchange.symbol``;
- ``ChainUnavailable`` / ``VenueUnavailable`` (exit 1): the RPC or the exchange does not answer
  or refuses the credentials. One line, no URL (hosted URLs carry API keys). Nothing is planned
  on a guess: ``acquire_snapshot(..., with_venue=False)`` (``plan --no-book``) skips the
  exchange on purpose and the planner falls back to its synthetic depth model.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from bot.adapters.chain.aave_lending import AaveLending
from bot.adapters.chain.aave_reader import AaveReader
from bot.adapters.chain.factory import lending_from_settings
from bot.adapters.chain.multicall import ChainDataError
from bot.adapters.chain.rpc import make_web3, retrying_read
from bot.adapters.venue import CcxtVenue
from bot.domain import Rounding, Snapshot
from bot.errors import ConfigError, DeleverError, GuardRefused, Halt, Rejected, Retryable, UserInputError
from bot.ports import MarketRules, TxResult

__all__ = [
    "BOOK_DEPTH", "ChainUnavailable", "LiveReadFailed", "ReadOnlyLending", "VenueUnavailable",
    "acquire_snapshot", "check_chain_id", "open_lending", "open_venue", "read_chain", "read_venue",
]

# Levels asked of the exchange: deep enough for the planner to walk the bids down to the cap
# (Binance weighs 101-500 levels at 25; the devnet emulator serves 500).
BOOK_DEPTH = 500
_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")


class LiveReadFailed(DeleverError):
    """A live read could not be made: report in one line, exit 1 (nothing planned on a guess)."""


class ChainUnavailable(LiveReadFailed):
    """The chain RPC does not answer (or refuses us)."""


class VenueUnavailable(LiveReadFailed):
    """The exchange does not answer (or refuses the credentials)."""


class ReadOnlyLending:
    """``bot.ports.Lending`` reads for a wallet without a signer: good for snapshots (plan,
    status, dry-run). Every write refuses (``GuardRefused``) before anything could be built."""

    def __init__(self, reader: AaveReader, *, wallet: str, chain_id: int) -> None:
        self.reader = reader
        self.wallet = Web3.to_checksum_address(wallet)
        self.chain_id = chain_id

    def __repr__(self) -> str:
        return f"ReadOnlyLending(wallet={self.wallet})"

    def snapshot(self) -> Snapshot:
        snapshot = self.reader.snapshot(self.wallet)
        if snapshot.chain_id != self.chain_id:  # the provider switched chains under us
            raise Halt(f"the RPC now serves chain id {snapshot.chain_id}, configured {self.chain_id}")
        return snapshot

    def lookup(self, key: str) -> TxResult | None:
        return None  # nothing is ever sent from here

    def _refuse(self, *args: Any, **kwargs: Any) -> TxResult:
        raise GuardRefused("read-only lending: no signer (wallet.key_source = \"none\" or a read-only open)",
                           reason="read_only")

    withdraw = repay = unwrap = transfer = _refuse


def check_chain_id(w3: Web3, settings: Any) -> int:
    """``eth_chainId`` must equal ``chain.chain_id`` (``ConfigError`` otherwise); returns it."""
    try:
        served = int(retrying_read(lambda: w3.eth.chain_id, what="chain id"))
    except (Retryable, Halt) as exc:
        raise ChainUnavailable(f"the chain RPC does not answer: {exc}") from None
    configured = int(settings.chain.chain_id)
    if served != configured:
        raise ConfigError(f"the RPC serves chain id {served}, the config says {configured}")
    return served


def open_lending(settings: Any, *, signer: LocalAccount | None = None,
                 read_only: bool = False) -> AaveLending | ReadOnlyLending:
    """The Aave leg for ``settings.wallet``.

    ``read_only`` (or ``wallet.key_source = "none"`` without a ``signer``): a ``ReadOnlyLending``
    (no key is loaded, no transaction store is opened). Otherwise an ``AaveLending`` signing
    with ``signer`` or ``settings.signer()``, its transaction store in ``journal.path``; call
    ``lending.sender.reconcile_open()`` before acting on it. The RPC's chain id is checked first.
    """
    w3 = make_web3(str(settings.chain.rpc_url))
    chain_id = check_chain_id(w3, settings)
    wallet = str(settings.wallet.address)
    if read_only or (signer is None and settings.wallet.key_source == "none"):
        reader = AaveReader(w3, pool_addresses_provider=str(settings.chain.pool_addresses_provider),
                            rounding=Rounding(settings.chain.rounding))
        return ReadOnlyLending(reader, wallet=wallet, chain_id=chain_id)
    account = signer if signer is not None else settings.signer()
    if Web3.to_checksum_address(account.address) != Web3.to_checksum_address(wallet):
        raise ConfigError(f"the signer {account.address} is not wallet.address {wallet}")
    return lending_from_settings(settings, account)


def open_venue(settings: Any, **kwargs: Any) -> CcxtVenue:
    """``CcxtVenue.from_settings(settings.exchange)``; ``kwargs`` go to the venue (clock, timeouts)."""
    return CcxtVenue.from_settings(settings.exchange, **kwargs)


def read_chain(settings: Any, lending: Any) -> Snapshot:
    """The position at one block, its chain id checked against the config."""
    reader = getattr(lending, "reader", None)
    try:
        if reader is not None:
            try:
                reader.market()  # discovery: cached after the first read
            except ChainDataError as exc:
                raise ConfigError(
                    f"no Aave v3 market at chain.pool_addresses_provider {settings.chain.pool_addresses_provider} "
                    f"on chain {settings.chain.chain_id} ({exc})"
                ) from None
        snapshot = lending.snapshot()
    except Retryable as exc:
        raise ChainUnavailable(f"the chain RPC does not answer: {exc}") from None
    if snapshot.chain_id != int(settings.chain.chain_id):
        raise ConfigError(f"the RPC serves chain id {snapshot.chain_id}, the config says {settings.chain.chain_id}")
    return snapshot


def read_venue(settings: Any, venue: Any, *, depth: int = BOOK_DEPTH) -> tuple[Any, dict[str, Decimal], MarketRules]:
    """(order book, free non-zero balances, market rules) of ``exchange.symbol``.

    Balances need API keys; without them (public data only) they are left empty.
    """
    symbol = str(settings.exchange.symbol)
    try:
        rules = venue.rules(symbol)
        book = venue.order_book(symbol, depth)
        balances = venue.balances() if _has_keys(settings) else {}
    except UserInputError:
        raise  # an unknown market: the config is wrong
    except (Retryable, Halt, Rejected) as exc:
        raise VenueUnavailable(
            f"the exchange ({settings.exchange.id}) is unavailable: {_without_queries(str(exc))}; "
            "nothing planned (`delever plan --no-book` plans on a synthetic book instead)"
        ) from None
    return book, {coin: amount for coin, amount in sorted(balances.items()) if amount != 0}, rules


def acquire_snapshot(settings: Any, *, lending: Any = None, venue: Any = None,
                     with_venue: bool = True) -> tuple[Snapshot, MarketRules | None]:
    """The live state: the chain snapshot enriched with the exchange's book, free balances and
    market rules (``rules`` is None with ``with_venue=False``: no exchange is contacted).

    ``lending``/``venue`` default to a read-only lending and ``open_venue(settings)``.
    """
    if settings is None:
        raise ConfigError("config: no config file: pass --config FILE or set DELEVER_CONFIG")
    lending = lending if lending is not None else open_lending(settings, read_only=True)
    snapshot = read_chain(settings, lending)
    if not with_venue:
        return snapshot, None
    venue = venue if venue is not None else open_venue(settings)
    book, balances, rules = read_venue(settings, venue)
    return dataclasses.replace(snapshot, book=book, exchange_balances=balances), rules


def _without_queries(text: str) -> str:
    """Request URLs without their query strings (timestamps, signatures: noise in one line)."""
    return _QUERY.sub(r"\1", text)


def _has_keys(settings: Any) -> bool:
    exchange = settings.exchange
    return getattr(exchange, "api_key", None) is not None and getattr(exchange, "api_secret", None) is not None

"""The one module that builds real adapters: web3 (``AaveReader``, ``AaveLending`` and its tx
sender) and ccxt (``CcxtVenue``), from validated ``Settings``.

    link = connect_chain(settings.chain)          # one Web3; eth_chainId checked against the config
    lending = open_lending(settings)              # AaveLending (signs) or ReadOnlyLending
    venue = open_venue(settings.exchange)         # CcxtVenue: timeout_ms and recv_window_ms honoured
    real = make_real_adapters(settings)           # what the daemon runs on

Every path, read-only or signing, goes through ``connect_chain``: the RPC must serve
``chain.chain_id`` (``ConfigError``, exit 2, otherwise) and a read-only lending halts if the
provider switches chains later. An RPC or exchange that does not answer is an
``AdapterUnavailable`` (exit 1) in one line, never with the URL (hosted URLs carry API keys).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from bot.adapters.chain.aave_lending import AaveLending, LendingConfig
from bot.adapters.chain.aave_reader import AaveReader
from bot.adapters.chain.fees import MAX_FEE_CAP_WEI
from bot.adapters.chain.rpc import make_web3, retrying_read
from bot.adapters.chain.tx_sender import SenderConfig, TxSender
from bot.adapters.chain.tx_store import TxStore
from bot.adapters.chain.wallet_watch import ChainWalletWatch
from bot.adapters.venue import CcxtVenue
from bot.compose.configs import journal_path
from bot.domain import Snapshot, decimal_to_wad
from bot.engine.foreign_activity import WalletWatch
from bot.errors import ConfigError, DeleverError, GuardRefused, Halt, Retryable
from bot.ports import Clock, Lending, TxResult, Venue
from bot.settings import ChainConfig, ExchangeConfig, Settings

# The tx sender's own limits (not settings): a fee cap no urgency can exceed, and how long a
# sent transaction may stay unconfirmed before the step is reviewed.
TX_WAIT_TIMEOUT_S = 300.0

_ADDRESSES_PROVIDER_ABI = [
    {
        "inputs": [],
        "name": "ADDRESSES_PROVIDER",
        "outputs": [{"name": "", "type": "address"}],
        "stateMutability": "view",
        "type": "function",
    },
]


class AdapterUnavailable(DeleverError):
    """The chain RPC or the exchange does not answer (or refuses us): one line, exit 1."""


class ChainUnavailable(AdapterUnavailable):
    """The chain RPC does not answer (or refuses us)."""


class VenueUnavailable(AdapterUnavailable):
    """The exchange does not answer (or refuses the credentials)."""


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One Web3 on ``chain.rpc_url`` whose chain id was checked against the config."""

    w3: Web3
    chain_id: int

    def head(self) -> int:
        return int(self.w3.eth.block_number)


@dataclass(frozen=True, slots=True)
class RealAdapters:
    lending: Lending
    venue: Venue
    rpc_chain_id: int  # what the RPC reports (eth_chainId), not the config
    pool_addresses_provider: str  # what the chain reports (Pool.ADDRESSES_PROVIDER()), not the config
    head: Callable[[], int] | None = None  # the node's head block number (cheap); None: act on an interval
    genesis_hash: str | None = None  # block 0's hash: with the chain id, which chain this is (journal binding)
    wallet_nonce: int | None = None  # the wallet's mined transaction count when the adapters were made
    reconcile: Callable[[], object] | None = None  # re-find what the last run left in flight; once bound
    # symbols of the reserves managed -> the wallet's foreign-activity watch (signing modes only)
    wallet_watch: Callable[[Sequence[str]], WalletWatch] | None = None


class ReadOnlyLending:
    """``bot.ports.Lending`` reads for a wallet without a signer (plan, status, dry-run). Every
    write refuses (``GuardRefused``); a snapshot from another chain than the checked one halts."""

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
        raise GuardRefused("read-only lending: this mode signs nothing", reason="read_only")

    withdraw = repay = unwrap = transfer = _refuse


def connect_chain(chain: ChainConfig) -> ChainLink:
    """A Web3 on ``chain.rpc_url``; its ``eth_chainId`` must be ``chain.chain_id``."""
    w3 = make_web3(str(chain.rpc_url))
    try:
        served = int(retrying_read(lambda: w3.eth.chain_id, what="chain id"))
    except (Retryable, Halt) as exc:
        raise ChainUnavailable(f"the chain RPC does not answer: {exc}") from None
    if served != chain.chain_id:
        raise ConfigError(f"the RPC serves chain id {served}, the config says {chain.chain_id}")
    return ChainLink(w3, served)


def aave_reader(link: ChainLink, chain: ChainConfig) -> AaveReader:
    return AaveReader(link.w3, pool_addresses_provider=chain.pool_addresses_provider, rounding=chain.rounding_mode)


def read_only_lending(link: ChainLink, settings: Settings) -> ReadOnlyLending:
    return ReadOnlyLending(aave_reader(link, settings.chain), wallet=_wallet(settings), chain_id=link.chain_id)


def signing_lending(
    link: ChainLink, settings: Settings, signer: LocalAccount, *, clock: Clock | None = None
) -> AaveLending:
    """The Aave leg that signs with ``signer``; its transaction store lives in the journal's
    file. Call ``lending.sender.reconcile_open()`` before acting on it (the daemon does, once
    its journal is bound to the chain)."""
    wallet = _wallet(settings)
    if Web3.to_checksum_address(signer.address) != wallet:
        raise ConfigError(f"the signer {signer.address} is not wallet.address {wallet}")
    store = journal_path(settings)
    store.parent.mkdir(parents=True, exist_ok=True)
    sender = TxSender(
        link.w3,
        signer,
        TxStore(store),
        SenderConfig(
            chain_id=link.chain_id,
            confirmations=max(1, settings.chain.confirmations),
            max_fee_cap_wei=MAX_FEE_CAP_WEI,
            wait_timeout=TX_WAIT_TIMEOUT_S,
        ),
        clock=clock,
    )
    config = LendingConfig(hf_floor_wad=decimal_to_wad(settings.limits.hf_floor), wait_timeout=TX_WAIT_TIMEOUT_S)
    return AaveLending(aave_reader(link, settings.chain), sender, config)


def open_lending(
    settings: Settings, *, signer: LocalAccount | None = None, read_only: bool = False, clock: Clock | None = None
) -> AaveLending | ReadOnlyLending:
    """The Aave leg for ``settings.wallet``: read-only when asked, or when there is no
    ``signer`` and ``wallet.key_source`` is "none"; otherwise signing with ``signer`` or
    ``settings.signer()``."""
    link = connect_chain(settings.chain)
    if read_only or (signer is None and settings.wallet.key_source == "none"):
        return read_only_lending(link, settings)
    return signing_lending(link, settings, signer if signer is not None else settings.signer(), clock=clock)


def open_venue(exchange: ExchangeConfig, *, clock: Clock | None = None, **kwargs: Any) -> CcxtVenue:
    """The exchange of ``exchange`` (only Binance's API today; ``api_url`` None: the real hosts).
    ``kwargs`` go to the adapter (tests: tighter lookup windows)."""
    if exchange.id != "binance":
        raise ConfigError(f"config: exchange.id: {exchange.id!r} is not supported (only 'binance')")
    return CcxtVenue.connect(
        api_key=_secret(exchange.api_key),
        api_secret=_secret(exchange.api_secret),
        api_url=str(exchange.api_url) if exchange.api_url else None,
        withdrawal_allowlist=[str(a) for a in exchange.withdrawal_allowlist],
        clock=clock,
        timeout_ms=exchange.timeout_ms,
        recv_window_ms=exchange.recv_window_ms,
        **kwargs,
    )


def make_real_adapters(settings: Settings, *, clock: Clock | None = None) -> RealAdapters:
    """What the daemon runs on: a signing lending (testnet, live; its in-flight transactions
    re-found first) or a read-only one (dry-run), the venue, and the facts the mode guard
    compares with the config (the RPC's chain id, the PoolAddressesProvider the pool reports).
    ``clock``: the daemon's, so that their waits end on a stop request."""
    link = connect_chain(settings.chain)
    lending: AaveLending | ReadOnlyLending
    reconcile = None
    if settings.signs:
        lending = signing_lending(link, settings, settings.signer(), clock=clock)
        # Not here: the daemon first binds its journal to this chain (genesis), then reconciles.
        reconcile = lending.sender.reconcile_open
    else:
        lending = read_only_lending(link, settings)
    provider = pool_addresses_provider(link, lending.reader)
    genesis, nonce = chain_facts(link, _wallet(settings))
    return RealAdapters(
        lending,
        open_venue(settings.exchange, clock=clock),
        link.chain_id,
        provider,
        head=link.head,
        genesis_hash=genesis,
        wallet_nonce=nonce,
        reconcile=reconcile,
        wallet_watch=functools.partial(wallet_watch, link, lending) if isinstance(lending, AaveLending) else None,
    )


def wallet_watch(link: ChainLink, lending: AaveLending, symbols: Sequence[str]) -> ChainWalletWatch:
    """The foreign-activity watch over the wallet's tokens of ``symbols`` and their aTokens."""
    market = lending.reader.market()
    tokens: dict[str, str] = {}
    for symbol in symbols:
        reserve = market.reserve(symbol)
        tokens[reserve.asset], tokens[reserve.a_token] = symbol, f"a{symbol}"
    store = lending.sender.store
    return ChainWalletWatch(link.w3, store, wallet=lending.wallet, chain_id=link.chain_id, tokens=tokens)


def chain_facts(link: ChainLink, wallet: str) -> tuple[str, int]:
    """(block 0's hash, the wallet's mined transaction count): which chain this is, and whether
    the wallet ever sent anything on it."""
    try:
        block = retrying_read(lambda: link.w3.eth.get_block(0), what="genesis block")
        nonce = retrying_read(lambda: link.w3.eth.get_transaction_count(wallet, "latest"), what="nonce")
    except (Retryable, Halt) as exc:
        raise ChainUnavailable(f"the chain RPC does not answer: {exc}") from None
    return "0x" + bytes(block["hash"]).hex(), int(nonce)


def pool_addresses_provider(link: ChainLink, reader: AaveReader) -> str:
    """The PoolAddressesProvider the market's pool itself reports (``Pool.ADDRESSES_PROVIDER()``)."""
    try:
        market = reader.market()
        pool = link.w3.eth.contract(address=Web3.to_checksum_address(market.pool), abi=_ADDRESSES_PROVIDER_ABI)
        return str(retrying_read(pool.functions.ADDRESSES_PROVIDER().call, what="ADDRESSES_PROVIDER"))
    except (Retryable, Halt) as exc:
        raise ChainUnavailable(f"the chain RPC does not answer: {exc}") from None


def _wallet(settings: Settings) -> str:
    if settings.wallet.address is None:  # the schema requires it; kept for the type checker
        raise ConfigError("config: wallet.address: required")
    return Web3.to_checksum_address(settings.wallet.address)


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())

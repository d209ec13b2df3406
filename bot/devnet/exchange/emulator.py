"""Assembly: state + HTTP server + chain link + background ticker, and the admin API.

``start_emulator(config) -> EmulatorHandle`` is the in-process entry point (tests, the
devnet); ``python -m bot.devnet.exchange`` wraps it for a background process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from eth_account import Account as EthAccount
from web3 import Web3

from bot.devnet.exchange.accounts import Account
from bot.devnet.exchange.chain import ChainLink
from bot.devnet.exchange.config import EmulatorConfig
from bot.devnet.exchange.faults import Fault, Faults, RequestLog
from bot.devnet.exchange.funds import Funds
from bot.devnet.exchange.matching import Exchange
from bot.devnet.exchange.prices import OraclePrices, PriceBoard
from bot.devnet.exchange.server import EmulatorServer, ServerThread

log = logging.getLogger(__name__)


def derive_deposit_key(api_secret: str) -> str:
    """A deterministic deposit-address key per account, so restarts keep the address."""
    return "0x" + Web3.keccak(text="delever-exchange-deposit:" + api_secret).hex().removeprefix("0x")


class EmulatorHandle:
    """A running emulator. ``url`` is the server root (``http://127.0.0.1:PORT``)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        oracle = None
        if config.rpc_url and (config.oracle_feeds or config.aave_oracle):
            oracle = OraclePrices(config.rpc_url, config.oracle_feeds, config.aave_oracle, config.oracle_assets)
        markets = {m.symbol: m for m in config.markets}
        self.prices = PriceBoard(markets, config.prices, config.price_fn, oracle, clock=config.clock)
        self.exchange = Exchange(config, self.prices)
        self._deposit_addresses: dict[str, str] = {}
        self.exchange.add_account(config.api_key, config.api_secret, config.balances)
        self.funds = Funds(config, self.exchange.accounts, config.clock, self._address_for)
        self.faults = Faults()
        self.requests = RequestLog()
        self.chain = (
            ChainLink(
                config.rpc_url, dict(config.coins), config.hot_wallet_key, config.auto_mint, config.deposit_start_block
            )
            if config.rpc_url
            else None
        )
        self.server = EmulatorServer(
            self.exchange,
            self.funds,
            self.faults,
            self.requests,
            self.lock,
            admin=self,
            check_timestamp=config.check_timestamp,
        )
        self._thread = ServerThread(self.server.app(), config.host, config.port)
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._tick_lock = threading.Lock()
        self.last_tick_error: str | None = None

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> EmulatorHandle:
        if self.chain is not None:
            self.tick()  # marks the start block: deposits count from here
        self._thread.start()
        self._ticker = threading.Thread(target=self._tick_loop, name="exchange-emulator-ticker", daemon=True)
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(10)
        self._thread.stop()

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorHandle(url={self.url!r}, api_key={self.api_key[:6]}…)"

    # -- facts ---------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._thread.port

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def api_secret(self) -> str:
        return self.config.api_secret

    @property
    def hot_wallet(self) -> str | None:
        return self.chain.hot_wallet if self.chain else None

    def account(self, api_key: str | None = None) -> Account:
        return self.exchange.accounts[api_key or self.config.api_key]

    @property
    def deposit_address(self) -> str:
        return self._address_for(self.account())

    def _address_for(self, account: Account) -> str:
        address = self._deposit_addresses.get(account.api_key)
        if address is None:
            key = (
                self.config.deposit_key
                if account.api_key == self.config.api_key and self.config.deposit_key
                else derive_deposit_key(account.api_secret)
            )
            address = EthAccount.from_key(key).address
            self._deposit_addresses[account.api_key] = address
        return address

    # -- background work: deposits, confirmations, withdrawals ------------------------------------------
    def _tick_loop(self) -> None:
        while not self._stop.wait(self.config.poll_interval_s):
            try:
                self.tick()
                self.last_tick_error = None
            except Exception as error:  # keep serving; the chain may be restarting
                if str(error) != self.last_tick_error:
                    log.warning("exchange emulator tick failed: %s", error)
                self.last_tick_error = str(error)
            self._sample_prices()

    def _sample_prices(self) -> None:
        """Keep the candles following the oracle even while nobody asks for a price."""
        try:
            with self.lock:
                self.prices.sample()
        except Exception as error:  # the chain may be restarting; the routes say so too
            if str(error) != self.last_tick_error:
                log.warning("exchange emulator price sample failed: %s", error)
            self.last_tick_error = str(error)

    def tick(self, force_withdrawals: bool = False) -> None:
        """Scan new blocks for deposits, update confirmations, pay due withdrawals."""
        with self._tick_lock:
            if self.chain is not None:
                head = self.chain.head()
                with self.lock:
                    addresses = [self._address_for(a) for a in self.exchange.accounts.values()]
                transfers = self.chain.scan(addresses, head)
                with self.lock:
                    for transfer in transfers:
                        self.funds.on_transfer(**transfer)
                    self.funds.on_head(head)
            with self.lock:
                due = self.funds.due_withdrawals(force=force_withdrawals)
            for withdrawal in due:
                self._pay(withdrawal)

    def _pay(self, withdrawal: Any) -> None:
        coin = self.funds.coins[withdrawal.coin]
        if self.chain is None:
            with self.lock:  # no chain: the ledger completes with a synthetic hash
                self.funds.complete(
                    withdrawal, "0x" + Web3.keccak(text=withdrawal.withdrawal_id).hex().removeprefix("0x")
                )
            return
        try:
            tx_id = self.chain.pay(coin, withdrawal.address, withdrawal.net)
        except Exception as error:
            log.warning("exchange emulator: withdrawal %s failed: %s", withdrawal.withdrawal_id, error)
            with self.lock:
                self.funds.fail(withdrawal, str(error))
            return
        with self.lock:
            self.funds.complete(withdrawal, tx_id)

    # -- programmatic control (the admin HTTP API calls these) ------------------------------------
    def set_price(self, symbol: str, price: Decimal | str | float | None) -> None:
        with self.lock:
            self.exchange.market(symbol)
            self.prices.pin(symbol, None if price is None else Decimal(str(price)))

    def set_depth(self, symbol: str, reset: bool = False, **profile: Any) -> None:
        with self.lock:
            book = self.exchange.books[self.exchange.market(symbol).symbol]
            if profile:
                book.set_profile(book.profile.replace(**profile))
            if reset:
                book.reset_depletion()

    def credit(self, asset: str, amount: Decimal | str, *, mode: str = "credit", api_key: str | None = None) -> Decimal:
        with self.lock:
            account = self.account(api_key)
            value = Decimal(str(amount))
            if mode == "set":
                account.free[asset] = value
            elif mode == "credit":
                account.credit(asset, value)
            else:
                raise ValueError("mode is 'credit' or 'set'")
            return account.free[asset]

    def add_fault(self, route: str, kind: str, **spec: Any) -> Fault:
        return self.faults.add(route=route, kind=kind, **spec)

    def clear_faults(self) -> None:
        self.faults.clear()

    def advance_clock(self, seconds: float) -> None:
        advance = getattr(self.config.clock, "advance", None)
        if advance is None:
            raise ValueError("this emulator's clock cannot be advanced")
        advance(seconds)

    def advance_withdrawals(self) -> int:
        """Pay every processing withdrawal now; returns how many were handled."""
        with self.lock:
            count = len(self.funds.due_withdrawals(force=True))
        self.tick(force_withdrawals=True)
        return count

    def balances(self, api_key: str | None = None) -> dict[str, dict[str, str]]:
        with self.lock:
            account = self.account(api_key)
            return {b["asset"]: {"free": b["free"], "locked": b["locked"]} for b in account.balances_json()}

    def state(self) -> dict[str, Any]:
        with self.lock:
            account = self.account()
            return {
                "url": self.url,
                "deposit_address": self.deposit_address,
                "hot_wallet": self.hot_wallet,
                "prices": {s: str(self.prices.reference(s)) for s in self.exchange.markets},
                "depth": {s: _profile_json(b.profile) for s, b in self.exchange.books.items()},
                "balances": {b["asset"]: {"free": b["free"], "locked": b["locked"]} for b in account.balances_json()},
                "open_orders": [o.query_json() for o in account.open_orders()],
                "orders": len(account.orders),
                "trades": len(account.trades),
                "deposits": [d.as_json(self.config.deposit_confirmations) for d in self.funds.deposits],
                "withdrawals": [w.as_json() for w in self.funds.withdrawals],
                "chain_head": self.funds.head,
                "last_tick_error": self.last_tick_error,
            }

    # -- admin HTTP API ------------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: Mapping[str, Any], query: Mapping[str, str]) -> Any:
        if (method, path) == ("GET", "/requests"):
            return [r.as_json() for r in self.requests.records(query.get("path"), query.get("method"))]
        if (method, path) == ("DELETE", "/requests"):
            self.requests.clear()
            return {"cleared": True}
        if (method, path) == ("GET", "/faults"):
            return [f.as_json() for f in self.faults.list()]
        if (method, path) == ("POST", "/faults"):
            spec = dict(body)
            return self.faults.add(Fault(**spec)).as_json()
        if (method, path) == ("DELETE", "/faults"):
            self.faults.clear()
            return {"cleared": True}
        if (method, path) == ("POST", "/price"):
            self.set_price(body["symbol"], body.get("price"))
            return {"symbol": body["symbol"], "price": str(self.prices.reference(body["symbol"]))}
        if (method, path) == ("POST", "/depth"):
            spec = dict(body)
            symbol, reset = spec.pop("symbol"), bool(spec.pop("reset", False))
            self.set_depth(symbol, reset=reset, **spec)
            return _profile_json(self.exchange.books[symbol].profile)
        if (method, path) == ("POST", "/balance"):
            free = self.credit(
                body["asset"], body["amount"], mode=body.get("mode", "credit"), api_key=body.get("api_key")
            )
            return {"asset": body["asset"], "free": str(free)}
        if (method, path) == ("POST", "/deposits"):
            with self.lock:
                deposit = self.funds.credit_deposit(
                    self.account(body.get("api_key")), body["coin"], Decimal(str(body["amount"])), body.get("tx_id")
                )
                return deposit.as_json(self.config.deposit_confirmations)
        if (method, path) == ("POST", "/withdrawals/advance"):
            return {"advanced": self.advance_withdrawals()}
        if (method, path) == ("POST", "/clock"):
            self.advance_clock(float(body.get("advance_s", 0)))
            return {"now": self.config.clock.now()}
        if (method, path) == ("GET", "/state"):
            return self.state()
        raise KeyError(f"{method} {path}")


def _profile_json(profile: Any) -> dict[str, Any]:
    return {
        "depth_usd_1pct": str(profile.depth_usd_1pct),
        "shape": profile.shape,
        "spread_bps": str(profile.spread_bps),
        "level_bps": str(profile.level_bps),
        "levels": profile.levels,
        "half_life_s": profile.half_life_s,
    }


def start_emulator(config: EmulatorConfig | None = None) -> EmulatorHandle:
    return EmulatorHandle(config or EmulatorConfig()).start()

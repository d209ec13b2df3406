"""The HTTP front: Binance spot REST routes, signing, fault injection, request log, and the
``/_admin`` API, served by aiohttp on its own event-loop thread.

Handlers are synchronous and run under one lock (the state is small; requests are short);
only fault delays sleep, outside the lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.devnet.exchange import klines, signing
from bot.devnet.exchange.accounts import Account
from bot.devnet.exchange.apierrors import ApiError
from bot.devnet.exchange.faults import Faults, Firing, RequestLog
from bot.devnet.exchange.matching import Exchange, now_ms, parse_int

log = logging.getLogger(__name__)

Handler = Callable[["Request"], Any]


@dataclass(slots=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    account: Account | None
    firing: Firing | None


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    signed: bool


class EmulatorServer:
    def __init__(
        self,
        exchange: Exchange,
        funds: Any,
        faults: Faults,
        request_log: RequestLog,
        state_lock: threading.RLock,
        admin: Any,
        check_timestamp: bool = True,
    ) -> None:
        self.exchange = exchange
        self.funds = funds
        self.faults = faults
        self.log = request_log
        self.lock = state_lock
        self.admin = admin
        self.check_timestamp = check_timestamp
        self.routes: dict[tuple[str, str], Route] = {}
        self._register()

    # -- routing ---------------------------------------------------------------------------
    def _register(self) -> None:
        ex, funds = self.exchange, self.funds

        def add(method: str, path: str, handler: Handler, signed: bool) -> None:
            self.routes[(method, path)] = Route(handler, signed)

        add("GET", "/api/v3/ping", lambda r: {}, False)
        add("GET", "/api/v3/time", lambda r: {"serverTime": now_ms()}, False)
        add("GET", "/api/v3/exchangeInfo", lambda r: ex.exchange_info_json(), False)
        add(
            "GET", "/api/v3/depth", lambda r: ex.depth_json(r.params.get("symbol"), parse_int(r.params, "limit")), False
        )
        add("GET", "/api/v3/ticker/24hr", self._ticker, False)
        add("GET", "/api/v3/klines", self._klines, False)
        add("GET", "/api/v3/account", lambda r: ex.account_json(r.account), True)
        add("POST", "/api/v3/order", self._new_order, True)
        add("GET", "/api/v3/order", lambda r: ex.query_order(r.account, r.params), True)
        add("DELETE", "/api/v3/order", lambda r: ex.cancel_order(r.account, r.params), True)
        add("GET", "/api/v3/openOrders", lambda r: ex.open_orders(r.account, r.params), True)
        add("GET", "/api/v3/allOrders", lambda r: ex.all_orders(r.account, r.params), True)
        add("GET", "/api/v3/myTrades", lambda r: ex.my_trades(r.account, r.params), True)
        add("GET", "/sapi/v1/system/status", lambda r: {"status": 0, "msg": "normal"}, False)
        add("GET", "/sapi/v1/capital/config/getall", lambda r: funds.config_getall(r.account), True)
        add("GET", "/sapi/v1/capital/deposit/address", lambda r: funds.deposit_address(r.account, r.params), True)
        add("GET", "/sapi/v1/capital/deposit/hisrec", lambda r: funds.deposit_history(r.account, r.params), True)
        add("POST", "/sapi/v1/capital/withdraw/apply", lambda r: funds.withdraw(r.account, r.params), True)
        add("GET", "/sapi/v1/capital/withdraw/history", lambda r: funds.withdraw_history(r.account, r.params), True)

    def _ticker(self, r: Request) -> Any:
        if r.params.get("symbol"):
            return self.exchange.ticker_json(r.params["symbol"])
        return [self.exchange.ticker_json(s) for s in self.exchange.markets]

    def _klines(self, r: Request) -> Any:
        symbol = self.exchange.market(r.params.get("symbol")).symbol
        interval_ms, start, end, limit = klines.parse_request(r.params, parse_int)
        prices = self.exchange.prices
        prices.reference(symbol)  # the current bar includes the price of now
        now = int(self.exchange.clock.now() * 1000)
        return prices.history.klines(symbol, interval_ms, start_ms=start, end_ms=end, limit=limit, now_ms=now)

    def _new_order(self, r: Request) -> Any:
        fraction = r.firing.fault.fraction if r.firing and r.firing.kind == "partial" else None
        return self.exchange.place_order(r.account, r.params, fill_fraction=fraction)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    # -- request handling ---------------------------------------------------------------------
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method.upper(), request.path
        query = request.rel_url.raw_query_string.encode("latin-1", "replace")
        body = await request.read()
        raw = query + (b"&" if query and body else b"") + body
        params_for_log = signing.parse_params(raw)
        if path.startswith("/_admin/") or path == "/_admin":
            return await self._admin(request, method, path, body)

        route = self.routes.get((method, path))
        if route is None:
            log.warning("emulator: unknown route %s %s", method, path)
            self.log.add(method, path, params_for_log, 404)
            return _json(404, {"msg": f"Unknown route {method} {path}.", "success": False})

        firing = self.faults.take(method, path)
        fault_name = firing.kind if firing else None
        early = await self._fault_before(firing)
        if early is not None:
            self.log.add(method, path, params_for_log, early.status, fault_name)
            return early

        status, payload, headers = self._execute(request, route, method, path, raw, firing)
        self.log.add(method, path, params_for_log, status, fault_name)

        if firing is not None and firing.kind in ("lost", "outage") and status == 200:
            if firing.fault.how == "drop":
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=200)
            return web.Response(status=int(firing.fault.how), text="")
        if firing is not None and firing.kind == "delay" and not firing.fault.execute:
            return web.Response(status=504, text="")
        return _json(status, payload, headers)

    async def _fault_before(self, firing: Firing | None) -> web.Response | None:
        if firing is None:
            return None
        fault, kind = firing.fault, firing.kind
        if kind == "delay":
            await asyncio.sleep(fault.seconds)
            if not fault.execute:
                return web.Response(status=504, text="")
            return None
        if kind == "status":
            body = fault.body if isinstance(fault.body, str) else json.dumps(fault.body)
            return web.Response(
                status=fault.status,
                text=body,
                content_type="application/json" if body.startswith(("{", "[")) else "text/html",
            )
        if kind == "rate_limit":
            return _json(
                429,
                {
                    "code": -1003,
                    "msg": "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. Please use the websocket for live updates to avoid polling the API.",
                },
                {"Retry-After": str(fault.retry_after)},
            )
        if kind == "ban":
            return _json(
                418,
                {
                    "code": -1003,
                    "msg": "Way too many requests; IP(127.0.0.1) banned. Please use the websocket for live updates to avoid bans.",
                },
                {"Retry-After": str(fault.retry_after)},
            )
        if kind == "reject":
            return _json(fault.status, {"code": fault.code, "msg": fault.msg})
        if kind == "down":
            return web.Response(status=503, text="")
        return None  # lost / partial act during or after execution

    def _execute(
        self, request: web.Request, route: Route, method: str, path: str, raw: bytes, firing: Firing | None
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            with self.lock:
                account = None
                if route.signed:
                    key = signing.check_api_key(
                        request.headers.get("X-MBX-APIKEY"), lambda k: k in self.exchange.accounts
                    )
                    account = self.exchange.accounts[key]
                    params = signing.verify(raw, account.api_secret, check_timestamp=self.check_timestamp)
                else:
                    params = signing.parse_params(raw)
                result = route.handler(Request(method, path, params, account, firing))
            return 200, result, {}
        except ApiError as error:
            return error.status, error.body(), error.headers
        except Exception:  # a bug in the emulator: Binance's "unknown error" shape
            log.exception("emulator: internal error on %s %s", method, path)
            return 500, {"code": -1000, "msg": "An unknown error occurred while processing the request."}, {}

    async def _admin(self, request: web.Request, method: str, path: str, body: bytes) -> web.Response:
        remote = request.remote or ""
        if remote not in ("127.0.0.1", "::1", "localhost"):
            return _json(403, {"msg": "admin endpoints are loopback only"})
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            return _json(400, {"msg": "admin body must be JSON"})
        query = dict(request.query)
        try:
            result = self.admin.handle(method, path[len("/_admin") :], payload, query)
        except KeyError as error:
            return _json(404, {"msg": f"unknown admin route or key: {error}"})
        except (ValueError, TypeError, ApiError) as error:
            return _json(400, {"msg": str(error)})
        return _json(200, result)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(payload, default=_default),
        content_type="application/json",
        headers=headers or {},
    )


class ServerThread:
    """Runs an aiohttp application on its own loop in a daemon thread."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._app, self._host, self._port = app, host, port
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, name="exchange-emulator", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None:
            raise RuntimeError(f"exchange emulator failed to start: {self._error}") from self._error
        if not self.port:
            raise RuntimeError("exchange emulator did not start in time")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as error:  # report to start()
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

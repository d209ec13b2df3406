"""The console's Starlette app: the page, its JSON API and a server-sent event stream.

Reads are open to whoever reaches the socket (loopback unless configured otherwise); the two
controls (``POST /api/stop``, ``POST /api/clear-halt``) need the console token in the
``X-Delever-Token`` header. A browser cannot attach a custom header to a cross-site request
without a CORS preflight, which this app never grants; the Origin and the JSON content type are
checked as well, and the Host header must name this server (no DNS rebinding).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.console.journal_view import batches_csv, batches_payload, events_payload, limits_payload
from bot.console.source import ConsoleSource, ControlRefused
from bot.errors import DeleverError
from bot.redact import json_default, redact_payload, scrub

TOKEN_HEADER = "X-Delever-Token"
STATIC = Path(str(resources.files("bot.console") / "static"))
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def plotly_js() -> Path:
    """plotly.js as the installed plotly package ships it: the page works offline, no CDN."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


class ConsoleJSON(JSONResponse):
    """JSON with Decimals as strings and every registered secret masked."""

    def render(self, content: Any) -> bytes:
        return json.dumps(redact_payload(content), default=json_default, separators=(",", ":")).encode()


def build_app(
    source: ConsoleSource,
    *,
    token: str | None,
    allowed_hosts: list[str],
    status_every_s: float = 2.0,
    journal_poll_s: float = 0.2,
    plan_ttl_s: float = 5.0,
) -> Starlette:
    """The app over ``source``. ``token``: the controls' secret (None: read-only console)."""
    plan_cache = _Cached(source.plan, ttl_s=plan_ttl_s)
    # One chain read serves every open page and API call within a second.
    status_cache = _Cached(source.status, ttl_s=min(1.0, status_every_s))
    source = dataclasses.replace(source, status=status_cache.get)

    def journal_read(read: Callable[[Any], Any]) -> Any:
        journal = source.open_journal()
        try:
            return read(journal)
        finally:
            if journal is not None:
                journal.close()

    async def page(_: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            return FileResponse(plotly_js(), media_type="text/javascript")
        if name not in ("console.js", "console.css"):
            return PlainTextResponse("not found", status_code=404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(STATIC / name, media_type=kind)

    async def status(_: Request) -> Response:
        return await _answer(source.status)

    async def plan(_: Request) -> Response:
        return await _answer(plan_cache.get)

    async def batches(request: Request) -> Response:
        limit = _int_param(request, "limit", 50, high=10_000)
        return ConsoleJSON(
            await run_in_threadpool(journal_read, lambda j: batches_payload(j, limit=limit, simulated=source.simulated))
        )

    async def batches_as_csv(_: Request) -> Response:
        payload = await run_in_threadpool(
            journal_read, lambda j: batches_payload(j, limit=1_000_000, simulated=source.simulated)
        )
        return Response(
            scrub(batches_csv(payload["batches"])),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="delever-batches.csv"'},
        )

    async def events(request: Request) -> Response:
        after = _int_param(request, "after", 0, high=2**62)
        return ConsoleJSON(await run_in_threadpool(journal_read, lambda j: events_payload(j, after=after)))

    def limits_now(journal: Any) -> dict[str, Any]:
        return {**limits_payload(journal, source.thresholds, now=source.now()), "controls": token is not None}

    async def limits(_: Request) -> Response:
        return ConsoleJSON(await run_in_threadpool(journal_read, limits_now))

    async def stop(request: Request) -> Response:
        return await _control(request, token, source.stop)

    async def clear_halt(request: Request) -> Response:
        return await _control(request, token, source.clear_halt)

    async def stream(request: Request) -> Response:
        return StreamingResponse(
            _events(
                request,
                source,
                journal_read,
                limits_now,
                status_every_s=status_every_s,
                journal_poll_s=journal_poll_s,
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/status", status),
        Route("/api/plan", plan),
        Route("/api/batches", batches),
        Route("/api/batches.csv", batches_as_csv),
        Route("/api/events", events),
        Route("/api/limits", limits),
        Route("/api/stream", stream),
        Route("/api/stop", stop, methods=["POST"]),
        Route("/api/clear-halt", clear_halt, methods=["POST"]),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts), Middleware(_SecurityHeaders)]
    app = Starlette(routes=routes, middleware=middleware)
    return app


class _SecurityHeaders:
    """No framing, no sniffing, no referrer, scripts from this origin only, nothing cached."""

    _HEADERS = (
        (b"content-security-policy", _CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    )

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers + list(self._HEADERS)}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _answer(read: Callable[[], dict[str, Any]]) -> Response:
    """A live read as JSON; a read that fails is one line, HTTP 503 (the page shows it)."""
    try:
        return ConsoleJSON(await run_in_threadpool(read))
    except DeleverError as exc:
        return ConsoleJSON({"error": _one_line(exc)}, status_code=503)


async def _control(request: Request, token: str | None, act: Callable[[], str]) -> Response:
    if token is None:
        return ConsoleJSON(
            {"error": "read-only console: set DELEVER_CONSOLE__TOKEN to enable stop and clear-halt"}, status_code=403
        )
    refused = _cross_site(request)
    if refused is not None:
        return ConsoleJSON({"error": refused}, status_code=403)
    given = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        return ConsoleJSON({"error": f"missing or wrong {TOKEN_HEADER}"}, status_code=401)
    try:
        message = await run_in_threadpool(act)
    except ControlRefused as exc:
        return ConsoleJSON({"error": _one_line(exc)}, status_code=409)
    except DeleverError as exc:
        return ConsoleJSON({"error": _one_line(exc)}, status_code=503)
    return ConsoleJSON({"ok": True, "message": message})


def _cross_site(request: Request) -> str | None:
    """Why a control request looks cross-site (None: it does not)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "cross-site request refused"
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
        return "cross-origin request refused"
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return "controls take Content-Type: application/json"
    return None


async def _events(
    request: Request,
    source: ConsoleSource,
    journal_read: Callable[[Callable[[Any], Any]], Any],
    limits_now: Callable[[Any], dict[str, Any]],
    *,
    status_every_s: float,
    journal_poll_s: float,
) -> AsyncIterator[str]:
    """``journal`` events as soon as the journal changes (new events, the newest batches, the
    control state and the limits used); a ``status`` event every ``status_every_s``."""

    def journal_update(cursor: int) -> dict[str, Any] | None:
        def read(journal: Any) -> dict[str, Any] | None:
            news = events_payload(journal, after=cursor)
            if news["next"] == cursor and sent:
                return None
            payload = batches_payload(journal, limit=3, simulated=source.simulated)
            payload["events"] = news["events"]
            payload["next"] = news["next"]
            payload["limits"] = limits_now(journal)
            return payload

        return journal_read(read)  # type: ignore[no-any-return]

    cursor, last_status, sent = 0, 0.0, False
    yield "retry: 2000\n\n"
    while not await request.is_disconnected():
        update = await run_in_threadpool(journal_update, cursor)
        if update is not None:
            cursor, sent = update["next"], True
            update["sent_at"] = time.time()
            yield _sse("journal", update)
        if time.monotonic() - last_status >= status_every_s:
            last_status = time.monotonic()
            try:
                status = await run_in_threadpool(source.status)
            except DeleverError as exc:
                status = {"error": _one_line(exc)}
            yield _sse("status", status)
        await asyncio.sleep(journal_poll_s)


def _sse(event: str, payload: dict[str, Any]) -> str:
    data = json.dumps(redact_payload(payload), default=json_default, separators=(",", ":"))
    return f"event: {event}\ndata: {data}\n\n"


class _Cached:
    """A slow read (the plan walks the order book) at most once per ``ttl_s``."""

    def __init__(self, read: Callable[[], dict[str, Any]], *, ttl_s: float) -> None:
        self._read, self._ttl_s = read, ttl_s
        self._lock = threading.Lock()
        self._at, self._value = -float("inf"), None

    def get(self) -> dict[str, Any]:
        with self._lock:
            if time.monotonic() - self._at >= self._ttl_s or self._value is None:
                self._value = self._read()
                self._at = time.monotonic()
            return self._value


def _int_param(request: Request, name: str, default: int, *, high: int) -> int:
    try:
        return min(max(int(request.query_params.get(name, default)), 0), high)
    except ValueError:
        return default


def _one_line(exc: BaseException) -> str:
    return " ".join(scrub(str(exc)).split())

"""A JSON-RPC fault proxy for loopback tests: sits between a client and anvil and, per method,
misbehaves N times.

    with FaultProxy(anvil_url) as proxy:              # 127.0.0.1, a free port
        proxy.add("eth_sendRawTransaction", "lost", contains="69328dec")   # Pool.withdraw
        run_the_daemon(rpc_url=proxy.url)
        proxy.calls("eth_sendRawTransaction")           # what went through, with the fault named

Kinds (what the client sees):

- ``delay``: sleep ``seconds`` before forwarding (past the client's timeout: a timeout; the
  request still reaches the node late unless ``forward=False``).
- ``lost``: forward the request, then (after holding the connection ``seconds``) close it
  without an answer (the write happened; the client sees a transport error or its own
  timeout — the UNKNOWN case; a long hold leaves time to SIGKILL the client mid-call).
- ``status``: answer HTTP ``status`` (default 503) with an empty body; nothing is forwarded.
- ``garbage``: answer HTTP 200 with ``body`` (default: not JSON); nothing is forwarded.
- ``garbled``: forward, then answer HTTP 200 with ``body`` instead of the node's answer (a
  broken gateway behind which the call, a broadcast say, did happen).
- ``result``: forward, then replace the JSON-RPC ``result`` with ``result`` (a decodable lie).

A rule matches a JSON-RPC method (``"*"`` for any) and optionally a substring of the request's
params (``contains``, e.g. a function selector inside a raw transaction), lets the first
``after`` matching calls through, then fires ``times`` times (None: until cleared). A batch
request (a JSON list) is matched element by element; the first firing rule decides for all.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

KINDS = ("delay", "lost", "status", "garbage", "garbled", "result")
DEFAULT_GARBAGE = "<html><body>502 Bad Gateway (not JSON)</body></html>"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Its clients are daemons the fault suites kill -9 mid-request: a reset is expected, and a
        # traceback for it on stderr would bury the ones that matter.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


@dataclass(slots=True)
class RpcFault:
    method: str
    kind: str
    times: int | None = 1
    after: int = 0
    contains: str | None = None
    seconds: float = 0.0
    forward: bool = True
    status: int = 503
    body: str = DEFAULT_GARBAGE
    result: Any = None
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.contains is not None:
            self.contains = self.contains.lower().removeprefix("0x")

    def matches(self, call: dict[str, Any]) -> bool:
        if self.method not in ("*", call.get("method")):
            return False
        return self.contains is None or self.contains in json.dumps(call.get("params", [])).lower()

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass(frozen=True, slots=True)
class RpcCall:
    time: float
    method: str
    params: Any
    fault: str | None


@dataclass
class _State:
    faults: list[RpcFault] = field(default_factory=list)
    calls: list[RpcCall] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 in front of ``upstream`` (an ``http://`` JSON-RPC URL)."""

    def __init__(
        self, upstream: str, *, host: str = "127.0.0.1", port: int = 0, upstream_timeout: float = 30.0
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("the upstream must be an http:// URL")
        self.upstream = upstream
        self._target = (parts.hostname, parts.port or 80, parts.path or "/")
        self._upstream_timeout = upstream_timeout
        self._state = _State()
        self._server = _Server((host, port), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="rpc-fault-proxy", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- control -------------------------------------------------------------------------------
    def add(self, method: str, kind: str, **spec: Any) -> RpcFault:
        fault = RpcFault(method=method, kind=kind, **spec)
        with self._state.lock:
            self._state.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._state.lock:
            self._state.faults.clear()

    def faults(self) -> list[RpcFault]:
        with self._state.lock:
            return list(self._state.faults)

    def calls(self, method: str | None = None) -> list[RpcCall]:
        with self._state.lock:
            return [c for c in self._state.calls if method is None or c.method == method]

    # -- the request path (called from handler threads) ----------------------------------------
    def _take(self, calls: list[dict[str, Any]]) -> RpcFault | None:
        with self._state.lock:
            chosen = None
            for fault in self._state.faults:
                if fault.spent or not any(fault.matches(c) for c in calls):
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                fault.fired += 1
                chosen = fault
                break
            now = time.time()
            for c in calls:
                self._state.calls.append(
                    RpcCall(now, str(c.get("method")), c.get("params"), chosen.kind if chosen else None)
                )
            return chosen

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        host, port, path = self._target
        conn = http.client.HTTPConnection(host, port, timeout=self._upstream_timeout)
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def _calls_of(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, list):
        return [c for c in payload if isinstance(c, dict)]
    return [payload] if isinstance(payload, dict) else []


def _replace_result(raw: bytes, result: Any) -> bytes:
    answer = json.loads(raw)
    for item in answer if isinstance(answer, list) else [answer]:
        if isinstance(item, dict) and "result" in item:
            item["result"] = result
    return json.dumps(answer).encode()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            return

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                calls = _calls_of(json.loads(body))
            except ValueError:
                calls = []
            fault = proxy._take(calls)
            kind = fault.kind if fault else None
            if kind == "status":
                return self._answer(fault.status, b"", "text/plain")
            if kind == "garbage":
                return self._answer(200, fault.body.encode(), "application/json")
            if kind == "delay":
                time.sleep(fault.seconds)
                if not fault.forward:
                    return self._close()
            try:
                status, raw = proxy._forward(body)
            except OSError:
                return self._answer(502, b"", "text/plain")
            if kind == "lost":
                if fault.seconds:
                    time.sleep(fault.seconds)
                return self._close()
            if kind == "result":
                raw = _replace_result(raw, fault.result)
            if kind == "garbled":
                return self._answer(200, fault.body.encode(), "application/json")
            self._answer(status, raw, "application/json")

        def _answer(self, status: int, raw: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except OSError:
                self.close_connection = True  # the client gave up (its timeout): nothing to tell

        def _close(self) -> None:
            """Drop the connection with no answer (RST where the OS allows)."""
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    return Handler


__all__ = ["KINDS", "FaultProxy", "RpcCall", "RpcFault"]

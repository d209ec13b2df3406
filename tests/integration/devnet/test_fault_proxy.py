"""The JSON-RPC fault proxy against a tiny in-process JSON-RPC upstream (loopback only)."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.devnet.fault_proxy import FaultProxy, RpcFault

pytestmark = pytest.mark.integration


class _Upstream:
    """Answers every call with ``{"result": "<method>:<n>"}`` and counts what it received."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802
                call = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                upstream.received.append(call)
                body = json.dumps(
                    {"jsonrpc": "2.0", "id": call.get("id"), "result": f"{call['method']}:{len(upstream.received)}"}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxied() -> Iterator[tuple[FaultProxy, _Upstream]]:
    upstream = _Upstream()
    proxy = FaultProxy(upstream.url)
    try:
        yield proxy, upstream
    finally:
        proxy.stop()
        upstream.stop()


def _call(url: str, method: str, params: list | None = None, *, timeout: float = 5.0) -> tuple[int, bytes]:
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_fault_proxy_without_faults_forwards_and_logs(proxied):
    proxy, upstream = proxied
    status, body = _call(proxy.url, "eth_chainId")
    assert status == 200 and json.loads(body)["result"] == "eth_chainId:1"
    assert [c.method for c in proxy.calls()] == ["eth_chainId"] and proxy.calls()[0].fault is None


def test_fault_proxy_lost_forwards_then_drops_the_answer(proxied):
    proxy, upstream = proxied
    proxy.add("eth_sendRawTransaction", "lost")
    with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
        _call(proxy.url, "eth_sendRawTransaction", ["0xabcd"])
    assert [c["method"] for c in upstream.received] == ["eth_sendRawTransaction"]  # it did reach the node
    status, _ = _call(proxy.url, "eth_sendRawTransaction", ["0xabcd"])  # times=1: spent
    assert status == 200 and len(upstream.received) == 2


def test_fault_proxy_status_answers_5xx_without_forwarding(proxied):
    proxy, upstream = proxied
    proxy.add("eth_call", "status", status=502, times=2)
    assert _call(proxy.url, "eth_call")[0] == 502
    assert _call(proxy.url, "eth_call")[0] == 502
    assert _call(proxy.url, "eth_call")[0] == 200
    assert len(upstream.received) == 1


def test_fault_proxy_garbage_is_not_json_and_not_forwarded(proxied):
    proxy, upstream = proxied
    proxy.add("*", "garbage")
    status, body = _call(proxy.url, "eth_blockNumber")
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(body)
    assert upstream.received == []


def test_fault_proxy_result_replaces_the_result_after_forwarding(proxied):
    proxy, upstream = proxied
    proxy.add("eth_call", "result", result="0xdeadbeef")
    status, body = _call(proxy.url, "eth_call")
    assert status == 200 and json.loads(body) == {"jsonrpc": "2.0", "id": 7, "result": "0xdeadbeef"}
    assert len(upstream.received) == 1


def test_fault_proxy_delay_past_the_client_timeout_still_forwards(proxied):
    proxy, upstream = proxied
    proxy.add("eth_sendRawTransaction", "delay", seconds=0.6)
    started = time.monotonic()
    with pytest.raises((TimeoutError, urllib.error.URLError, OSError)):
        _call(proxy.url, "eth_sendRawTransaction", ["0x01"], timeout=0.2)
    assert time.monotonic() - started < 0.5
    deadline = time.monotonic() + 3
    while not upstream.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [c["method"] for c in upstream.received] == ["eth_sendRawTransaction"]  # late, but it happened


def test_fault_proxy_delay_without_forward_never_reaches_the_node(proxied):
    proxy, upstream = proxied
    proxy.add("eth_sendRawTransaction", "delay", seconds=0.3, forward=False)
    with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
        _call(proxy.url, "eth_sendRawTransaction", ["0x01"])
    assert upstream.received == []


def test_fault_proxy_matches_contains_and_skips_after(proxied):
    proxy, upstream = proxied
    fault = proxy.add("eth_sendRawTransaction", "status", contains="0x69328DEC", after=1, times=1)
    assert _call(proxy.url, "eth_sendRawTransaction", ["0xaa"])[0] == 200  # no match
    assert _call(proxy.url, "eth_sendRawTransaction", ["0x0269328dec00"])[0] == 200  # first match: let through
    assert _call(proxy.url, "eth_sendRawTransaction", ["0x0269328dec00"])[0] == 503  # second: fires
    assert _call(proxy.url, "eth_sendRawTransaction", ["0x0269328dec00"])[0] == 200  # spent
    assert (fault.seen, fault.fired) == (2, 1)
    assert [c.fault for c in proxy.calls("eth_sendRawTransaction")] == [None, None, "status", None]
    proxy.clear()
    assert proxy.faults() == []


def test_fault_proxy_says_nothing_when_a_killed_client_resets_its_connection(proxied, capfd):
    proxy, upstream = proxied
    host, port = proxy.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as client:
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        time.sleep(0.2)  # the proxy is reading the body now
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    time.sleep(0.5)
    assert capfd.readouterr().err == ""
    assert _call(proxy.url, "eth_chainId") == (200, b'{"jsonrpc": "2.0", "id": 7, "result": "eth_chainId:1"}')
    assert len(upstream.received) == 1  # the reset request never reached the node


def test_fault_proxy_rejects_unknown_kinds_and_non_http_upstreams():
    with pytest.raises(ValueError):
        RpcFault(method="eth_call", kind="explode")
    with pytest.raises(ValueError):
        FaultProxy("ws://127.0.0.1:1")


def test_fault_proxy_lost_can_hold_the_connection_before_dropping_it(proxied):
    proxy, upstream = proxied
    proxy.add("eth_sendRawTransaction", "lost", seconds=1.0)
    started = time.monotonic()
    with pytest.raises((TimeoutError, urllib.error.URLError, OSError)):
        _call(proxy.url, "eth_sendRawTransaction", ["0x01"], timeout=0.3)
    assert time.monotonic() - started < 0.9
    assert [c["method"] for c in upstream.received] == ["eth_sendRawTransaction"]  # forwarded at once

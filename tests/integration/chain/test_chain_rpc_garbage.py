"""An RPC that answers HTTP 200 with something other than JSON-RPC is a flaky transport, not a
bug: the read is retried like after a 5xx, and a broadcast is left UNKNOWN for reconciliation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.adapters.chain.rpc import is_transport_error, make_web3, retrying_read
from bot.adapters.chain.tx_sender import TxRequest
from bot.adapters.chain.tx_store import TxStatus
from bot.devnet.fault_proxy import FaultProxy
from bot.errors import Retryable
from bot.ports import Outcome
from tests.support.chain import make_sender

pytestmark = pytest.mark.integration

CHAIN_ID = 31337


class _Node(BaseHTTPRequestHandler):
    """A JSON-RPC node that knows one answer: eth_chainId."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        return

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        call = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        raw = json.dumps({"jsonrpc": "2.0", "id": call["id"], "result": hex(CHAIN_ID)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    node = ThreadingHTTPServer(("127.0.0.1", 0), _Node)
    thread = threading.Thread(target=node.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = node.server_address[:2]
    try:
        with FaultProxy(f"http://{host}:{port}") as p:
            yield p
    finally:
        node.shutdown()
        node.server_close()


GARBAGE = [
    pytest.param("<html><body>502 Bad Gateway</body></html>", id="html-page"),
    pytest.param('{"jsonrpc": "2.0", "id": 1, "res', id="truncated-json"),
    pytest.param("", id="empty-body"),
    pytest.param('"upstream busy"', id="json-string"),
    pytest.param('{"status": "overloaded"}', id="json-without-result-or-error"),
]


@pytest.mark.parametrize("body", GARBAGE)
def test_a_200_that_is_not_json_rpc_is_a_transport_error(proxy, body):
    proxy.add("eth_chainId", "garbage", body=body)
    w3 = make_web3(proxy.url)
    with pytest.raises(Exception) as caught:
        w3.eth.chain_id  # noqa: B018 - the read under test
    assert is_transport_error(caught.value), repr(caught.value)


@pytest.mark.parametrize("body", GARBAGE)
def test_a_read_is_retried_through_garbage_answers(proxy, body):
    fault = proxy.add("eth_chainId", "garbage", body=body, times=3)
    w3 = make_web3(proxy.url)
    assert retrying_read(lambda: w3.eth.chain_id, what="chain id", attempts=4) == CHAIN_ID
    assert fault.fired == 3
    assert [c.fault for c in proxy.calls("eth_chainId")] == ["garbage", "garbage", "garbage", None]


def test_garbage_beyond_the_read_budget_is_retryable_like_a_5xx(proxy):
    proxy.add("eth_chainId", "garbage", times=None)
    w3 = make_web3(proxy.url)
    with pytest.raises(Retryable, match=r"RPC read failed \(chain id\): GarbledRpcAnswer"):
        retrying_read(lambda: w3.eth.chain_id, what="chain id", attempts=3)
    assert len(proxy.calls("eth_chainId")) == 3
    proxy.clear()
    proxy.add("eth_chainId", "status", status=502, times=None)
    with pytest.raises(Retryable, match=r"RPC read failed \(chain id\): HTTPError"):
        retrying_read(lambda: w3.eth.chain_id, what="chain id", attempts=3)


@pytest.mark.parametrize("forward", [False, True], ids=["never-reached-the-node", "reached-the-node"])
def test_a_broadcast_answered_with_garbage_is_unknown_then_reconciled_to_one_tx(bare, tmp_path, forward):
    """Before: the HTML page read as the node's refusal, the key went REJECTED (the step FAILED)
    although the transaction may have reached the node."""
    with FaultProxy(bare.rpc_url) as proxy:
        # "garbled": the node got it and a gateway broke the answer; "garbage": it never got it.
        proxy.add("eth_sendRawTransaction", "garbled" if forward else "garbage", times=1)
        sender = make_sender(make_web3(proxy.url), tmp_path / "tx.db")
        submitted = sender.submit("k", TxRequest(to="0x000000000000000000000000000000000000dEaD", value=1, gas=21_000))
        assert submitted.outcome is Outcome.UNKNOWN
        assert sender.record("k").status is TxStatus.PENDING
        final = sender.wait("k", timeout=10)
    assert final.outcome is Outcome.OK
    (attempt,) = sender.attempts("k")  # the same signed bytes, never a second nonce
    sends = [(c.params[0], c.fault) for c in proxy.calls("eth_sendRawTransaction")]
    assert sends[0] == (attempt.raw_tx, "garbled" if forward else "garbage")
    assert {raw for raw, _ in sends} == {attempt.raw_tx}
    assert len(sends) == (1 if forward else 2)  # found in the pool, or rebroadcast once
    assert bare.w3.eth.get_transaction_count(sender.address) == final.nonce + 1

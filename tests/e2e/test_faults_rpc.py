"""RPC-path faults on the real devnet: the daemon (a subprocess) talks to anvil through
``bot.devnet.fault_proxy`` (``DELEVER_CHAIN__RPC_URL`` points at it), or anvil itself drops
and reorgs transactions. Each run ends with the batch DONE and the invariants of
``faults_helpers.assert_invariants`` (one tx per nonce and per key, one order per client id,
one withdrawal per id, the books balance, HF rose, no sale below the floor).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from web3 import Web3

from bot.devnet import anvil
from bot.devnet.fault_proxy import FaultProxy
from tests.support.faults_helpers import SELECTORS, Rig, assert_invariants, events_text, wallet_txs

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def proxied(rig: Rig) -> Iterator[tuple[Rig, FaultProxy]]:
    with FaultProxy(rig.url) as proxy:
        rig.extra_env = {"DELEVER_CHAIN__RPC_URL": proxy.url}
        yield rig, proxy


def _mined_calls(rig: Rig, selector: str) -> list[dict]:
    return [tx for tx in wallet_txs(rig) if bytes(tx["input"]).hex().startswith(selector)]


def _raw_sends(proxy: FaultProxy, selector: str) -> list[str]:
    return [c.params[0] for c in proxy.calls("eth_sendRawTransaction") if selector in c.params[0].lower()]


@pytest.mark.parametrize(
    ("step", "kind"),
    [
        pytest.param("withdraw", "lost", id="withdraw-send-response-lost"),
        pytest.param("repay", "lost", id="repay-send-response-lost"),
        pytest.param("withdraw", "status", id="withdraw-send-503-not-forwarded"),
    ],
)
def test_broadcast_without_an_answer_is_reconciled_to_exactly_one_tx(proxied, step, kind):
    rig, proxy = proxied
    selector = SELECTORS[step]
    proxy.add("eth_sendRawTransaction", kind, contains=selector)
    run = rig.run("--once")
    assert run.returncode == 0, run.stderr[-3000:] + events_text(rig)
    assert proxy.calls("eth_chainId"), "the daemon did not go through the proxy"
    assert_invariants(rig)
    sends = _raw_sends(proxy, selector)
    assert next(c.fault for c in proxy.calls("eth_sendRawTransaction") if selector in c.params[0].lower()) == kind
    assert len(set(sends)) == 1, "a second, different transaction was signed for the same key"
    assert len(_mined_calls(rig, selector)) == 1


def test_dropped_withdraw_is_rebroadcast_with_the_same_bytes(proxied):
    rig, proxy = proxied
    anvil.rpc_call(rig.url, "evm_setAutomine", [False])  # the withdraw waits in the pool
    daemon = rig.spawn("--once")
    try:
        selector = SELECTORS["withdraw"]
        rig.wait_for(lambda: _raw_sends(proxy, selector), timeout=60, what="the withdraw broadcast", proc=daemon)
        (raw,) = _raw_sends(proxy, selector)
        tx_hash = Web3.keccak(hexstr=raw).hex()
        tx_hash = tx_hash if tx_hash.startswith("0x") else "0x" + tx_hash
        assert anvil.rpc_call(rig.url, "eth_getTransactionByHash", [tx_hash]) is not None
        anvil.rpc_call(rig.url, "anvil_dropTransaction", [tx_hash])
        assert anvil.rpc_call(rig.url, "eth_getTransactionByHash", [tx_hash]) is None
        rig.wait_for(lambda: len(_raw_sends(proxy, selector)) >= 2, timeout=30, what="the rebroadcast", proc=daemon)
        anvil.rpc_call(rig.url, "evm_setAutomine", [True])
        anvil.rpc_call(rig.url, "evm_mine")
        assert daemon.wait(timeout=120) == 0, rig.log_text()[-3000:]
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert_invariants(rig)
    sends = _raw_sends(proxy, selector)
    assert len(sends) >= 2 and set(sends) == {raw}  # identical bytes: same nonce, same hash
    (mined,) = _mined_calls(rig, selector)
    assert "0x" + bytes(mined["hash"]).hex().removeprefix("0x") == tx_hash
    assert "dropped?" in rig.log_text()


class _Miner:
    """The test is the block producer: a block every ``interval`` s; the first block that
    carries the wallet's repay is reorged out (``anvil_reorg``) once the daemon has seen it
    mined, before the second confirmation."""

    def __init__(self, rig: Rig, *, interval: float = 0.25, observe_s: float = 1.0) -> None:
        self.rig, self.interval, self.observe_s = rig, interval, observe_s
        self.reorged: str | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Miner:
        anvil.rpc_call(self.rig.url, "evm_setAutomine", [False])
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        anvil.rpc_call(self.rig.url, "evm_setAutomine", [True])

    def _run(self) -> None:
        url, wallet = self.rig.url, self.rig.devnet.wallet.lower()
        try:
            while not self._stop.wait(self.interval):
                anvil.rpc_call(url, "evm_mine")
                if self.reorged:
                    continue
                block = anvil.rpc_call(url, "eth_getBlockByNumber", ["latest", True])
                repay = [
                    tx
                    for tx in block["transactions"]
                    if tx["from"].lower() == wallet and tx["input"][2:].startswith(SELECTORS["repay"])
                ]
                if repay:
                    # 1 confirmation of the 2 required: let the daemon see it, then rewind that block.
                    time.sleep(self.observe_s)
                    anvil.rpc_call(url, "anvil_reorg", [1, []])
                    self.reorged = repay[0]["hash"]
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e


def test_reorg_below_the_confirmation_depth_does_not_repay_twice(proxied):
    rig, proxy = proxied
    rig.toml_overrides = {"confirmations = 1": "confirmations = 2"}
    with _Miner(rig) as miner:
        run = rig.run("--once")
    assert miner.error is None, miner.error
    assert miner.reorged, "the repay was never mined"
    assert run.returncode == 0, run.stderr[-3000:] + events_text(rig)
    assert "no longer canonical (reorg)" in run.stderr
    assert_invariants(rig)
    repays = _mined_calls(rig, SELECTORS["repay"])
    assert len(repays) == 1  # re-mined once, after the reorg
    assert len(set(_raw_sends(proxy, SELECTORS["repay"]))) == 1  # the same signed bytes, never a new nonce


@pytest.mark.parametrize(
    ("garbage", "reaction"),
    [
        # Not JSON at all: a transport failure, the read is retried like after a 5xx (no trace
        # beyond the proxy's record: the second attempt answers).
        pytest.param({"kind": "garbage"}, None, id="html-instead-of-json"),
        # Valid JSON-RPC, bytes that do not decode as the Multicall3 answer: a retried read.
        pytest.param(
            {"kind": "result", "result": "0xdeadbeef"}, "read: ChainDataError, retrying", id="undecodable-result"
        ),
    ],
)
def test_garbage_from_the_rpc_on_a_read_trades_nothing_then_recovers(proxied, garbage, reaction):
    """The position read (one Multicall3 eth_call carrying getUserAccountData) answers garbage
    twice in a row: nothing is signed or sent on it, a clear error is logged, and once the RPC
    answers sanely again the same daemon trades."""
    rig, proxy = proxied
    account_data_selector = "bf92857c"
    # after=1: start-up reads the position once before the first tick; let that one through.
    fault = proxy.add("eth_call", times=2, after=1, contains=account_data_selector, **garbage)
    daemon = rig.spawn()  # the daemon loop (tick every 0.2 s), not --once
    try:
        rig.wait_for(lambda: _done(rig), timeout=120, what="a DONE batch", proc=daemon)
        (rig.journal_path.parent / "STOP").touch()  # the kill switch: finish the step, exit 0
        assert daemon.wait(timeout=60) == 0, rig.log_text()[-3000:]
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert fault.fired == 2
    log = rig.log_text()
    assert reaction is None or reaction in log, log[-3000:]
    assert "tick failed (3/3)" not in log and "halted" not in log
    last_garbage = max(c.time for c in proxy.calls("eth_call") if c.fault)
    sends = proxy.calls("eth_sendRawTransaction")
    assert sends and min(c.time for c in sends) > last_garbage  # nothing was sent on a garbage read
    assert_invariants(rig, batches=None)
    if reaction is not None:
        print("reaction:", [line[:300] for line in log.splitlines() if reaction in line][:2])


def _done(rig: Rig) -> bool:
    from bot.engine.journal import BatchStatus

    if not rig.journal_path.exists():
        return False
    with rig.journal() as j:
        return any(b.status is BatchStatus.DONE for b in j.batches())


def test_rpc_lying_about_the_chain_id_signs_nothing_then_recovers(proxied):
    """After start-up the RPC claims to serve mainnet (eth_chainId = 1): the sender refuses to
    sign, the batch stops FAILED with nothing sent; once the RPC is sane, the next run trades."""
    from bot.engine.journal import BatchStatus, StepStatus
    from tests.support.faults_helpers import (
        assert_books_balance,
        assert_no_sale_below_floor,
        assert_one_order_per_client_id,
        assert_one_tx_per_nonce_and_key,
        assert_one_withdrawal_per_id,
        hf,
    )

    rig, proxy = proxied
    proxy.add("eth_chainId", "result", result="0x1", after=1, times=None)  # start-up's own check passes
    first = rig.run("--once")
    assert first.returncode in (0, 1), first.stderr[-3000:]
    assert proxy.calls("eth_sendRawTransaction") == []
    assert hf(rig) == rig.hf_start and wallet_txs(rig) == []
    (failed,) = rig.batch_ids()
    with rig.journal() as j:
        assert j.batch(failed).status is BatchStatus.FAILED
        withdraw = j.step(failed, "withdraw")
        assert withdraw.status is StepStatus.FAILED and "chain id 1" in (withdraw.error or ""), withdraw
    proxy.clear()
    second = rig.run("--once")
    assert second.returncode == 0, second.stderr[-3000:] + events_text(rig)
    failed_again, done = rig.batch_ids()
    assert failed_again == failed
    with rig.journal() as j:
        assert j.batch(done).status is BatchStatus.DONE
    assert_one_order_per_client_id(rig)
    assert_one_withdrawal_per_id(rig)
    assert_one_tx_per_nonce_and_key(rig)
    assert_books_balance(rig, [done])
    assert_no_sale_below_floor(rig, [done])
    assert hf(rig) > rig.hf_start


@pytest.mark.parametrize(
    "fault",
    [
        # The repay's simulation (an eth_call carrying Pool.repay) answered by an HTML error page
        # six times in a row: collateral withdrawn, sold and back, nothing repaid yet.
        pytest.param(
            {"method": "eth_call", "kind": "garbage", "times": 6, "contains": SELECTORS["repay"]},
            id="repay-simulation-six-html-pages",
        ),
        # The receipts of the withdraw answered with empty 200s.
        pytest.param(
            {"method": "eth_getTransactionReceipt", "kind": "garbage", "times": 6, "body": ""},
            id="receipts-six-empty-bodies",
        ),
        # The node took the withdraw; the gateway in front of it answered truncated JSON.
        pytest.param(
            {
                "method": "eth_sendRawTransaction",
                "kind": "garbled",
                "contains": SELECTORS["withdraw"],
                "body": '{"jsonrpc":"2.0","id":1,"res',
            },
            id="withdraw-broadcast-truncated-json",
        ),
    ],
)
def test_rpc_answering_200_with_a_non_json_body_is_retried_mid_batch(proxied, fault):
    """HTTP 200 with a body that is not JSON-RPC is a transport failure, retried with backoff
    like a 5xx: the batch completes in one run and nothing is done twice. (Before: the decode
    error failed the tick mid-batch; a garbled broadcast was journalled as refused.)"""
    rig, proxy = proxied
    spec = dict(fault)
    injected = proxy.add(spec.pop("method"), spec.pop("kind"), **spec)
    run = rig.run("--once")
    assert run.returncode == 0, run.stderr[-3000:] + events_text(rig)
    assert injected.fired == fault.get("times", 1)
    assert "tick failed" not in run.stderr and "halted" not in run.stderr
    assert_invariants(rig)
    for step in ("withdraw", "repay"):
        assert len(_mined_calls(rig, step_selector := SELECTORS[step])) == 1
        assert len(set(_raw_sends(proxy, step_selector))) == 1  # one signed transaction per key

"""The transaction sender against a real anvil: idempotency, replacement, drops, reorgs, guards."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from web3 import Web3

from bot.adapters.chain import abis
from bot.adapters.chain.aave_errors import RevertPredicted
from bot.adapters.chain.tx_sender import SenderConfig, TxRequest, TxSender
from bot.adapters.chain.tx_store import TxStatus, TxStore
from bot.clock import ManualClock
from bot.errors import GuardRefused, NeedsReview
from bot.ports import Outcome
from tests.support.chain import SIGNER_INDEX, deploy_token, local_account, make_sender, rpc
from tests.support.devnet import Devnet

pytestmark = pytest.mark.integration

RECIPIENT = "0x000000000000000000000000000000000000dEaD"
ONE_ETH = 10**18


def eth_transfer(value: int = ONE_ETH) -> TxRequest:
    return TxRequest(to=RECIPIENT, value=value, gas=21_000, description="test transfer")


def test_tx_sender_same_key_twice_sends_once(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db")
    first = sender.send("k", eth_transfer())
    again = sender.send("k", eth_transfer(value=5 * ONE_ETH))  # a different body under the same key
    assert first.outcome is Outcome.OK and again == first
    assert bare.w3.eth.get_balance(RECIPIENT) == ONE_ETH
    assert len(sender.attempts("k")) == 1


def test_tx_sender_crash_after_persist_before_broadcast_rebroadcasts_same_bytes(bare: Devnet, tmp_path: Path) -> None:
    store_path = tmp_path / "tx.db"
    sender = make_sender(bare.w3, store_path)
    sender._broadcast = lambda *a, **k: True  # type: ignore[method-assign]  # "crash": persisted, never sent
    signed = sender.submit("k", eth_transfer())
    assert signed.outcome is Outcome.UNKNOWN
    (attempt,) = sender.attempts("k")
    assert TxStore(store_path).get("k").status is TxStatus.SIGNED

    restarted = make_sender(bare.w3, store_path)  # a new process on the same store
    result = restarted.send("k", eth_transfer())
    assert result.outcome is Outcome.OK
    assert result.tx_hash == attempt.tx_hash  # the identical signed bytes
    assert [a.tx_hash for a in restarted.attempts("k")] == [attempt.tx_hash]
    assert bare.w3.eth.get_transaction_count(restarted.address) == 1  # one nonce for the key
    assert bare.w3.eth.get_balance(RECIPIENT) == ONE_ETH


def test_tx_sender_dropped_tx_rebroadcast_with_same_hash(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db")
    rpc(bare.w3, "evm_setAutomine", False)
    submitted = sender.submit("k", eth_transfer())
    assert submitted.outcome is Outcome.PENDING
    rpc(bare.w3, "anvil_dropTransaction", submitted.tx_hash)
    assert rpc(bare.w3, "eth_getTransactionByHash", submitted.tx_hash) is None
    after = sender.poll("k")  # notices the drop, rebroadcasts the same bytes
    assert after.tx_hash == submitted.tx_hash
    assert rpc(bare.w3, "eth_getTransactionByHash", submitted.tx_hash) is not None
    rpc(bare.w3, "evm_mine")
    final = sender.poll("k")
    assert final.outcome is Outcome.OK and final.tx_hash == submitted.tx_hash
    assert len(sender.attempts("k")) == 1


def test_tx_sender_foreign_nonce_consumption_needs_review(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db")
    rpc(bare.w3, "evm_setAutomine", False)
    submitted = sender.submit("k", eth_transfer())
    rpc(bare.w3, "anvil_dropTransaction", submitted.tx_hash)
    # Someone else spends our nonce (here: the same account signing elsewhere).
    foreign = local_account(SIGNER_INDEX).sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": submitted.nonce,
            "to": RECIPIENT,
            "value": 7,
            "gas": 21_000,
            "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": 2 * 10**9,
        }
    )
    bare.w3.eth.send_raw_transaction(foreign.raw_transaction)
    rpc(bare.w3, "evm_mine")
    with pytest.raises(NeedsReview, match="never signed"):
        sender.poll("k")
    with pytest.raises(NeedsReview):  # stays there: a human must look
        sender.send("k", eth_transfer())
    assert bare.w3.eth.get_balance(RECIPIENT) == 7


def test_tx_sender_stuck_tx_replaced_and_exactly_one_takes_effect(bare: Devnet, tmp_path: Path) -> None:
    clock = ManualClock()
    sender = make_sender(bare.w3, tmp_path / "tx.db", clock=clock, stuck_seconds=30, stuck_blocks=1000)
    rpc(bare.w3, "evm_setAutomine", False)
    first = sender.submit("k", eth_transfer())
    clock.advance(31)
    sender.poll("k")
    attempts = sender.attempts("k")
    assert len(attempts) == 2
    old, new = attempts
    assert new.max_fee_per_gas >= -(-old.max_fee_per_gas * 1125 // 1000)
    assert new.max_priority_fee_per_gas >= -(-old.max_priority_fee_per_gas * 1125 // 1000)
    rpc(bare.w3, "evm_mine")
    final = sender.poll("k")
    assert final.outcome is Outcome.OK and final.tx_hash == new.tx_hash != first.tx_hash
    assert bare.w3.eth.get_balance(RECIPIENT) == ONE_ETH
    assert bare.w3.eth.get_transaction_count(sender.address) == 1


def test_tx_sender_base_fee_spike_stalls_then_repriced_and_mined(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db", stuck_blocks=2)
    rpc(bare.w3, "evm_setAutomine", False)
    first = sender.submit("k", eth_transfer())
    spiked = 50 * first_max_fee(sender, "k")
    rpc(bare.w3, "anvil_setNextBlockBaseFeePerGas", hex(spiked))
    rpc(bare.w3, "evm_mine")  # our maxFee is below the base fee: not included (anvil evicts it)
    assert sender.poll("k").outcome is Outcome.PENDING  # dropped; its bytes are refused; re-priced
    attempts = sender.attempts("k")
    assert len(attempts) >= 2 and attempts[-1].max_fee_per_gas > spiked // 2
    rpc(bare.w3, "evm_mine")
    final = sender.poll("k")
    assert final.outcome is Outcome.OK and final.tx_hash == attempts[-1].tx_hash != first.tx_hash
    assert bare.w3.eth.get_balance(RECIPIENT) == ONE_ETH


def first_max_fee(sender: TxSender, key: str) -> int:
    return sender.attempts(key)[0].max_fee_per_gas


def test_tx_sender_older_replaced_hash_mined_counts_as_done(bare: Devnet, tmp_path: Path) -> None:
    clock = ManualClock()
    sender = make_sender(bare.w3, tmp_path / "tx.db", clock=clock, stuck_seconds=30, stuck_blocks=1000)
    rpc(bare.w3, "evm_setAutomine", False)
    sender.submit("k", eth_transfer())
    clock.advance(31)
    sender.poll("k")
    old, new = sender.attempts("k")
    # The race: the bump loses, the original bytes win (another node still had them).
    rpc(bare.w3, "anvil_dropTransaction", new.tx_hash)
    bare.w3.eth.send_raw_transaction(Web3.to_bytes(hexstr=old.raw_tx))
    rpc(bare.w3, "evm_mine")
    final = sender.poll("k")
    assert final.outcome is Outcome.OK and final.tx_hash == old.tx_hash
    assert len(sender.attempts("k")) == 2  # nothing more was signed
    assert sender.send("k", eth_transfer()).tx_hash == old.tx_hash
    assert bare.w3.eth.get_balance(RECIPIENT) == ONE_ETH


def test_tx_sender_reorg_below_depth_goes_back_to_pending(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db", confirmations=3)
    submitted = sender.submit("k", eth_transfer())
    mined = sender.poll("k")
    assert mined.outcome is Outcome.PENDING and mined.block is not None
    assert sender.record("k").status is TxStatus.MINED
    rpc(bare.w3, "anvil_reorg", 1, [])  # the block holding our tx is replaced without it
    after = sender.poll("k")  # not canonical any more → pending; anvil forgot the tx → same bytes again
    assert after.outcome is Outcome.PENDING and after.block is None
    assert sender.record("k").status is TxStatus.PENDING
    for _ in range(3):
        rpc(bare.w3, "evm_mine")
    final = sender.wait("k", timeout=5)
    assert final.outcome is Outcome.OK and final.tx_hash == submitted.tx_hash and final.block != mined.block
    assert len(sender.attempts("k")) == 1
    assert bare.w3.eth.get_balance(RECIPIENT) == ONE_ETH  # once


def test_tx_sender_reverted_tx_failed_with_decoded_reason(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db")
    token = deploy_token(bare, mint_to=sender.address, amount=100)
    rpc(bare.w3, "evm_setAutomine", False)
    transfer = TxRequest(to=token.address, data=abis.TRANSFER.encode(RECIPIENT, 80), description="transfer 80")
    assert sender.submit("a", transfer).outcome is Outcome.PENDING
    assert sender.submit("b", transfer).outcome is Outcome.PENDING  # simulated alone: fine; after "a": not
    rpc(bare.w3, "evm_mine")
    assert sender.poll("a").outcome is Outcome.OK
    failed = sender.poll("b")
    assert failed.outcome is Outcome.FAILED
    assert "exceeds balance" in (failed.error or "")


def test_tx_sender_simulated_revert_refused_before_signing(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db")
    token = deploy_token(bare, mint_to=sender.address, amount=1)
    with pytest.raises(RevertPredicted, match="exceeds balance"):
        sender.send("k", TxRequest(to=token.address, data=abis.TRANSFER.encode(RECIPIENT, 2)))
    assert sender.record("k") is None


def test_tx_sender_chain_id_mismatch_refused_before_signing(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db", chain_id=1)
    with pytest.raises(GuardRefused, match="chain id 31337 differs from the configured 1"):
        sender.send("k", eth_transfer())
    assert sender.record("k") is None


def test_tx_sender_too_little_eth_for_gas_refused_before_signing(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db")
    rpc(bare.w3, "anvil_setBalance", sender.address, hex(1000))
    with pytest.raises(GuardRefused, match="refusing to sign"):
        sender.send("k", eth_transfer(value=1))
    assert sender.record("k") is None


def test_tx_sender_fee_cap_reached_stops_bumping(bare: Devnet, tmp_path: Path) -> None:
    clock = ManualClock()
    sender = make_sender(
        bare.w3,
        tmp_path / "tx.db",
        clock=clock,
        stuck_seconds=30,
        stuck_blocks=1000,
        max_fee_cap_wei=4 * 10**9,
        urgency=Decimal(1),
    )
    rpc(bare.w3, "evm_setAutomine", False)
    sender.submit("k", eth_transfer())
    for _ in range(5):
        clock.advance(31)
        sender.poll("k")
    attempts = sender.attempts("k")
    assert [a.max_fee_per_gas for a in attempts] == [3_000_000_000, 3_375_000_000, 3_796_875_000]
    assert "fee cap reached" in (sender.record("k").error or "")
    for _ in range(5):  # at the cap: no more signatures, no loop
        clock.advance(31)
        assert sender.poll("k").outcome is Outcome.PENDING
    assert len(sender.attempts("k")) == 3


def test_tx_sender_nonces_follow_pending_and_store(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db")
    rpc(bare.w3, "evm_setAutomine", False)
    nonces = [sender.submit(f"k{i}", eth_transfer()).nonce for i in range(3)]
    assert nonces == [0, 1, 2]
    rpc(bare.w3, "evm_mine")
    assert [sender.poll(f"k{i}").outcome for i in range(3)] == [Outcome.OK] * 3
    assert isinstance(sender, TxSender) and isinstance(sender.config, SenderConfig)


class LossyProvider(Web3.HTTPProvider):
    """Loses the broadcast: either after the node got it (response lost) or before (request lost)."""

    mode: str | None = None

    def make_request(self, method, params):  # type: ignore[no-untyped-def]
        if method == "eth_sendRawTransaction" and self.mode:
            mode, self.mode = self.mode, None
            if mode == "response-lost":
                super().make_request(method, params)
            raise requests.ConnectionError("connection reset")
        return super().make_request(method, params)


@pytest.mark.parametrize("mode", ["response-lost", "request-lost"])
def test_tx_sender_broadcast_transport_failure_unknown_then_reconciled(bare: Devnet, tmp_path: Path, mode: str) -> None:
    provider = LossyProvider(bare.node.rpc_url, exception_retry_configuration=None)
    sender = TxSender(
        Web3(provider),
        local_account(SIGNER_INDEX),
        TxStore(tmp_path / "tx.db"),
        SenderConfig(chain_id=31337, poll_interval=0.01, wait_timeout=5),
    )
    provider.mode = mode
    submitted = sender.submit("k", eth_transfer())
    assert submitted.outcome is Outcome.UNKNOWN  # it may or may not have reached the node
    final = sender.wait("k")
    assert final.outcome is Outcome.OK and final.tx_hash == submitted.tx_hash  # same bytes, never new ones
    assert len(sender.attempts("k")) == 1
    assert bare.w3.eth.get_balance(RECIPIENT) == ONE_ETH


def test_tx_sender_private_key_never_in_logs_errors_repr_or_store(
    bare: Devnet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    key_hex = bytes(local_account(SIGNER_INDEX).key).hex()
    sender = make_sender(bare.w3, tmp_path / "tx.db")
    sender.send("ok", eth_transfer())
    texts = [repr(sender)]
    for bad in (make_sender(bare.w3, tmp_path / "tx2.db", chain_id=5), sender):
        try:
            bad.send("refused", eth_transfer(value=10**30))
        except GuardRefused as exc:
            texts.append(str(exc))
    assert len(texts) == 3
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("tx*.db*"))
    assert key_hex not in caplog.text and all(key_hex not in t for t in texts)
    assert key_hex.encode() not in stored and bytes.fromhex(key_hex) not in stored


def test_tx_sender_restart_reconciles_open_keys_and_fills_nonce_gap(bare: Devnet, tmp_path: Path) -> None:
    store_path = tmp_path / "tx.db"
    sender = make_sender(bare.w3, store_path)
    rpc(bare.w3, "evm_setAutomine", False)
    first = [sender.submit(f"k{i}", eth_transfer()) for i in range(2)]
    rpc(bare.w3, "anvil_dropAllTransactions")  # the node restarted with an empty pool
    restarted = make_sender(bare.w3, store_path)
    third = restarted.submit("k2", eth_transfer())
    assert third.nonce == 2  # past the journal's nonces, never reusing 0 and 1
    assert [r.outcome for r in restarted.reconcile_open()] == [Outcome.PENDING] * 3  # 0 and 1 rebroadcast
    rpc(bare.w3, "evm_mine")
    results = [restarted.poll(f"k{i}") for i in range(3)]
    assert [r.outcome for r in results] == [Outcome.OK] * 3
    assert [r.tx_hash for r in results[:2]] == [r.tx_hash for r in first]
    assert bare.w3.eth.get_balance(RECIPIENT) == 3 * ONE_ETH


@pytest.mark.parametrize("seed", range(int(os.environ.get("CHAIN_FUZZ_SEEDS", "8"))))  # 150 pass locally
def test_tx_sender_random_faults_converge_to_one_effect(bare: Devnet, tmp_path: Path, seed: int) -> None:
    """Random interleavings of mining, drops, base-fee spikes, time and restarts: one effect, then OK."""
    import random

    rng = random.Random(seed)
    clock = ManualClock()
    store_path = tmp_path / "tx.db"
    config = {"clock": clock, "stuck_seconds": 30, "stuck_blocks": 2, "max_fee_cap_wei": 10**13}
    sender = make_sender(bare.w3, store_path, **config)
    rpc(bare.w3, "evm_setAutomine", False)
    sender.submit("k", eth_transfer())
    for _ in range(15):
        action = rng.choice(["mine", "drop", "spike", "time", "restart", "poll", "poll"])
        if action == "mine":
            rpc(bare.w3, "evm_mine")
        elif action == "drop":
            rpc(bare.w3, "anvil_dropAllTransactions")
        elif action == "spike":
            rpc(bare.w3, "anvil_setNextBlockBaseFeePerGas", hex(rng.randint(1, 300) * 10**9))
        elif action == "time":
            clock.advance(rng.choice([5, 31, 120]))
        elif action == "restart":
            sender = make_sender(bare.w3, store_path, **config)
        sender.poll("k")
        assert bare.w3.eth.get_balance(RECIPIENT) in (0, ONE_ETH)
    rpc(bare.w3, "anvil_setNextBlockBaseFeePerGas", hex(10**9))
    for _ in range(10):  # settle
        if sender.poll("k").outcome is Outcome.OK:
            break
        rpc(bare.w3, "evm_mine")
        clock.advance(31)
    final = sender.poll("k")
    assert final.outcome is Outcome.OK
    assert final.tx_hash in {a.tx_hash for a in sender.attempts("k")}
    assert bare.w3.eth.get_balance(RECIPIENT) == ONE_ETH
    assert bare.w3.eth.get_transaction_count(sender.address) == 1

"""A journal whose nonces run ahead of the chain (the chain was reset under it): diagnosed at
start in one line, and nothing is ever signed at a nonce the chain can never reach (such a
transaction was "replaced" every few blocks up to the fee cap, then the daemon halted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.chain.tx_sender import NonceGap, TxRequest
from bot.adapters.chain.tx_store import TxStore
from bot.errors import GuardRefused
from bot.ports import Outcome
from tests.support.chain import make_sender, rpc
from tests.support.devnet import Devnet

pytestmark = pytest.mark.integration

RECIPIENT = "0x000000000000000000000000000000000000dEaD"


def _transfer() -> TxRequest:
    return TxRequest(to=RECIPIENT, value=10**18, gas=21_000, description="test transfer")


def test_a_journal_ahead_of_a_reset_chain_is_refused_at_start_and_never_signs(bare: Devnet, tmp_path: Path) -> None:
    store_path = tmp_path / "tx.db"
    sender = make_sender(bare.w3, store_path)
    before = rpc(bare.w3, "evm_snapshot")
    assert [sender.send(f"k{i}", _transfer()).outcome for i in range(2)] == [Outcome.OK] * 2
    rpc(bare.w3, "evm_revert", before)  # the chain forgets both; the journal does not
    assert bare.w3.eth.get_transaction_count(sender.address, "pending") == 0

    restarted = make_sender(bare.w3, store_path)
    with pytest.raises(NonceGap) as refused:
        restarted.reconcile_open()
    message = str(refused.value)
    assert "\n" not in message and str(store_path) in message
    assert "at nonce 2 but the chain's next nonce is 0" in message and "the journal has it OK" in message
    with pytest.raises(GuardRefused, match="refusing to sign"):
        restarted.submit("k2", _transfer())
    assert TxStore(store_path).get("k2") is None  # nothing signed, nothing to "replace" later
    assert rpc(bare.w3, "eth_getTransactionCount", restarted.address, "pending") == "0x0"


def test_nonces_held_by_transactions_still_in_flight_are_no_gap(bare: Devnet, tmp_path: Path) -> None:
    sender = make_sender(bare.w3, tmp_path / "tx.db")
    rpc(bare.w3, "evm_setAutomine", False)
    try:
        sender.submit("k0", _transfer())
        rpc(bare.w3, "anvil_dropAllTransactions")  # a pool restart: the stored bytes can still mine
        restarted = make_sender(bare.w3, tmp_path / "tx.db")
        restarted.check_nonces()
        assert restarted.submit("k1", _transfer()).nonce == 1
    finally:
        rpc(bare.w3, "evm_setAutomine", True)

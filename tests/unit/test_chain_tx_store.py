"""The persisted tx store: write-ahead records, nonce ownership, durability across reopen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.adapters.chain.tx_store import Attempt, TxRecord, TxStatus, TxStore

SENDER = "0x" + "11" * 20


def record(key: str, nonce: int, status: TxStatus = TxStatus.SIGNED) -> TxRecord:
    return TxRecord(
        key=key,
        sender=SENDER,
        chain_id=31337,
        nonce=nonce,
        to="0x" + "22" * 20,
        data="0x",
        value=1,
        gas=21_000,
        status=status,
        description="test",
    )


def attempt(key: str, tx_hash: str, index: int = 0) -> Attempt:
    return Attempt(
        tx_hash=tx_hash,
        key=key,
        index=index,
        raw_tx="0x02ab",
        max_fee_per_gas=10**20,
        max_priority_fee_per_gas=10**9,
        sent_block=7,
        sent_at=1.5,
    )


def test_tx_store_signed_record_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    TxStore(path).insert_signed(record("k", 0), attempt("k", "0xaa"))
    reopened = TxStore(path)
    assert reopened.get("k") is not None and reopened.get("k").status is TxStatus.SIGNED
    assert reopened.attempts("k") == [attempt("k", "0xaa")]  # big fee values round-trip exactly


def test_tx_store_uses_synchronous_full_and_wal(tmp_path: Path) -> None:
    store = TxStore(tmp_path / "j.sqlite")
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_tx_store_next_nonce_past_highest_live_key(tmp_path: Path) -> None:
    store = TxStore(tmp_path / "j.sqlite")
    assert store.next_nonce(SENDER, 31337) == 0
    store.insert_signed(record("a", 4), attempt("a", "0x01"))
    store.insert_signed(record("b", 5), attempt("b", "0x02"))
    assert store.next_nonce(SENDER, 31337) == 6
    assert store.next_nonce(SENDER, 1) == 0  # per chain


def test_tx_store_rejected_key_gives_its_nonce_back(tmp_path: Path) -> None:
    store = TxStore(tmp_path / "j.sqlite")
    store.insert_signed(record("a", 4), attempt("a", "0x01"))
    store.update("a", status=TxStatus.REJECTED, error="insufficient funds")
    assert store.next_nonce(SENDER, 31337) == 0
    store.insert_signed(record("b", 4), attempt("b", "0x02"))  # the nonce is reusable
    assert store.key_for_nonce(SENDER, 31337, 4) == "b"


def test_tx_store_one_live_key_per_nonce(tmp_path: Path) -> None:
    store = TxStore(tmp_path / "j.sqlite")
    store.insert_signed(record("a", 4), attempt("a", "0x01"))
    with pytest.raises(sqlite3.IntegrityError):
        store.insert_signed(record("b", 4), attempt("b", "0x02"))
    assert store.get("b") is None  # the failed insert left nothing behind


def test_tx_store_attempts_in_order_and_open_keys(tmp_path: Path) -> None:
    store = TxStore(tmp_path / "j.sqlite")
    store.insert_signed(record("a", 0), attempt("a", "0x01"))
    store.add_attempt(attempt("a", "0x02", index=1))
    store.insert_signed(record("b", 1), attempt("b", "0x03"))
    store.update("b", status=TxStatus.OK, tx_hash="0x03", block_number=9, gas_cost_wei=10**30)
    assert [a.tx_hash for a in store.attempts("a")] == ["0x01", "0x02"]
    assert store.open_keys(SENDER, 31337) == ["a"]
    assert store.get("b").gas_cost_wei == 10**30


def test_tx_store_update_rejects_unknown_columns(tmp_path: Path) -> None:
    store = TxStore(tmp_path / "j.sqlite")
    with pytest.raises(ValueError):
        store.update("a", nonce=3)

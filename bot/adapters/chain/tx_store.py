"""Persisted transaction intents and every signed attempt, in SQLite (stdlib, synchronous=FULL).

The tables live beside the journal's (same file is fine) and belong to the tx sender:

- ``chain_tx``: one row per idempotency key: sender, chain id, nonce, the call (to, data,
  value, gas), status, and the final receipt facts.
- ``chain_tx_attempt``: every signed transaction for that key's nonce, with its raw bytes and
  hash, written BEFORE it is broadcast, so a crash between signing and sending rebroadcasts the
  identical bytes instead of signing anew.

A nonce belongs to one key only (a partial unique index; a key the node refused outright,
REJECTED, gives its nonce back).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from bot.errors import UserInputError


class TxStatus(str, Enum):
    SIGNED = "SIGNED"  # persisted, broadcast not (yet) confirmed by the node
    PENDING = "PENDING"  # broadcast (or uncertain); no canonical receipt yet
    MINED = "MINED"  # receipt on the canonical chain, below the confirmation depth
    OK = "OK"
    FAILED = "FAILED"  # mined with status 0
    REJECTED = "REJECTED"  # the node refused the first broadcast: nothing happened, nonce free again
    NEEDS_REVIEW = "NEEDS_REVIEW"  # our nonce was consumed by a transaction we never signed

    @property
    def terminal(self) -> bool:
        return self in (TxStatus.OK, TxStatus.FAILED, TxStatus.REJECTED, TxStatus.NEEDS_REVIEW)


@dataclass(frozen=True, slots=True)
class TxRecord:
    key: str
    sender: str
    chain_id: int
    nonce: int
    to: str
    data: str  # 0x-hex
    value: int
    gas: int
    status: TxStatus
    description: str = ""
    tx_hash: str | None = None  # the hash that was mined
    block_number: int | None = None
    block_hash: str | None = None
    gas_used: int | None = None
    gas_cost_wei: int | None = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Attempt:
    tx_hash: str
    key: str
    index: int  # 0 = first signature, 1.. = replacements
    raw_tx: str  # 0x-hex of the signed bytes
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    sent_block: int  # chain head when it was (first) sent
    sent_at: float
    broadcast: str = "pending"  # pending | ok | unknown | rejected: <node message>

    @property
    def rejected(self) -> bool:
        return self.broadcast.startswith("rejected")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS chain_tx (
    key TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    chain_id INTEGER NOT NULL,
    nonce INTEGER NOT NULL,
    to_addr TEXT NOT NULL,
    data TEXT NOT NULL,
    value TEXT NOT NULL,
    gas INTEGER NOT NULL,
    status TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tx_hash TEXT,
    block_number INTEGER,
    block_hash TEXT,
    gas_used INTEGER,
    gas_cost_wei TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS chain_tx_nonce ON chain_tx (sender, chain_id, nonce)
    WHERE status != 'REJECTED';
CREATE TABLE IF NOT EXISTS chain_tx_attempt (
    tx_hash TEXT PRIMARY KEY,
    key TEXT NOT NULL REFERENCES chain_tx (key),
    idx INTEGER NOT NULL,
    raw_tx TEXT NOT NULL,
    max_fee_per_gas TEXT NOT NULL,
    max_priority_fee_per_gas TEXT NOT NULL,
    sent_block INTEGER NOT NULL,
    sent_at REAL NOT NULL,
    broadcast TEXT NOT NULL,
    UNIQUE (key, idx)
);
"""

_RECORD_COLUMNS = {
    "status",
    "description",
    "tx_hash",
    "block_number",
    "block_hash",
    "gas_used",
    "gas_cost_wei",
    "error",
}


class TxStore:
    """One connection, serialised by a lock; every commit is fsynced (``synchronous=FULL``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._create_tables()

    def _create_tables(self) -> None:
        """Create the tables in a new file; in a journal that had them, refuse to recreate a
        dropped one (its nonces and signed bytes would be forgotten). The journal's ``meta``
        table, when present, remembers that the tables were made."""
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        made = "meta" in tables and self._db.execute("SELECT 1 FROM meta WHERE key='tx_store'").fetchone()
        missing = sorted({"chain_tx", "chain_tx_attempt"} - tables)
        if made and missing:
            self._db.close()
            raise UserInputError(
                f"journal {self.path} is damaged: table {', '.join(missing)} is missing; restore it from a backup, "
                f"or `delever run --new-journal` moves it aside to {self.path.name}.<tag>.bak and starts a new one"
            )
        self._db.executescript(_SCHEMA)
        if "meta" in tables and not made:
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('tx_store', '1')")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reads -----------------------------------------------------------------------------
    def get(self, key: str) -> TxRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM chain_tx WHERE key = ?", (key,)).fetchone()
            return _record(row, self._columns("chain_tx")) if row else None

    def attempts(self, key: str) -> list[Attempt]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM chain_tx_attempt WHERE key = ? ORDER BY idx", (key,)).fetchall()
            cols = self._columns("chain_tx_attempt")
            return [_attempt(r, cols) for r in rows]

    def next_nonce(self, sender: str, chain_id: int) -> int:
        """One past the highest nonce any live key holds (0 when none)."""
        with self._lock:
            (top,) = self._db.execute(
                "SELECT MAX(nonce) FROM chain_tx WHERE sender = ? AND chain_id = ? AND status != 'REJECTED'",
                (sender, chain_id),
            ).fetchone()
            return 0 if top is None else top + 1

    def open_keys(self, sender: str, chain_id: int) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key FROM chain_tx WHERE sender = ? AND chain_id = ? AND status IN ('SIGNED','PENDING','MINED')"
                " ORDER BY nonce",
                (sender, chain_id),
            ).fetchall()
            return [r[0] for r in rows]

    def live_nonces(self, sender: str, chain_id: int, from_nonce: int) -> dict[int, TxStatus]:
        """The status of every non-REJECTED key at nonce ``from_nonce`` or above, by nonce."""
        with self._lock:
            rows = self._db.execute(
                "SELECT nonce, status FROM chain_tx WHERE sender = ? AND chain_id = ? AND nonce >= ?"
                " AND status != 'REJECTED'",
                (sender, chain_id, from_nonce),
            ).fetchall()
            return {int(n): TxStatus(status) for n, status in rows}

    def key_for_nonce(self, sender: str, chain_id: int, nonce: int) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key FROM chain_tx WHERE sender = ? AND chain_id = ? AND nonce = ? AND status != 'REJECTED'",
                (sender, chain_id, nonce),
            ).fetchone()
            return row[0] if row else None

    def sent_hashes(self, sender: str, chain_id: int) -> frozenset[str]:
        """Every hash ever signed for ``sender`` on ``chain_id`` (replacements included)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.tx_hash FROM chain_tx_attempt a JOIN chain_tx t ON t.key = a.key "
                "WHERE t.sender = ? AND t.chain_id = ?",
                (sender, chain_id),
            ).fetchall()
            return frozenset(str(r[0]).lower() for r in rows)

    # -- writes (each one transaction, fsynced) ----------------------------------------------
    def insert_signed(self, record: TxRecord, attempt: Attempt) -> None:
        now = time.time()
        with self._lock, self._tx():
            self._db.execute(
                "INSERT INTO chain_tx (key, sender, chain_id, nonce, to_addr, data, value, gas, status, description,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.key,
                    record.sender,
                    record.chain_id,
                    record.nonce,
                    record.to,
                    record.data,
                    str(record.value),
                    record.gas,
                    record.status.value,
                    record.description,
                    now,
                    now,
                ),
            )
            self._insert_attempt(attempt)

    def add_attempt(self, attempt: Attempt) -> None:
        with self._lock, self._tx():
            self._insert_attempt(attempt)
            self._db.execute("UPDATE chain_tx SET updated_at = ? WHERE key = ?", (time.time(), attempt.key))

    def set_broadcast(
        self, tx_hash: str, broadcast: str, *, sent_block: int | None = None, sent_at: float | None = None
    ) -> None:
        with self._lock, self._tx():
            self._db.execute(
                "UPDATE chain_tx_attempt SET broadcast = ?, sent_block = COALESCE(?, sent_block),"
                " sent_at = COALESCE(?, sent_at) WHERE tx_hash = ?",
                (broadcast, sent_block, sent_at, tx_hash),
            )

    def update(self, key: str, **fields: Any) -> None:
        unknown = set(fields) - _RECORD_COLUMNS
        if unknown:
            raise ValueError(f"unknown chain_tx fields {sorted(unknown)}")
        values = {
            k: (v.value if isinstance(v, Enum) else str(v) if k == "gas_cost_wei" and v is not None else v)
            for k, v in fields.items()
        }
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self._lock, self._tx():
            self._db.execute(
                f"UPDATE chain_tx SET {assignments}, updated_at = ? WHERE key = ?",  # noqa: S608 - fixed column names
                (*values.values(), time.time(), key),
            )

    # -- helpers -------------------------------------------------------------------------------
    def _insert_attempt(self, a: Attempt) -> None:
        self._db.execute(
            "INSERT INTO chain_tx_attempt (tx_hash, key, idx, raw_tx, max_fee_per_gas, max_priority_fee_per_gas,"
            " sent_block, sent_at, broadcast) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                a.tx_hash,
                a.key,
                a.index,
                a.raw_tx,
                str(a.max_fee_per_gas),
                str(a.max_priority_fee_per_gas),
                a.sent_block,
                a.sent_at,
                a.broadcast,
            ),
        )

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    def _columns(self, table: str) -> list[str]:
        return [r[1] for r in self._db.execute(f"PRAGMA table_info({table})")]


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _record(row: tuple[Any, ...], cols: list[str]) -> TxRecord:
    d = dict(zip(cols, row, strict=True))
    return TxRecord(
        key=d["key"],
        sender=d["sender"],
        chain_id=d["chain_id"],
        nonce=d["nonce"],
        to=d["to_addr"],
        data=d["data"],
        value=int(d["value"]),
        gas=d["gas"],
        status=TxStatus(d["status"]),
        description=d["description"],
        tx_hash=d["tx_hash"],
        block_number=d["block_number"],
        block_hash=d["block_hash"],
        gas_used=d["gas_used"],
        gas_cost_wei=int(d["gas_cost_wei"]) if d["gas_cost_wei"] is not None else None,
        error=d["error"],
        created_at=d["created_at"],
        updated_at=d["updated_at"],
    )


def _attempt(row: tuple[Any, ...], cols: list[str]) -> Attempt:
    d = dict(zip(cols, row, strict=True))
    return Attempt(
        tx_hash=d["tx_hash"],
        key=d["key"],
        index=d["idx"],
        raw_tx=d["raw_tx"],
        max_fee_per_gas=int(d["max_fee_per_gas"]),
        max_priority_fee_per_gas=int(d["max_priority_fee_per_gas"]),
        sent_block=d["sent_block"],
        sent_at=d["sent_at"],
        broadcast=d["broadcast"],
    )

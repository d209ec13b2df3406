"""The write-ahead journal: SQLite (stdlib), WAL, ``synchronous=FULL``, one writer.

Every side effect is journalled as a *step* of a *batch*: its intent (with a deterministic
idempotency key) is committed and fsynced before the engine acts, its outcome after. A
restart reads the journal and resumes whatever is not terminal.

Schema (version 1):

- ``meta(key, value)``: ``schema_version``, ``journal_tag`` (random, made once; it prefixes
  batch ids so two journals never share an idempotency key), ``next_batch_seq``, ``hold`` (the
  target HF the daemon carries, with ``engine.hold_to_target``); once bound, ``mode``,
  ``chain_id`` and ``genesis_hash`` (block 0 of the chain it was written on).
- ``batches(id, seq, status, spec, start, outcome, created_at, updated_at)``: status OPEN →
  DONE | FAILED | HALTED.
- ``steps(batch_id, step, key, status, attempts, intent, outcome, error, created_at,
  updated_at)``: status PENDING → OK | FAILED | UNKNOWN | SKIPPED | NEEDS_REVIEW.
- ``events(id, ts, batch_id, step, kind, detail)``: append-only audit trail of transitions.
- ``control(id=1, state, reason, since)``: NORMAL | REDUCE_ONLY | HALTED, survives restarts.

Payloads are JSON with ints and Decimal strings; they never hold secrets (the engine only
ever hands amounts, symbols, addresses and hashes to the journal).

A journal never silently starts afresh: opening an existing file checks it first (a WAL that
SQLite would drop, a missing table, ``PRAGMA quick_check``) and refuses a damaged one
(``JournalCorrupt``); tables are created only in a new file. The WAL is checkpointed after each
batch closes and at a clean close, so the main file holds the committed state.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from bot.engine import journal_files, journal_schema
from bot.engine.journal_files import WalletClaim, WalletRecord
from bot.engine.journal_files import WalletLocked as WalletLocked
from bot.errors import DeleverError, UserInputError
from bot.ports import Clock

SCHEMA_VERSION = journal_schema.SCHEMA_VERSION
MEMORY = ":memory:"  # the path of a journal that lives in memory only (backtests)


class JournalLocked(DeleverError):
    """Another process holds the journal: a second daemon must not start."""


class JournalCorrupt(UserInputError):
    """The file is damaged (a WAL SQLite would drop, a missing table, ``quick_check`` failed) or
    its schema is from an unknown version: a human decides (restore it, or ``run --new-journal``)."""


class JournalOfAnotherChain(UserInputError):
    """The journal was written on another chain (genesis block) than the RPC serves."""


NEW_JOURNAL_HINT = "`delever run --new-journal` moves it aside to {name}.<tag>.bak and starts a new one"


class StepStatus(str, Enum):
    PENDING = "PENDING"  # intent written; the act may or may not have happened
    OK = "OK"
    FAILED = "FAILED"  # refused for good: nothing (more) happened
    UNKNOWN = "UNKNOWN"  # a write may have happened: reconcile by key before anything else
    SKIPPED = "SKIPPED"  # nothing to do (zero amount, guard chose repay-only)
    NEEDS_REVIEW = "NEEDS_REVIEW"

    @property
    def terminal(self) -> bool:
        return self in (StepStatus.OK, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.NEEDS_REVIEW)


class BatchStatus(str, Enum):
    OPEN = "OPEN"
    DONE = "DONE"
    FAILED = "FAILED"  # stopped safely; what moved stays accounted for the next plan
    HALTED = "HALTED"  # needs a human


class ControlState(str, Enum):
    NORMAL = "NORMAL"
    REDUCE_ONLY = "REDUCE_ONLY"  # repays only: no withdraw, no sell of fresh collateral
    HALTED = "HALTED"  # nothing at all until a human clears it


@dataclass(frozen=True, slots=True)
class StepRow:
    batch_id: str
    step: str
    key: str
    status: StepStatus
    attempts: int
    intent: dict[str, Any]
    outcome: dict[str, Any] | None
    error: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: str
    seq: int
    status: BatchStatus
    spec: dict[str, Any]
    start: dict[str, Any]
    outcome: dict[str, Any] | None
    created_at: float
    updated_at: float


def to_json(payload: dict[str, Any] | None) -> str | None:
    if payload is None:
        return None
    return _ENCODER.encode(payload)


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not journal-serialisable: {type(value).__name__}")


# What ``json.dumps(payload, default=_encode, sort_keys=True, separators=(",", ":"))`` builds at
# every call, built once (an encoder holds only these settings; every write encodes a payload).
_ENCODER = json.JSONEncoder(default=_encode, sort_keys=True, separators=(",", ":"))


def _from_json(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json.loads(text)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, status TEXT NOT NULL,
    spec TEXT NOT NULL, start TEXT NOT NULL, outcome TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS steps (
    batch_id TEXT NOT NULL REFERENCES batches(id), step TEXT NOT NULL, key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    intent TEXT NOT NULL, outcome TEXT, error TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (batch_id, step));
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, batch_id TEXT, step TEXT,
    kind TEXT NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS control (
    id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, reason TEXT, since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sends (op_id TEXT PRIMARY KEY, sent_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS steps_by_status ON steps(status);
CREATE INDEX IF NOT EXISTS batches_by_status ON batches(status);
"""


class Journal:
    """One writer per journal file, enforced by ``flock`` on ``<resolved path>.lock`` (a symlink
    to the file takes the same lock)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock,
        lock: bool = True,
        redact: Callable[[str], str] | None = None,
        tag: str | None = None,
        read_only: bool = False,
        _lock_fd: int | None = None,
    ) -> None:
        # ":memory:" (backtests): nothing on disk, so no lock file, no WAL and no fsync.
        in_memory = str(path) == MEMORY
        self.path = Path(path) if in_memory else Path(path).expanduser().resolve()
        self._clock = clock
        if read_only:
            self._open_read_only()
            return
        # Adapters' error texts land in the journal: mask known secrets on the way in.
        self._redact = redact or (lambda text: text)
        self._new_tag = tag  # a fixed tag for a new journal (backtests: reproducible keys); None: random
        self._tag: str | None = None
        self._wallet: WalletClaim | None = None
        self.created = in_memory  # True when this open made a new journal (the file was absent or empty)
        if not in_memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = _lock_fd
        if lock and not in_memory and _lock_fd is None:
            self._lock_fd = _acquire_lock(self.lock_path(self.path))
        try:
            if not in_memory:
                self.created = journal_files.is_new(self.path)
                wal = journal_files.sidecars(self.path)[0]
                if self.created and wal.exists() and wal.stat().st_size > 0:
                    damage: str | None = f"its main file is empty but its WAL holds {wal.stat().st_size} bytes"
                else:
                    damage = None if self.created else journal_files.wal_damage(wal)
                if damage:
                    raise JournalCorrupt(self._damaged(damage))
                if self.created:
                    journal_files.create_atomically(self.path, self._build_new)
                journal_files.make_private(self.path)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, one transaction per transition.
            self._db = sqlite3.connect(
                str(path) if in_memory else str(self.path), isolation_level=None, check_same_thread=False
            )
            if not in_memory:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=5000")
            if not self.created:
                self._check_existing()
            self._init_schema()
        except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed", ...
            self.close()
            raise JournalCorrupt(self._damaged(f"SQLite cannot read it ({exc})")) from None
        except BaseException:
            self.close()
            raise

    def _open_read_only(self) -> None:
        """A reader beside the daemon (``history``, ``status``): no writer lock, no schema made,
        every write refused by SQLite; WAL lets it read while the writer commits."""
        self._redact = lambda text: text
        self._new_tag = None
        self._tag = None
        self._lock_fd = None
        self._wallet = None
        self.created = False
        if not self.path.is_file():
            raise FileNotFoundError(f"no journal at {self.path}")
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=5000")
        try:
            version = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError:
            version = None
        if version is None or int(version[0]) not in journal_schema.READABLE_VERSIONS:
            self.close()
            raise JournalCorrupt(f"{self.path} is not a delever journal of schema version {SCHEMA_VERSION}")

    @staticmethod
    def lock_path(path: Path) -> Path:
        resolved = path.expanduser().resolve()
        return resolved.with_name(resolved.name + ".lock")

    def _check_existing(self) -> None:
        """An existing file must hold every table and pass ``quick_check``: never recreate a
        dropped table (a batch would be re-run from its first step)."""
        present = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        required = journal_schema.required_tables(journal_schema.stored_version(self._db))
        missing = [t for t in required if t not in present]
        if missing:
            raise JournalCorrupt(self._damaged(f"table {', '.join(missing)} is missing"))
        verdict = str(self._db.execute("PRAGMA quick_check").fetchone()[0])
        if verdict != "ok":
            raise JournalCorrupt(self._damaged(f"quick_check says {verdict!r}"))

    def _damaged(self, why: str) -> str:
        return f"journal {self.path} is damaged: {why}; restore it from a backup, or " + NEW_JOURNAL_HINT.format(
            name=self.path.name
        )

    # ---- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            if self._lock_fd is not None:
                self.checkpoint()  # the writer leaves the committed state in the main file
            db.close()
            self._db = None  # type: ignore[assignment]
        if self._wallet is not None:
            self._wallet.release()
            self._wallet = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def checkpoint(self, *, wait: bool = True) -> None:
        """Copy the WAL's committed pages into the main file; ``wait``: also truncate the WAL,
        waiting (``busy_timeout``) for readers. Without waiting, a reader holding a snapshot can
        make it partial; the rest follows at the next one."""
        if str(self.path) != MEMORY and self._db is not None:
            try:
                self._db.execute(f"PRAGMA wal_checkpoint({'TRUNCATE' if wait else 'PASSIVE'})").fetchone()
            except sqlite3.DatabaseError:  # busy (the WAL still holds everything, durably), or unreadable
                pass

    @classmethod
    def replace(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Clock,
        redact: Callable[[str], str] | None = None,
        may_replace: Callable[[Journal | None], None] = lambda old: None,
    ) -> tuple[Journal, Path | None]:
        """``run --new-journal``: under the journal's lock, move the journal at ``path`` aside
        (``<name>.<tag>.bak``; a damaged one too) and open a new one. ``may_replace`` sees the
        old journal (None when it is damaged) and raises to refuse. Returns (new, where the old went)."""
        resolved = Path(path).expanduser().resolve()
        resolved.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire_lock(cls.lock_path(resolved))
        try:
            moved: Path | None = None
            if resolved.exists() and resolved.stat().st_size > 0:
                try:
                    old: Journal | None = cls(resolved, clock=clock, lock=False)
                except JournalCorrupt:
                    old = None
                tag = "damaged"
                if old is not None:
                    with old:
                        may_replace(old)
                        tag = old.tag
                        old.checkpoint()
                else:
                    may_replace(None)
                moved = journal_files.move_aside(resolved, tag)
        except BaseException:
            os.close(fd)
            raise
        return cls(resolved, clock=clock, redact=redact, _lock_fd=fd), moved  # owns fd, closes it on failure

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")  # synchronous=FULL: the WAL is fsynced before COMMIT returns

    def _build_new(self, db: sqlite3.Connection) -> None:
        """A new journal's tables and first rows, written into its staging file."""
        db.executescript(_SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        self._insert_first_rows(db)
        db.execute("COMMIT")

    def _insert_first_rows(self, db: sqlite3.Connection) -> None:
        now = self._clock.now()
        db.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?)",
            [
                ("schema_version", str(SCHEMA_VERSION)),
                ("journal_tag", self._new_tag or secrets.token_hex(3)),
                ("next_batch_seq", "1"),
                ("created_at", repr(now)),
            ],
        )
        db.execute(
            "INSERT INTO control(id, state, reason, since) VALUES (1, ?, NULL, ?)",
            (ControlState.NORMAL.value, now),
        )

    def _init_schema(self) -> None:
        # A new file got its tables before it appeared (``create_atomically``); an in-memory
        # journal gets them here (executescript commits implicitly; every statement is IF NOT
        # EXISTS). An existing one passed ``_check_existing``.
        if self.created and str(self.path) == MEMORY:
            self._db.executescript(_SCHEMA)
        with self._tx() as db:
            version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if version is None:
                self._insert_first_rows(db)
            elif int(version[0]) in journal_schema.READABLE_VERSIONS and int(version[0]) < SCHEMA_VERSION:
                for line in journal_schema.migrate(db, int(version[0])):
                    self._event(db, None, None, "migrated", line)
            elif int(version[0]) != SCHEMA_VERSION:
                raise JournalCorrupt(f"journal schema version {version[0]} is not {SCHEMA_VERSION}")
            for index in journal_schema.READ_INDEXES:
                db.execute(index)
            # From now on every keyed venue write is recorded in ``sends`` before it is sent.
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('sends_since', ?)", (repr(self._clock.now()),))

    def integrity_check(self) -> str:
        """Return ``"ok"`` or SQLite's first complaint."""
        row = self._db.execute("PRAGMA integrity_check").fetchone()
        return str(row[0])

    # ---- meta / control --------------------------------------------------------------------

    @property
    def tag(self) -> str:
        # Written once with the first rows and never changed: read once (each batch id holds it).
        if self._tag is None:
            self._tag = str(self._db.execute("SELECT value FROM meta WHERE key='journal_tag'").fetchone()[0])
        return self._tag

    def control(self) -> tuple[ControlState, str | None]:
        state, reason = self._db.execute("SELECT state, reason FROM control WHERE id=1").fetchone()
        return ControlState(state), reason

    def set_control(self, state: ControlState, reason: str | None) -> None:
        """Only ever escalates (NORMAL < REDUCE_ONLY < HALTED); use ``clear_control`` to lower."""
        order = [ControlState.NORMAL, ControlState.REDUCE_ONLY, ControlState.HALTED]
        current, _ = self.control()
        if order.index(state) <= order.index(current):
            return
        with self._tx() as db:
            db.execute(
                "UPDATE control SET state=?, reason=?, since=? WHERE id=1",
                (state.value, self._safe(reason), self._clock.now()),
            )
            self._event(db, None, None, f"control:{state.value}", reason)

    def clear_control(self, *, by: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE control SET state=?, reason=NULL, since=? WHERE id=1",
                (ControlState.NORMAL.value, self._clock.now()),
            )
            self._event(db, None, None, "control:CLEARED", by)

    def bind(self, *, mode: str, chain_id: int, genesis_hash: str | None = None) -> None:
        """Tie the journal to one mode and one chain on first use; refuse any other later
        (a dry-run must never resume a live batch, nor a journal move between chains). A chain
        is its chain id *and* its genesis block: a restarted devnet keeps the id, not the
        genesis. A journal bound before genesis hashes were recorded adopts the current one only
        while it holds no batch and no step (nothing could belong to another chain yet)."""
        with self._tx() as db:
            for key, value in (("mode", mode), ("chain_id", str(chain_id))):
                row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
                if row is None:
                    db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (key, value))
                elif row[0] != value:
                    raise UserInputError(
                        f"journal {self.path} belongs to {key} {row[0]}, not {value}: use another journal.path"
                    )
            if genesis_hash is None:
                return
            genesis_hash = genesis_hash.lower()
            row = db.execute("SELECT value FROM meta WHERE key='genesis_hash'").fetchone()
            if row is None:
                used = db.execute("SELECT (SELECT COUNT(*) FROM batches) + (SELECT COUNT(*) FROM steps)").fetchone()[0]
                if used and db.execute("SELECT COUNT(*) FROM meta WHERE key='mode'").fetchone()[0]:
                    raise JournalOfAnotherChain(
                        f"journal {self.path} holds {used} batch/step rows from before chains were recorded by "
                        f"genesis block, so it cannot tell whether they were on this chain; "
                        + NEW_JOURNAL_HINT.format(name=self.path.name)
                    )
                db.execute("INSERT INTO meta(key, value) VALUES ('genesis_hash', ?)", (genesis_hash,))
            elif row[0] != genesis_hash:
                raise JournalOfAnotherChain(
                    f"journal {self.path} was written on another chain (chain id {chain_id}, genesis "
                    f"{row[0][:10]}…, not {genesis_hash[:10]}…; a restarted devnet is a new chain): "
                    + NEW_JOURNAL_HINT.format(name=self.path.name)
                )

    def binding(self) -> dict[str, str]:
        """What the journal is bound to: ``mode``, ``chain_id``, ``genesis_hash`` (those set)."""
        rows = self._db.execute("SELECT key, value FROM meta WHERE key IN ('mode', 'chain_id', 'genesis_hash')")
        return {str(k): str(v) for k, v in rows}

    def claim_wallet(self, directory: Path, *, chain_id: int, wallet: str) -> WalletRecord | None:
        """Take the per-(chain id, wallet) lock (released on ``close``; ``WalletLocked`` when
        another process holds it) and return the record of the journal that last signed for
        this wallet, if any (``remember_wallet`` replaces it once the caller accepts this one)."""
        if self._wallet is None:
            self._wallet = WalletClaim(directory, chain_id=chain_id, wallet=wallet, journal=self.path)
        return self._wallet.record()

    def remember_wallet(self, genesis_hash: str) -> None:
        """Record this journal as the one that signs for the claimed wallet on this chain."""
        assert self._wallet is not None, "claim_wallet first"
        claim = self._wallet
        record = WalletRecord(claim.chain_id, claim.wallet, genesis_hash.lower(), str(self.path), self.tag)
        if claim.record() != record:
            claim.write_record(record)

    def is_empty(self) -> bool:
        """No batch and no step: nothing was ever journalled."""
        row = self._db.execute("SELECT (SELECT COUNT(*) FROM batches) + (SELECT COUNT(*) FROM steps)").fetchone()
        return int(row[0]) == 0

    # ---- the held target (engine.hold_to_target) ---------------------------------------------

    def hold(self) -> dict[str, Any] | None:
        """The restore-to-target the daemon carries until HF reaches it (meta key ``hold``)."""
        row = self._db.execute("SELECT value FROM meta WHERE key='hold'").fetchone()
        return _from_json(row[0]) if row is not None else None

    def set_hold(self, payload: dict[str, Any] | None) -> None:
        """Set (a payload) or release (None) the held target; audited in ``events``."""
        with self._tx() as db:
            if payload is None:
                db.execute("DELETE FROM meta WHERE key='hold'")
            else:
                db.execute(
                    "INSERT INTO meta(key, value) VALUES ('hold', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (to_json(payload),),
                )
            self._event(db, None, None, "hold:set" if payload is not None else "hold:released", to_json(payload))

    def marked(self, key: str) -> bool:
        """Whether ``mark(key)`` was ever called on this journal (one-time checks at start)."""
        return self._db.execute("SELECT 1 FROM meta WHERE key=?", (f"mark:{key}",)).fetchone() is not None

    def mark(self, key: str, detail: str) -> None:
        """Record once that ``key`` happened (``detail``: why, audited in ``events``)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (f"mark:{key}", repr(self._clock.now())))
            self._event(db, None, None, f"mark:{key}", detail)

    def noted(self, key: str) -> dict[str, Any] | None:
        """The value last given to ``note(key, …)``, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (f"note:{key}",)).fetchone()
        return _from_json(row[0]) if row is not None else None

    def note(self, key: str, value: dict[str, Any]) -> None:
        """Keep a small piece of the daemon's own state (replaced on each call, not audited)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (f"note:{key}", to_json(value)),
            )

    # ---- batches ---------------------------------------------------------------------------

    def peek_next_batch_id(self) -> str:
        seq = int(self._db.execute("SELECT value FROM meta WHERE key='next_batch_seq'").fetchone()[0])
        return f"{self.tag}-{seq}"

    def open_batch(self, *, spec: dict[str, Any], start: dict[str, Any]) -> str:
        """Allocate the next batch id (the counter is persisted in the same transaction)."""
        now = self._clock.now()
        with self._tx() as db:
            seq = int(db.execute("SELECT value FROM meta WHERE key='next_batch_seq'").fetchone()[0])
            batch_id = f"{self.tag}-{seq}"
            db.execute("UPDATE meta SET value=? WHERE key='next_batch_seq'", (str(seq + 1),))
            db.execute(
                "INSERT INTO batches(id, seq, status, spec, start, outcome, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                (
                    batch_id,
                    seq,
                    BatchStatus.OPEN.value,
                    self._safe(to_json(spec)),
                    self._safe(to_json(start)),
                    now,
                    now,
                ),
            )
            self._event(db, batch_id, None, "batch:OPEN", None)
        return batch_id

    def close_batch(self, batch_id: str, status: BatchStatus, outcome: dict[str, Any] | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE batches SET status=?, outcome=?, updated_at=? WHERE id=?",
                (status.value, self._safe(to_json(outcome)), self._clock.now(), batch_id),
            )
            self._event(db, batch_id, None, f"batch:{status.value}", None)
        self.checkpoint(wait=False)  # a closed batch lives in the main file, not only in the WAL

    def batch(self, batch_id: str) -> BatchRow:
        row = self._db.execute("SELECT * FROM batches WHERE id=?", (batch_id,)).fetchone()
        if row is None:
            raise KeyError(batch_id)
        return _batch_row(row)

    def batches(self, status: BatchStatus | None = None) -> list[BatchRow]:
        if status is None:
            rows = self._db.execute("SELECT * FROM batches ORDER BY seq").fetchall()
        else:
            rows = self._db.execute("SELECT * FROM batches WHERE status=? ORDER BY seq", (status.value,)).fetchall()
        return [_batch_row(r) for r in rows]

    def open_batches(self) -> list[BatchRow]:
        return self.batches(BatchStatus.OPEN)

    def batches_after(self, seq: int) -> list[BatchRow]:
        """The batches opened after the one numbered ``seq`` (any status), oldest first."""
        rows = self._db.execute("SELECT * FROM batches WHERE seq>? ORDER BY seq", (seq,)).fetchall()
        return [_batch_row(r) for r in rows]

    def last_batch_finished_at(self) -> float | None:
        # 'OPEN' a literal, as in the partial index that answers it (``journal_schema.READ_INDEXES``).
        row = self._db.execute("SELECT MAX(updated_at) FROM batches WHERE status != 'OPEN'").fetchone()
        return None if row[0] is None else float(row[0])

    # ---- steps -----------------------------------------------------------------------------

    def write_intent(self, batch_id: str, step: str, *, key: str, intent: dict[str, Any]) -> StepRow:
        """Commit the intent (status PENDING) before acting. Fails if the step already exists.
        Returns the row as committed (the caller need not read it back)."""
        now = self._clock.now()
        with self._tx() as db:
            row = db.execute(
                "INSERT INTO steps(batch_id, step, key, status, attempts, intent, outcome, error, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 0, ?, NULL, NULL, ?, ?) RETURNING *",
                (batch_id, step, key, StepStatus.PENDING.value, self._safe(to_json(intent)), now, now),
            ).fetchall()[0]
            self._event(db, batch_id, step, "intent", None)
        return _step_row(row)

    def record_attempt(self, batch_id: str, step: str) -> int:
        """Count an attempt before acting: the count says how many acts may have reached the venue."""
        with self._tx() as db:
            rows = db.execute(
                "UPDATE steps SET attempts = attempts + 1, updated_at=? WHERE batch_id=? AND step=? RETURNING attempts",
                (self._clock.now(), batch_id, step),
            ).fetchall()
            if len(rows) != 1:
                raise KeyError(f"no step {batch_id}:{step}")
        return int(rows[0][0])

    def write_outcome(
        self,
        batch_id: str,
        step: str,
        status: StepStatus,
        *,
        outcome: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> StepRow:
        """Commit the step's outcome; returns the row as committed."""
        with self._tx() as db:
            rows = db.execute(
                "UPDATE steps SET status=?, outcome=COALESCE(?, outcome), error=?, updated_at=? WHERE batch_id=? AND step=?"
                " RETURNING *",
                (status.value, self._safe(to_json(outcome)), self._safe(error), self._clock.now(), batch_id, step),
            ).fetchall()
            if len(rows) != 1:
                raise KeyError(f"no step {batch_id}:{step}")
            self._event(db, batch_id, step, status.value, error)
        return _step_row(rows[0])

    def mark_for_reconcile(self, batch_id: str, step: str, *, by: str) -> None:
        """After a review: set a NEEDS_REVIEW step back to UNKNOWN so the next start looks it
        up by key again (it is never re-sent blind)."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE steps SET status=?, updated_at=? WHERE batch_id=? AND step=? AND status=?",
                (StepStatus.UNKNOWN.value, self._clock.now(), batch_id, step, StepStatus.NEEDS_REVIEW.value),
            )
            if cursor.rowcount != 1:
                raise KeyError(f"no step {batch_id}:{step} awaiting review")
            db.execute("UPDATE steps SET attempts = MAX(attempts, 1) WHERE batch_id=? AND step=?", (batch_id, step))
            self._event(db, batch_id, step, "review:RECONCILE", by)

    def step(self, batch_id: str, step: str) -> StepRow | None:
        row = self._db.execute("SELECT * FROM steps WHERE batch_id=? AND step=?", (batch_id, step)).fetchone()
        return None if row is None else _step_row(row)

    def steps(self, batch_id: str | None = None) -> list[StepRow]:
        if batch_id is None:
            rows = self._db.execute("SELECT * FROM steps ORDER BY created_at, rowid").fetchall()
        else:
            rows = self._db.execute("SELECT * FROM steps WHERE batch_id=? ORDER BY rowid", (batch_id,)).fetchall()
        return [_step_row(r) for r in rows]

    def ok_outcomes_between(self, step: str, start: float, end: float) -> list[dict[str, Any]]:
        """The outcomes of ``step`` rows that finished OK in [start, end), oldest first."""
        rows = self._db.execute(
            "SELECT outcome FROM steps WHERE step=? AND status=? AND updated_at >= ? AND updated_at < ?"
            " ORDER BY updated_at, rowid",
            (step, StepStatus.OK.value, start, end),
        )
        return [payload for (outcome,) in rows if (payload := _from_json(outcome)) is not None]

    def ok_outcome_field_between(self, step: str, field: str, start: float, end: float) -> list[Any]:
        """One top-level ``field`` of the outcomes ``ok_outcomes_between`` returns, same rows and
        order; None where an outcome lacks it. SQLite's ``json_extract`` hands a JSON string back
        as its exact text: the daily cap reads one amount a sell, not its whole outcome."""
        # The step as a literal: SQLite then plans once for the sells' partial index
        # (``journal_schema.READ_INDEXES``); a bound step is planned again at every call.
        if not step.isidentifier():
            raise ValueError(f"not a step name: {step!r}")
        rows = self._db.execute(
            f"SELECT json_extract(outcome, ?) FROM steps WHERE step='{step}' AND status=?"
            " AND updated_at >= ? AND updated_at < ? AND outcome IS NOT NULL ORDER BY updated_at, rowid",
            (f"$.{field}", StepStatus.OK.value, start, end),
        )
        return [value for (value,) in rows]

    # ---- when each keyed venue write was last sent (survives restarts) ----------------------

    def note_send(self, op_id: str, at: float) -> None:
        """Record, durably and before it is sent, that the write ``op_id`` goes out at ``at``."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO sends(op_id, sent_at) VALUES (?, ?)"
                " ON CONFLICT(op_id) DO UPDATE SET sent_at = MAX(sent_at, excluded.sent_at)",
                (op_id, at),
            )

    def last_send(self, op_id: str) -> float | None:
        row = self._db.execute("SELECT sent_at FROM sends WHERE op_id=?", (op_id,)).fetchone()
        return None if row is None else float(row[0])

    def sends_recorded_since(self) -> float:
        return float(self._db.execute("SELECT value FROM meta WHERE key='sends_since'").fetchone()[0])

    def events(self) -> list[tuple[float, str | None, str | None, str, str | None]]:
        return [tuple(r) for r in self._db.execute("SELECT ts, batch_id, step, kind, detail FROM events ORDER BY id")]

    def events_after(
        self, after: int, *, limit: int = 500
    ) -> list[tuple[int, float, str | None, str | None, str, str | None]]:
        """(id, ts, batch_id, step, kind, detail) of the events with id > ``after``, oldest first;
        at most the newest ``limit`` of them (ids only grow: an id is a reader's cursor)."""
        rows = self._db.execute(
            "SELECT id, ts, batch_id, step, kind, detail FROM events WHERE id > ? ORDER BY id DESC LIMIT ?",
            (after, limit),
        ).fetchall()
        return [tuple(r) for r in reversed(rows)]

    def dump_text(self) -> str:
        """Every row of every table as text (for audits and the no-secrets test)."""
        lines = []
        for table in ("meta", "batches", "steps", "events", "control"):
            for row in self._db.execute(f"SELECT * FROM {table}"):  # noqa: S608 - fixed table names
                lines.append(f"{table}: {row!r}")
        return "\n".join(lines)

    def _event(
        self, db: sqlite3.Connection, batch_id: str | None, step: str | None, kind: str, detail: str | None
    ) -> None:
        db.execute(
            "INSERT INTO events(ts, batch_id, step, kind, detail) VALUES (?, ?, ?, ?, ?)",
            (self._clock.now(), batch_id, step, kind, self._safe(detail)),
        )

    def _safe(self, text: str | None) -> str | None:
        return None if text is None else self._redact(text)


def _acquire_lock(lock_path: Path) -> int:
    fd = os.open(str(lock_path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalLocked(f"journal {lock_path.with_suffix('')} is in use by another delever process") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _step_row(row: tuple[Any, ...]) -> StepRow:
    batch_id, step, key, status, attempts, intent, outcome, error, created_at, updated_at = row
    return StepRow(
        batch_id,
        step,
        key,
        StepStatus(status),
        attempts,
        _from_json(intent) or {},
        _from_json(outcome),
        error,
        created_at,
        updated_at,
    )


def _batch_row(row: tuple[Any, ...]) -> BatchRow:
    id_, seq, status, spec, start, outcome, created_at, updated_at = row
    return BatchRow(
        id_,
        seq,
        BatchStatus(status),
        _from_json(spec) or {},
        _from_json(start) or {},
        _from_json(outcome),
        created_at,
        updated_at,
    )

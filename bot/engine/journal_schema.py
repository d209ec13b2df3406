"""The journal's schema versions: which tables each must hold, and the explicit migrations
from an older version to the current one.

A journal opened by the daemon must hold every table its version requires (a missing one means
damage: a dropped ``steps`` would re-run a batch from its first step); a journal of an older
version is migrated in one transaction, and only by the steps listed here, never by
``CREATE TABLE IF NOT EXISTS`` at random.

- Version 1: ``meta``, ``batches``, ``steps``, ``events``, ``control``. Later version-1 journals
  also got ``sends`` (when each keyed venue write was last sent), but not as a required table,
  so a version-1 journal may lack it.
- Version 2: ``sends`` is required. The migration from 1 creates it when absent (empty: the
  keyed writes of the past were not recorded, and ``meta.sends_since`` says from when they are).

Indexes that only make reads faster (``READ_INDEXES``) belong to no version: a writer creates
any that is missing when it opens a journal.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # a read-only reader (``history``) never migrates

TABLES_V1 = ("meta", "batches", "steps", "events", "control")
TABLES: dict[int, tuple[str, ...]] = {1: TABLES_V1, 2: (*TABLES_V1, "sends")}

# Indexes that only speed reads up, in no version: a journal without them answers every query
# the same, only slower (a read-only reader of an older journal). A writer adds any missing one
# when it opens the journal.
READ_INDEXES = (
    # The daily cap sums a UTC day's OK sells twice a tick (``Journal.ok_outcome_field_between``);
    # without it that walks every OK step ever journalled. Partial: only sell rows are kept in
    # it, so the other steps' writes do not pay for it.
    "CREATE INDEX IF NOT EXISTS sells_by_status_time ON steps(status, updated_at) WHERE step='sell'",
    # The cooldown asks when the last batch finished (``Journal.last_batch_finished_at``) at
    # every tick; without it that walks every batch. A batch enters it once, when it closes.
    "CREATE INDEX IF NOT EXISTS finished_batches_by_time ON batches(updated_at) WHERE status != 'OPEN'",
)

_SENDS_TABLE = "CREATE TABLE IF NOT EXISTS sends (op_id TEXT PRIMARY KEY, sent_at REAL NOT NULL)"


def required_tables(version: int | None) -> tuple[str, ...]:
    """The tables a journal of ``version`` must hold; the current version's when unknown (a
    file without ``meta`` names everything that is missing)."""
    return TABLES.get(version if version is not None else SCHEMA_VERSION, TABLES[SCHEMA_VERSION])


def stored_version(db: sqlite3.Connection) -> int | None:
    """``meta.schema_version`` as an int; None when there is no meta table, row or number."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.DatabaseError:
        return None
    try:
        return None if row is None else int(row[0])
    except ValueError:
        return None


def migrate(db: sqlite3.Connection, version: int) -> list[str]:
    """Bring a journal of ``version`` to ``SCHEMA_VERSION`` inside the caller's transaction;
    returns what was done, one line per step (journalled as events by the caller)."""
    done = []
    if version < 2:
        had_sends = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='sends'").fetchone()
        db.execute(_SENDS_TABLE)
        done.append("schema 1 -> 2: " + ("sends table kept" if had_sends else "sends table created"))
    if done:
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
    return done

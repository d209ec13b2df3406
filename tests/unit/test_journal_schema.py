"""The journal's schema versions: every table a version requires must exist (``sends`` since
version 2), and a version-1 journal is migrated explicitly, with or without ``sends``."""

from __future__ import annotations

import sqlite3

import pytest

from bot.clock import ManualClock
from bot.engine.journal import SCHEMA_VERSION, BatchStatus, Journal, JournalCorrupt
from bot.engine.journal_schema import TABLES_V1, required_tables

# The tables of a version-1 journal as the daemon created them before ``sends`` existed.
_V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE batches (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, status TEXT NOT NULL,
    spec TEXT NOT NULL, start TEXT NOT NULL, outcome TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE steps (
    batch_id TEXT NOT NULL REFERENCES batches(id), step TEXT NOT NULL, key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    intent TEXT NOT NULL, outcome TEXT, error TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (batch_id, step));
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, batch_id TEXT, step TEXT,
    kind TEXT NOT NULL, detail TEXT);
CREATE TABLE control (
    id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, reason TEXT, since REAL NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1'), ('journal_tag', 'old1'), ('next_batch_seq', '2'),
    ('created_at', '1.0');
INSERT INTO control VALUES (1, 'NORMAL', NULL, 1.0);
INSERT INTO batches VALUES ('old1-000001', 1, 'DONE', '{}', '{}', NULL, 1.0, 2.0);
"""


def _version_1_journal(path, *, with_sends: bool) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(_V1_SCHEMA)
        if with_sends:
            db.execute("CREATE TABLE sends (op_id TEXT PRIMARY KEY, sent_at REAL NOT NULL)")
            db.execute("INSERT INTO sends VALUES ('order:x', 5.0)")
    db.close()


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    return names


def test_sends_is_a_table_every_current_journal_must_hold():
    assert SCHEMA_VERSION == 2
    assert required_tables(2) == (*TABLES_V1, "sends")
    assert "sends" not in required_tables(1)


def test_a_current_journal_without_sends_is_refused_not_recreated(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path, clock=ManualClock()) as journal:
        journal.note_send("order:a", 3.0)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE sends")
    db.close()
    with pytest.raises(JournalCorrupt) as refused:
        Journal(path, clock=ManualClock())
    assert "table sends is missing" in str(refused.value) and "--new-journal" in str(refused.value)
    assert "sends" not in _tables(path)


@pytest.mark.parametrize("with_sends", [False, True])
def test_a_version_1_journal_is_migrated_to_version_2_keeping_its_rows(tmp_path, with_sends):
    path = tmp_path / "journal.sqlite"
    _version_1_journal(path, with_sends=with_sends)
    with Journal(path, clock=ManualClock(100.0)) as journal:
        assert journal.tag == "old1"
        assert [(b.id, b.status) for b in journal.batches()] == [("old1-000001", BatchStatus.DONE)]
        assert journal.last_send("order:x") == (5.0 if with_sends else None)
        journal.note_send("order:y", 101.0)
        assert journal.last_send("order:y") == 101.0
        migrated = [detail for _, _, _, kind, detail in journal.events() if kind == "migrated"]
    assert migrated == ["schema 1 -> 2: " + ("sends table kept" if with_sends else "sends table created")]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)
    db.close()
    with Journal(path, clock=ManualClock()) as again:  # now a version-2 journal: no second migration
        assert [kind for _, _, _, kind, _ in again.events()].count("migrated") == 1


def test_a_version_1_journal_missing_one_of_its_own_tables_is_still_refused(tmp_path):
    path = tmp_path / "journal.sqlite"
    _version_1_journal(path, with_sends=False)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE events")
    db.close()
    with pytest.raises(JournalCorrupt, match="table events is missing"):
        Journal(path, clock=ManualClock())
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    db.close()


def test_a_reader_opens_a_version_1_journal_without_migrating_it(tmp_path):
    path = tmp_path / "journal.sqlite"
    _version_1_journal(path, with_sends=False)
    with Journal(path, clock=ManualClock(), read_only=True) as reader:
        assert [b.id for b in reader.batches()] == ["old1-000001"]
    assert "sends" not in _tables(path)


def test_a_writer_adds_the_read_indexes_to_an_older_journal_and_the_per_tick_reads_use_them(tmp_path):
    path = tmp_path / "j.sqlite"
    _version_1_journal(path, with_sends=True)
    with Journal(path, clock=ManualClock()) as journal:
        sells = journal._db.execute(
            "EXPLAIN QUERY PLAN SELECT outcome FROM steps WHERE step='sell' AND status='OK'"
            " AND updated_at >= 0 AND updated_at < 1 ORDER BY updated_at, rowid"
        ).fetchall()
        finished = journal._db.execute(
            "EXPLAIN QUERY PLAN SELECT MAX(updated_at) FROM batches WHERE status != 'OPEN'"
        ).fetchall()
        assert journal.ok_outcome_field_between("sell", "gross_quote", 0, 10) == []
        assert journal.last_batch_finished_at() == 2.0  # the version-1 journal's DONE batch
    assert any("sells_by_status_time" in str(row) for row in sells), sells
    assert any("finished_batches_by_time" in str(row) for row in finished), finished
    with Journal(tmp_path / "k.sqlite", clock=ManualClock()) as journal, pytest.raises(ValueError, match="step name"):
        journal.ok_outcome_field_between("x' OR '1", "f", 0, 1)

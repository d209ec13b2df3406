"""The write-ahead journal: durability settings, the single-writer lock, the state machine."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from decimal import Decimal

import pytest

from bot.clock import ManualClock
from bot.engine.journal import (
    SCHEMA_VERSION,
    BatchStatus,
    ControlState,
    Journal,
    JournalCorrupt,
    JournalLocked,
    StepStatus,
)
from bot.engine.steps import SellOutcome, sold_quote_between


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "j.sqlite", clock=ManualClock())
    yield j
    j.close()


def test_journal_uses_wal_and_full_sync(journal):
    assert journal._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_journal_second_instance_on_the_same_file_is_refused(tmp_path, journal):
    with pytest.raises(JournalLocked, match="in use by another delever process"):
        Journal(tmp_path / "j.sqlite", clock=ManualClock())


def test_journal_lock_is_released_on_close(tmp_path, journal):
    journal.close()
    Journal(tmp_path / "j.sqlite", clock=ManualClock()).close()


def test_journal_lock_is_refused_across_processes(tmp_path, journal):
    code = (
        "import sys; from bot.engine.journal import Journal, JournalLocked; from bot.clock import ManualClock\n"
        f"try:\n Journal({str(tmp_path / 'j.sqlite')!r}, clock=ManualClock())\nexcept JournalLocked as e:\n print(e); sys.exit(3)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "in use" in done.stdout


def test_journal_batch_ids_are_tagged_and_never_reused(tmp_path):
    clock = ManualClock()
    with Journal(tmp_path / "j.sqlite", clock=clock) as j:
        tag = j.tag
        first = j.open_batch(spec={"a": 1}, start={"hf_wad": "1"})
        second = j.open_batch(spec={"a": 2}, start={"hf_wad": "1"})
    assert (first, second) == (f"{tag}-1", f"{tag}-2")
    with Journal(tmp_path / "j.sqlite", clock=clock) as j:
        assert j.peek_next_batch_id() == f"{tag}-3"
    with Journal(tmp_path / "other.sqlite", clock=clock) as other:
        assert other.tag != tag


def test_journal_step_lifecycle_intent_attempt_outcome(journal):
    b = journal.open_batch(spec={}, start={})
    journal.write_intent(b, "withdraw", key=f"{b}:withdraw", intent={"amount": str(10**18), "price": Decimal("1.5")})
    row = journal.step(b, "withdraw")
    assert row.status is StepStatus.PENDING and row.attempts == 0
    assert row.intent == {"amount": "1000000000000000000", "price": "1.5"}
    assert journal.record_attempt(b, "withdraw") == 1
    journal.write_outcome(b, "withdraw", StepStatus.UNKNOWN, error="timeout")
    journal.write_outcome(b, "withdraw", StepStatus.OK, outcome={"tx_hash": "0x1"})
    row = journal.step(b, "withdraw")
    assert row.status is StepStatus.OK and row.outcome == {"tx_hash": "0x1"} and row.error is None
    kinds = [e[3] for e in journal.events()]
    assert kinds == ["batch:OPEN", "intent", "UNKNOWN", "OK"]


def test_journal_an_intent_cannot_be_written_twice(journal):
    b = journal.open_batch(spec={}, start={})
    journal.write_intent(b, "sell", key=f"{b}:sell", intent={})
    with pytest.raises(sqlite3.IntegrityError):
        journal.write_intent(b, "sell", key=f"{b}:sell", intent={})


def test_journal_committed_intent_survives_an_abrupt_close(tmp_path):
    clock = ManualClock()
    j = Journal(tmp_path / "j.sqlite", clock=clock)
    b = j.open_batch(spec={}, start={})
    j.write_intent(b, "sell", key=f"{b}:sell", intent={"qty": "1"})
    j._db = None  # the process dies: no close, no checkpoint
    import os

    os.close(j._lock_fd)
    with Journal(tmp_path / "j.sqlite", clock=clock) as again:
        assert again.step(b, "sell").intent == {"qty": "1"}
        assert again.integrity_check() == "ok"


def test_journal_control_only_escalates_until_cleared(journal):
    assert journal.control() == (ControlState.NORMAL, None)
    journal.set_control(ControlState.HALTED, "foreign order")
    journal.set_control(ControlState.REDUCE_ONLY, "verify failed")
    assert journal.control() == (ControlState.HALTED, "foreign order")
    journal.clear_control(by="operator")
    assert journal.control() == (ControlState.NORMAL, None)


def test_journal_unknown_schema_version_is_refused(tmp_path):
    with Journal(tmp_path / "j.sqlite", clock=ManualClock()) as j:
        j._db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(JournalCorrupt, match="99"):
        Journal(tmp_path / "j.sqlite", clock=ManualClock())
    assert SCHEMA_VERSION == 2


def test_journal_lists_ok_outcomes_of_one_step_per_window(journal):
    clock = journal._clock
    for i, gross in enumerate(["1000.5", "250"]):
        b = journal.open_batch(spec={}, start={})
        journal.write_intent(b, "sell", key=f"{b}:sell", intent={})
        journal.write_outcome(b, "sell", StepStatus.OK, outcome={"gross_quote": gross})
        journal.write_intent(b, "repay", key=f"{b}:repay", intent={})
        journal.write_outcome(b, "repay", StepStatus.OK, outcome={"tx_hash": f"0x{i}"})
        clock.advance(100)
    b = journal.open_batch(spec={}, start={})
    journal.write_intent(b, "sell", key=f"{b}:sell", intent={})
    journal.write_outcome(b, "sell", StepStatus.FAILED, outcome={"gross_quote": "9"})
    now = clock.now()
    assert journal.ok_outcomes_between("sell", now - 1000, now) == [{"gross_quote": "1000.5"}, {"gross_quote": "250"}]
    assert journal.ok_outcomes_between("sell", now - 150, now) == [{"gross_quote": "250"}]
    assert journal.ok_outcomes_between("repay", now - 150, now) == [{"tx_hash": "0x1"}]
    # One field of the same rows, its JSON string's exact text (no float on the way).
    assert journal.ok_outcome_field_between("sell", "gross_quote", now - 1000, now) == ["1000.5", "250"]
    assert journal.ok_outcome_field_between("sell", "gross_quote", now - 150, now) == ["250"]
    assert journal.ok_outcome_field_between("repay", "gross_quote", now - 150, now) == [None]


def test_sold_quote_sums_the_gross_quote_of_ok_sells_per_window(journal):
    clock = journal._clock
    for gross in ["1000.5", "250"]:
        b = journal.open_batch(spec={}, start={})
        journal.write_intent(b, "sell", key=f"{b}:sell", intent={})
        sold = SellOutcome(
            Decimal(1), Decimal(1), Decimal(gross), Decimal("0.5"), Decimal(gross) - Decimal("0.5"), (), False
        )
        journal.write_outcome(b, "sell", StepStatus.OK, outcome=sold.to_payload())
        clock.advance(100)
    now = clock.now()
    assert sold_quote_between(journal, now - 1000, now) == Decimal("1250.5")
    assert sold_quote_between(journal, now - 150, now) == Decimal("250")
    assert sold_quote_between(journal, now, now + 1) == 0


def test_journal_open_batches_and_close(journal):
    b = journal.open_batch(spec={}, start={})
    assert [r.id for r in journal.open_batches()] == [b]
    journal.close_batch(b, BatchStatus.DONE, {"sold": "1"})
    assert journal.open_batches() == [] and journal.batch(b).outcome == {"sold": "1"}
    assert journal.last_batch_finished_at() == journal._clock.now()


def test_journal_review_marks_a_step_for_reconcile_not_resend(journal):
    b = journal.open_batch(spec={}, start={})
    journal.write_intent(b, "deposit", key=f"{b}:deposit", intent={})
    journal.write_outcome(b, "deposit", StepStatus.NEEDS_REVIEW, error="?")
    journal.mark_for_reconcile(b, "deposit", by="operator")
    row = journal.step(b, "deposit")
    assert row.status is StepStatus.UNKNOWN and row.attempts == 1


def test_journal_masks_secrets_in_errors_and_payloads(tmp_path):
    with Journal(tmp_path / "r.sqlite", clock=ManualClock(), redact=lambda t: t.replace("s3cret", "***")) as j:
        b = j.open_batch(spec={}, start={})
        j.write_intent(b, "sell", key=f"{b}:sell", intent={"note": "s3cret"})
        j.write_outcome(b, "sell", StepStatus.FAILED, outcome={"x": "s3cret"}, error="auth s3cret refused")
        j.set_control(ControlState.HALTED, "s3cret")
        assert "s3cret" not in j.dump_text() and "***" in j.dump_text()


def test_journal_is_bound_to_one_mode_and_one_chain(tmp_path):
    from bot.errors import UserInputError

    with Journal(tmp_path / "b.sqlite", clock=ManualClock()) as j:
        j.bind(mode="testnet", chain_id=31337)
        j.bind(mode="testnet", chain_id=31337)
    with Journal(tmp_path / "b.sqlite", clock=ManualClock()) as j:
        with pytest.raises(UserInputError, match="mode testnet, not live"):
            j.bind(mode="live", chain_id=31337)
        with pytest.raises(UserInputError, match="chain_id 31337, not 1"):
            j.bind(mode="testnet", chain_id=1)


def test_a_new_journal_appears_whole_never_half_made(tmp_path, monkeypatch):
    # A reader opening the path while the journal is being made finds no file at all (never an
    # empty or schema-less one it would call damaged); a staging file left by a crash is replaced.
    from bot.engine import journal_files

    path = tmp_path / "j.sqlite"
    staging = tmp_path / "j.sqlite.new"
    staging.write_bytes(b"left by a crash")
    seen: list[bool] = []
    build = journal_files.create_atomically

    def watching(target, fill):
        def fill_and_look(db):
            fill(db)
            seen.append(path.exists())

        build(target, fill_and_look)

    monkeypatch.setattr(journal_files, "create_atomically", watching)
    with Journal(path, clock=ManualClock(1000.0)) as new:
        assert new.created
    assert seen == [False]
    assert not staging.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    with Journal(path, clock=ManualClock(1000.0), read_only=True) as reader:
        assert reader.control()[0].value == "NORMAL"
    with Journal(path, clock=ManualClock(1001.0)) as again:
        assert not again.created

"""The journal's identity and its files: bound to the chain's genesis block, moved aside by
``run --new-journal``, one lock per resolved file and per (chain, wallet), never silently
reset (damaged files refused, tables never recreated), checkpointed, private (0600)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat

import pytest

from bot.clock import ManualClock
from bot.engine.journal import (
    BatchStatus,
    Journal,
    JournalCorrupt,
    JournalLocked,
    JournalOfAnotherChain,
    StepStatus,
    WalletLocked,
)
from bot.engine.journal_files import WalletClaim, wal_damage, wallet_dir
from bot.errors import UserInputError

G1 = "0x" + "11" * 32
G2 = "0x" + "22" * 32
WALLET = "0x00000000000000000000000000000000000000A1"


def _journal_with_a_batch(path, *, genesis=G1, close=True):
    journal = Journal(path, clock=ManualClock())
    journal.bind(mode="testnet", chain_id=31337, genesis_hash=genesis)
    batch = journal.open_batch(spec={"a": 1}, start={})
    journal.write_intent(batch, "withdraw", key=f"{batch}:withdraw", intent={"amount": 5})
    journal.write_outcome(batch, "withdraw", StepStatus.OK, outcome={"tx": "0x1"})
    journal.close_batch(batch, BatchStatus.DONE)
    tag = journal.tag
    if close:
        journal.close()
    return journal, batch, tag


# ---- the chain binding ---------------------------------------------------------------------


def test_bind_records_the_genesis_and_refuses_another_chain_naming_the_file_and_the_way_out(tmp_path):
    path = tmp_path / "journal.sqlite"
    _journal_with_a_batch(path)
    with Journal(path, clock=ManualClock()) as journal:
        assert journal.binding() == {"mode": "testnet", "chain_id": "31337", "genesis_hash": G1}
        with pytest.raises(JournalOfAnotherChain) as refused:
            journal.bind(mode="testnet", chain_id=31337, genesis_hash=G2)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "--new-journal" in message
    assert "journal.sqlite.<tag>.bak" in message and isinstance(refused.value, UserInputError)


def test_bind_adopts_the_genesis_for_an_old_journal_without_batches_only(tmp_path):
    empty, used = tmp_path / "empty.sqlite", tmp_path / "used.sqlite"
    for path in (empty, used):
        with Journal(path, clock=ManualClock()) as journal:
            journal.bind(mode="testnet", chain_id=31337)  # as journals were bound before genesis hashes
            if path == used:
                journal.open_batch(spec={}, start={})
    with Journal(empty, clock=ManualClock()) as journal:
        journal.bind(mode="testnet", chain_id=31337, genesis_hash=G2)
        assert journal.binding()["genesis_hash"] == G2
    with Journal(used, clock=ManualClock()) as journal:
        with pytest.raises(JournalOfAnotherChain, match="cannot tell whether they were on this chain"):
            journal.bind(mode="testnet", chain_id=31337, genesis_hash=G2)
        assert "genesis_hash" not in journal.binding()


def test_replace_moves_the_journal_and_its_wal_aside_and_starts_a_new_one(tmp_path):
    path = tmp_path / "journal.sqlite"
    _, _, tag = _journal_with_a_batch(path)
    new, moved = Journal.replace(path, clock=ManualClock())
    with new:
        assert moved == tmp_path / f"journal.sqlite.{tag}.bak"
        assert new.tag != tag and new.batches() == [] and new.binding() == {}
    with Journal(moved, clock=ManualClock(), lock=False) as kept:
        assert [b.status for b in kept.batches()] == [BatchStatus.DONE]


def test_replace_refused_by_the_caller_leaves_the_journal_in_place(tmp_path):
    path = tmp_path / "journal.sqlite"
    _, batch, tag = _journal_with_a_batch(path)

    def refuse(journal):
        raise UserInputError(f"{journal.tag} has work")

    with pytest.raises(UserInputError, match=f"{tag} has work"):
        Journal.replace(path, clock=ManualClock(), may_replace=refuse)
    with Journal(path, clock=ManualClock()) as journal:  # unlocked again, untouched
        assert journal.tag == tag and journal.batch(batch).status is BatchStatus.DONE
    assert sorted(p.name for p in tmp_path.iterdir() if ".bak" in p.name) == []


def test_replace_moves_a_damaged_journal_aside(tmp_path):
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    new, moved = Journal.replace(path, clock=ManualClock())
    with new:
        assert moved == tmp_path / "journal.sqlite.damaged.bak" and new.batches() == []
    assert moved.read_bytes().startswith(b"this is not a database")


# ---- one writer ------------------------------------------------------------------------------


def test_a_symlink_to_a_held_journal_takes_the_same_lock(tmp_path):
    real = tmp_path / "real" / "journal.sqlite"
    link = tmp_path / "elsewhere.sqlite"
    real.parent.mkdir()
    with Journal(real, clock=ManualClock()):
        link.symlink_to(real)
        with pytest.raises(JournalLocked, match="in use by another delever process"):
            Journal(link, clock=ManualClock())
    assert not (tmp_path / "elsewhere.sqlite.lock").exists()


def test_the_wallet_lock_refuses_a_second_journal_on_the_same_wallet_and_chain(tmp_path):
    directory = tmp_path / "wallets"
    with Journal(tmp_path / "a.sqlite", clock=ManualClock()) as first:
        assert first.claim_wallet(directory, chain_id=31337, wallet=WALLET) is None
        with Journal(tmp_path / "b.sqlite", clock=ManualClock()) as second:
            with pytest.raises(WalletLocked) as refused:
                second.claim_wallet(directory, chain_id=31337, wallet=WALLET)
            message = str(refused.value)
            assert "\n" not in message and f"pid {os.getpid()}, journal {tmp_path / 'a.sqlite'}" in message
            second.claim_wallet(directory, chain_id=1, wallet=WALLET)  # another chain: its own lock
    WalletClaim(directory, chain_id=31337, wallet=WALLET, journal=tmp_path / "b.sqlite").release()  # released


def test_the_wallet_record_remembers_which_journal_signed_on_which_chain(tmp_path):
    directory = tmp_path / "wallets"
    with Journal(tmp_path / "a.sqlite", clock=ManualClock()) as journal:
        journal.claim_wallet(directory, chain_id=31337, wallet=WALLET)
        journal.remember_wallet(G1.upper().replace("0X", "0x"))
        tag = journal.tag
    with Journal(tmp_path / "b.sqlite", clock=ManualClock()) as other:
        before = other.claim_wallet(directory, chain_id=31337, wallet=WALLET)
    assert (before.genesis_hash, before.journal, before.tag) == (G1, str(tmp_path / "a.sqlite"), tag)
    assert stat.S_IMODE(os.stat(next(directory.glob("*.json"))).st_mode) == 0o600


def test_the_wallet_directory_is_per_user_not_per_config():
    assert wallet_dir({"XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}) == __import__("pathlib").Path(
        "/x/state/delever/wallets"
    )
    assert str(wallet_dir({"HOME": "/home/u"})) == "/home/u/.local/state/delever/wallets"


# ---- never silently reset ----------------------------------------------------------------------


def test_a_dropped_steps_table_is_refused_not_recreated(tmp_path):
    path = tmp_path / "journal.sqlite"
    _journal_with_a_batch(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE steps")
    with pytest.raises(JournalCorrupt) as refused:
        Journal(path, clock=ManualClock())
    assert "table steps is missing" in str(refused.value) and "--new-journal" in str(refused.value)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name='steps'").fetchall() == []


def test_a_main_file_without_tables_is_refused(tmp_path):
    path = tmp_path / "journal.sqlite"
    with sqlite3.connect(path) as db:  # a database file, but none of the journal's tables
        db.execute("CREATE TABLE other (x)")
    with pytest.raises(JournalCorrupt, match="table meta, batches, steps, events, control, sends is missing"):
        Journal(path, clock=ManualClock())


def test_a_file_that_is_not_a_database_is_refused_in_one_line(tmp_path):
    path = tmp_path / "journal.sqlite"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(JournalCorrupt) as refused:
        Journal(path, clock=ManualClock())
    assert "\n" not in str(refused.value) and str(path) in str(refused.value)


def _journal_with_wal(tmp_path):
    """A journal whose last transactions sit in its WAL (copied while the writer is open)."""
    path = tmp_path / "live" / "journal.sqlite"
    journal, _, _ = _journal_with_a_batch(path, close=False)
    b = journal.open_batch(spec={"b": 2}, start={})
    for n in range(3):
        journal.write_intent(b, f"s{n}", key=f"{b}:s{n}", intent={"n": n})
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("journal.sqlite", "journal.sqlite-wal"):
        shutil.copy(path.parent / name, copy / name)
    journal.close()
    return copy / "journal.sqlite", b


def test_an_intact_wal_copy_opens_with_every_transaction(tmp_path):
    path, open_batch = _journal_with_wal(tmp_path)
    assert wal_damage(path.with_name("journal.sqlite-wal")) is None
    with Journal(path, clock=ManualClock()) as journal:
        assert [r.step for r in journal.steps(open_batch)] == ["s0", "s1", "s2"]


def test_a_corrupt_wal_is_refused_instead_of_silently_dropping_its_transactions(tmp_path):
    path, _ = _journal_with_wal(tmp_path)
    wal = path.with_name("journal.sqlite-wal")
    data = bytearray(wal.read_bytes())
    assert len(data) > 32 + 3 * (24 + 4096)
    data[32 + 24 + 100] ^= 0xFF  # a byte in the first frame's page: every later commit is dropped
    wal.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt, match="WAL frame at byte .* commits a transaction that SQLite would drop"):
        Journal(path, clock=ManualClock())


def test_a_wal_with_a_broken_header_is_refused(tmp_path):
    path, _ = _journal_with_wal(tmp_path)
    wal = path.with_name("journal.sqlite-wal")
    data = bytearray(wal.read_bytes())
    data[12] ^= 0x01  # the checkpoint sequence: the header checksum no longer matches
    wal.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt, match="WAL header fails its checksum"):
        Journal(path, clock=ManualClock())


def test_a_torn_last_frame_after_a_kill_is_not_damage(tmp_path):
    path, _ = _journal_with_wal(tmp_path)
    wal = path.with_name("journal.sqlite-wal")
    data = wal.read_bytes()
    wal.write_bytes(data[: len(data) - 1000])  # the last frame was being written when the process died
    assert wal_damage(wal) is None
    Journal(path, clock=ManualClock()).close()


# ---- checkpoints and permissions ---------------------------------------------------------------


def test_a_closed_batch_is_in_the_main_file_not_only_in_the_wal(tmp_path):
    path = tmp_path / "live" / "journal.sqlite"
    journal, batch, _ = _journal_with_a_batch(path, close=False)
    try:
        shutil.copy(path, tmp_path / "main-only.sqlite")  # the main file alone, while the daemon runs
    finally:
        journal.close()
    with Journal(tmp_path / "main-only.sqlite", clock=ManualClock()) as copy:
        assert copy.batch(batch).status is BatchStatus.DONE


def test_journal_files_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        journal = Journal(tmp_path / "journal.sqlite", clock=ManualClock())
        journal.open_batch(spec={}, start={})
        names = ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm", "journal.sqlite.lock")
        modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in names}
        journal.close()
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(names, 0o600)


def test_an_empty_main_file_beside_a_full_wal_is_refused(tmp_path):
    path, _ = _journal_with_wal(tmp_path)
    path.write_bytes(b"")  # the main file truncated: only the WAL is left
    with pytest.raises(JournalCorrupt, match="its main file is empty but its WAL holds"):
        Journal(path, clock=ManualClock())

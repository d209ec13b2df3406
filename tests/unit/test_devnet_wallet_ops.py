"""`devnet down` moves the journals of the chain it stops aside; `devnet send`'s arguments."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.clock import ManualClock
from bot.devnet.wallet_ops import archive_journals, parse_amount
from bot.engine.journal import Journal
from bot.errors import UserInputError

G1 = "0x" + "11" * 32
G2 = "0x" + "22" * 32


def _bound(path, genesis):
    with Journal(path, clock=ManualClock()) as journal:
        journal.bind(mode="testnet", chain_id=31337, genesis_hash=genesis)
        journal.open_batch(spec={}, start={})
        return journal.tag


def test_down_moves_aside_the_journals_of_the_stopped_chain_only(tmp_path):
    this = _bound(tmp_path / "journal.sqlite", G1)
    _bound(tmp_path / "journal.dry-run.sqlite", G1)
    _bound(tmp_path / "other.sqlite", G2)
    (tmp_path / "notes.sqlite").write_text("not a journal")
    moved = dict(archive_journals(tmp_path, G1.upper().replace("0X", "0x")))
    assert moved[tmp_path / "journal.sqlite"] == tmp_path / f"journal.sqlite.{this}.bak"
    assert set(moved) == {tmp_path / "journal.sqlite", tmp_path / "journal.dry-run.sqlite"}
    assert (tmp_path / "other.sqlite").exists() and (tmp_path / "notes.sqlite").exists()
    assert not (tmp_path / "journal.sqlite").exists()
    with Journal(moved[tmp_path / "journal.sqlite"], clock=ManualClock(), lock=False) as kept:
        assert len(kept.batches()) == 1


def test_down_leaves_a_journal_a_daemon_still_holds(tmp_path):
    _bound(tmp_path / "journal.sqlite", G1)
    with Journal(tmp_path / "journal.sqlite", clock=ManualClock()):
        assert archive_journals(tmp_path, G1) == [(tmp_path / "journal.sqlite", None)]
    assert (tmp_path / "journal.sqlite").exists()


def test_send_amounts():
    assert parse_amount("all") is None and parse_amount("ALL") is None
    assert parse_amount("1.5") == Decimal("1.5")
    for bad in ("0", "-1", "nan", "lots"):
        with pytest.raises(UserInputError):
            parse_amount(bad)

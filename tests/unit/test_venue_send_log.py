"""Restarts make progress: each keyed write is recorded in the journal before it is sent, so a
new process waits only what is left of the in-flight window (recvWindow + 1 s) after the last
send of an earlier process, and not at all once it has passed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.adapters.venue import CcxtVenue, client_order_id
from bot.clock import ManualClock
from bot.engine.journal import Journal
from tests.support.venue_fakes import FakeBinance

D = Decimal
KEY = "batch-1:sell"
WINDOW_S = 6.0  # the fake's recvWindow 5 s + 1 s grace


class Died(BaseException):
    """The process died inside the order POST, after its send was recorded."""


def _process(path: Path, clock: ManualClock, fake: FakeBinance) -> tuple[CcxtVenue, Journal]:
    journal = Journal(path, clock=clock)
    venue = CcxtVenue(fake, clock=clock)
    venue.record_sends_in(journal)
    return venue, journal


def _sell(venue: CcxtVenue) -> D:
    return venue.sell(key=KEY, symbol="ETH/USDT", qty=D("1"), floor_price=D("2950")).filled


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, ManualClock, FakeBinance]:
    clock = ManualClock()
    Journal(tmp_path / "journal.sqlite", clock=clock).close()  # an existing journal...
    clock.advance(3600)  # ...an hour old
    return tmp_path / "journal.sqlite", clock, FakeBinance(bids=[("3000", "5")], clock=clock)


def test_a_restart_after_the_window_has_passed_does_not_wait(world):
    path, clock, fake = world
    first, journal = _process(path, clock, fake)
    assert _sell(first) == D("1")
    journal.close()
    clock.advance(WINDOW_S + 2)
    clock.slept.clear()
    restarted, _ = _process(path, clock, fake)
    assert _sell(restarted) == D("1")  # the booked order, found by id; id 1 conclusively unused
    assert clock.slept == []
    assert fake.count("create_order") == 1


@pytest.mark.parametrize("restart_after_s", [1.0, 4.5])
def test_a_restart_inside_the_window_waits_only_the_remainder(world, restart_after_s):
    path, clock, fake = world
    first, journal = _process(path, clock, fake)
    sent_at = clock.now() + WINDOW_S  # the first sell waits nothing (below), then sends
    clock.advance(WINDOW_S)
    fake.fault("create_order", Died())
    with pytest.raises(Died):
        _sell(first)
    assert journal.last_send(client_order_id(KEY, 0)) == sent_at
    journal.close()
    clock.advance(restart_after_s)
    clock.slept.clear()
    restarted, _ = _process(path, clock, fake)
    assert _sell(restarted) == D("1")
    assert clock.slept == [pytest.approx(WINDOW_S - restart_after_s)]
    assert [o.cid for o in fake.orders] == [client_order_id(KEY, 0)]  # sent once, under the same id


def test_the_first_sell_of_a_new_process_waits_nothing_for_ids_never_sent(world):
    path, clock, fake = world
    venue, _ = _process(path, clock, fake)
    assert _sell(venue) == D("1")
    assert clock.slept == []


def test_a_brand_new_journal_waits_one_window_once(tmp_path):
    """Sends made before the journal recorded them (an older version, another journal file)
    can only have left before it began: one window from then, as without a record."""
    clock = ManualClock()
    fake = FakeBinance(bids=[("3000", "5")], clock=clock)
    venue, _ = _process(tmp_path / "journal.sqlite", clock, fake)
    assert _sell(venue) == D("1")
    assert sum(clock.slept) == pytest.approx(WINDOW_S)


def test_the_journal_keeps_the_latest_send_of_each_id_across_reopening(tmp_path):
    clock = ManualClock()
    with Journal(tmp_path / "j.sqlite", clock=clock) as journal:
        since = journal.sends_recorded_since()
        journal.note_send("a", 100.0)
        journal.note_send("a", 200.0)
        journal.note_send("a", 150.0)  # a clock that stepped back never shortens the window
    clock.advance(50)
    with Journal(tmp_path / "j.sqlite", clock=clock) as journal:
        assert journal.last_send("a") == 200.0
        assert journal.last_send("b") is None
        assert journal.sends_recorded_since() == since  # set once, when recording began

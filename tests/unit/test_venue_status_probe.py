"""``sell_status`` is a read: in a fresh process it answers at once for a key nothing was
sent under (the executor probes every new batch's keys with it before the first step; it
used to sleep recvWindow + 1 s there on every daemon start). ``sell`` still waits the window
before its first send, and a status read still finds what a previous process sold."""

from __future__ import annotations

from decimal import Decimal

from bot.adapters.venue import CcxtVenue
from bot.clock import ManualClock
from tests.support.venue_fakes import FakeBinance

D = Decimal
KEY = "batch-7/sell"


def _fresh_process() -> tuple[CcxtVenue, FakeBinance, ManualClock]:
    clock = ManualClock()
    fake = FakeBinance(bids=[("3000", "5")], clock=clock)
    return CcxtVenue(fake, clock=clock, read_backoff_s=0.01), fake, clock


def test_sell_status_fresh_process_unused_key_answers_without_waiting() -> None:
    venue, fake, clock = _fresh_process()
    start = clock.now()
    status = venue.sell_status(key=KEY, symbol="ETH/USDT")
    assert status.filled == 0 and status.client_order_ids == ()
    assert clock.now() == start and clock.slept == []
    assert fake.count("create_order") == 0


def test_sell_status_asked_to_wait_waits_out_the_in_flight_window() -> None:
    venue, _, clock = _fresh_process()
    start = clock.now()
    venue.sell_status(key=KEY, symbol="ETH/USDT", wait_in_flight=True)
    assert clock.now() - start >= 6.0  # recvWindow 5 s + 1 s grace, from process start


def test_sell_after_a_status_probe_still_waits_before_its_first_send() -> None:
    venue, fake, clock = _fresh_process()
    start = clock.now()
    venue.sell_status(key=KEY, symbol="ETH/USDT")
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("1"), floor_price=D("2950"))
    assert result.filled == D("1") and fake.count("create_order") == 1
    assert clock.now() - start >= 6.0


def test_sell_status_new_process_finds_what_the_last_one_sold() -> None:
    venue, fake, clock = _fresh_process()
    clock.advance(60)
    fake.fault("create_order", "lost")
    venue.sell(key=KEY, symbol="ETH/USDT", qty=D("1"), floor_price=D("2950"))
    restarted = CcxtVenue(fake, clock=clock)
    start = clock.now()
    status = restarted.sell_status(key=KEY, symbol="ETH/USDT")
    assert status.filled == D("1") and len(status.client_order_ids) == 1
    assert clock.now() == start

"""``Venue.sell_status``: read-only, in every adapter behind the port, and what the executor probes."""

from __future__ import annotations

from decimal import Decimal

from bot.adapters.dryrun import dry_run_pair
from bot.backtest.adapters import SimVenue
from bot.ports import Venue
from tests.support.engine_kit import Rig
from tests.support.fakes import FakeLending, FakeVenue, make_world
from tests.support.sim_world import sim_world


def test_dry_run_venue_sell_status_reports_simulated_sales_and_sends_nothing():
    world = make_world()
    _, venue = dry_run_pair(FakeLending(world), FakeVenue(world))
    assert isinstance(venue, Venue)
    nothing = venue.sell_status(key="b-1:sell", symbol="ETH/USDT")
    assert (nothing.filled, nothing.client_order_ids, nothing.gross_quote) == (0, (), 0)
    venue.ledger.exchange["ETH"] = Decimal(3)
    sold = venue.sell(key="b-1:sell", symbol="ETH/USDT", qty=Decimal(3), floor_price=Decimal("1999"))
    balances = venue.balances()
    status = venue.sell_status(key="b-1:sell", symbol="ETH/USDT")
    assert status.filled == sold.filled == 3 and status.gross_quote == sold.gross_quote
    assert status.client_order_ids == sold.client_order_ids and status.requested == status.filled
    assert venue.balances() == balances  # a status read moves nothing
    assert world.orders == [] and not [c for c in world.calls if c[0] in ("sell", "sell_status")]


def test_sim_venue_sell_status_reports_what_sold_and_moves_nothing():
    w = sim_world()
    venue = SimVenue(w)
    assert venue.sell_status(key="k", symbol="ETH/USDT").filled == 0
    w.exchange["ETH"] = Decimal(2)
    sold = venue.sell(key="k", symbol="ETH/USDT", qty=Decimal(2), floor_price=Decimal("1900"))
    before = dict(w.exchange), len(w.ledger.fills)
    status = venue.sell_status(key="k", symbol="ETH/USDT")
    assert status.filled == sold.filled > 0 and status.net_quote == sold.net_quote
    assert (dict(w.exchange), len(w.ledger.fills)) == before


def test_executor_probes_the_next_sell_key_with_sell_status_before_opening(tmp_path):
    rig = Rig(tmp_path)
    executor = rig.executor()
    executor.execute(rig.spec(5), rig.lending.snapshot())
    probes = [key for call, key in rig.world.calls if call == "sell_status"]
    assert probes == [f"{rig.journal.batches()[0].id}:sell"]

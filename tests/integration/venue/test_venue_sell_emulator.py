"""Selling through the real ccxt.binance client against the exchange emulator."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal

import ccxt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.venue import CcxtVenue, client_order_id
from bot.devnet.exchange import EmulatorConfig, start_emulator
from bot.domain.book import depth_above
from bot.errors import GuardRefused, Halt, OutcomeUnknown, RateLimited, Rejected, Retryable, VenueUnreachable
from tests.support.emulator import VENUE_START_BALANCES, make_venue, order_posts, orders_for_key

pytestmark = pytest.mark.integration
D = Decimal
SYMBOL = "ETH/USDT"
_keys = itertools.count()


def fresh_key(prefix: str = "sell") -> str:
    return f"{prefix}-{next(_keys)}"


@pytest.fixture(scope="module")
def shared_emulator():
    handle = start_emulator(EmulatorConfig(balances={"ETH": D(1_000_000), "USDT": D(0)}))
    try:
        yield handle
    finally:
        handle.stop()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    depth_usd=st.integers(20_000, 2_000_000),
    shape=st.sampled_from(["linear", "sqrt"]),
    level_bps=st.sampled_from(["1", "2", "5", "10"]),
    qty=st.decimals(min_value=D("0.01"), max_value=D("400"), places=4),
    cap_bps=st.integers(1, 300),
)
def test_sell_random_books_never_fill_below_floor_and_book_exactly(
    shared_emulator, depth_usd, shape, level_bps, qty, cap_bps
) -> None:
    emu = shared_emulator
    emu.set_depth("ETHUSDT", reset=True, depth_usd_1pct=depth_usd, shape=shape, level_bps=level_bps, half_life_s=None)
    venue = make_venue(emu, in_flight_window_s=0.0)
    rules = venue.rules(SYMBOL)
    book = venue.order_book(SYMBOL, 1000)
    floor = (book.best_bid * (10_000 - cap_bps) / 10_000).quantize(D("0.01"))
    key = fresh_key("prop")
    before = emu.balances()
    try:
        result = venue.sell(key=key, symbol=SYMBOL, qty=qty, floor_price=floor)
    except GuardRefused:
        assert qty * floor < rules.min_notional or depth_above(book.bids, floor) * floor < rules.min_notional
        return
    orders = orders_for_key(emu, key)
    fills = [f for o in orders for f in o.fills]
    assert all(f.price >= floor for f in fills)
    assert all(o.price >= floor and o.time_in_force == "IOC" for o in orders)
    assert result.filled == sum(o.executed_qty for o in orders) <= qty
    assert result.gross_quote == sum(f.price * f.qty for f in fills)
    assert result.fee_quote == sum(f.commission for f in fills)
    assert result.avg_price is None or result.avg_price >= floor
    after = emu.balances()
    assert D(before["ETH"]["free"]) - D(after["ETH"]["free"]) == result.filled
    assert D(after["USDT"]["free"]) - D(before["USDT"]["free"]) == result.net_quote
    if not result.exhausted:
        remaining = qty - result.filled
        assert remaining < rules.step_size or remaining * floor < rules.min_notional


def test_sell_partial_fill_books_exactly_what_filled_then_sells_rest(emulator, venue) -> None:
    emulator.add_fault("POST /api/v3/order", "partial", fraction=D("0.4"))
    key = fresh_key()
    result = venue.sell(key=key, symbol=SYMBOL, qty=D("10"), floor_price=D("2950"))
    first, second = sorted(orders_for_key(emulator, key), key=lambda o: o.order_id)
    assert first.status == "EXPIRED" and first.executed_qty == D("4")
    assert second.client_order_id == client_order_id(key, 1) and second.executed_qty == D("6")
    assert result.filled == D("10")
    assert result.gross_quote == first.cum_quote + second.cum_quote
    assert result.client_order_ids == (client_order_id(key, 0), client_order_id(key, 1))


def test_sell_thin_book_stops_at_floor_and_reports_exhausted(emulator, venue) -> None:
    emulator.set_depth("ETHUSDT", depth_usd_1pct=100_000, half_life_s=None)
    key = fresh_key()
    result = venue.sell(key=key, symbol=SYMBOL, qty=D("90"), floor_price=D("2985"))
    assert result.exhausted and D(0) < result.filled < D("90")
    assert all(f.price >= D("2985") for o in orders_for_key(emulator, key) for f in o.fills)


@pytest.mark.parametrize("how", ["504", "drop"])
def test_sell_lost_create_response_yields_one_order_and_completes(emulator, venue, how) -> None:
    emulator.add_fault("POST /api/v3/order", "lost", how=how)
    key = fresh_key()
    result = venue.sell(key=key, symbol=SYMBOL, qty=D("2"), floor_price=D("2950"))
    assert len(order_posts(emulator, client_order_id(key, 0))) == 1
    assert len(orders_for_key(emulator, key)) == 1
    assert result.filled == D("2")
    assert D(emulator.balances()["ETH"]["free"]) == VENUE_START_BALANCES["ETH"] - D("2")


def test_sell_during_an_outage_is_unreachable_then_resumes_with_the_one_order(emulator, venue) -> None:
    """The order is taken, then the exchange goes down: the lookup cannot tell, and says so as
    ``VenueUnreachable`` (wait and look again), not as a generic unknown; once the exchange is
    back the same call finds the order and sends nothing more."""
    emulator.add_fault("POST /api/v3/order", "outage", seconds=3.0)
    key = fresh_key()
    with pytest.raises(VenueUnreachable, match="lookup failed"):
        venue.sell(key=key, symbol=SYMBOL, qty=D("2"), floor_price=D("2950"))
    with pytest.raises(VenueUnreachable):
        venue.sell(key=key, symbol=SYMBOL, qty=D("2"), floor_price=D("2950"))
    time.sleep(3.0)
    result = venue.sell(key=key, symbol=SYMBOL, qty=D("2"), floor_price=D("2950"))
    assert result.filled == D("2") and len(result.client_order_ids) == 1
    assert len(order_posts(emulator)) == 1


def test_sell_lookup_refused_is_unknown_not_an_outage(emulator, venue) -> None:
    emulator.add_fault("POST /api/v3/order", "lost", how="504")
    emulator.add_fault("GET /api/v3/order", "reject", status=400, code=-1100, msg="Illegal characters", times=None)
    with pytest.raises(OutcomeUnknown) as caught:
        venue.sell(key=fresh_key(), symbol=SYMBOL, qty=D("2"), floor_price=D("2950"))
    assert not isinstance(caught.value, VenueUnreachable)


def test_sell_late_order_after_client_timeout_is_found_not_resent(emulator, venue_factory) -> None:
    # The POST outlives the client's timeout and executes later: the window rule must wait for it.
    venue = venue_factory(in_flight_window_s=None)  # recvWindow + grace, the production rule
    emulator.add_fault("POST /api/v3/order", "delay", seconds=1.6, execute=True)
    key = fresh_key()
    result = venue.sell(key=key, symbol=SYMBOL, qty=D("2"), floor_price=D("2950"))
    time.sleep(1.0)  # had the order been re-sent, the delayed original would land by now
    assert len(orders_for_key(emulator, key)) == 1
    assert result.filled == D("2")
    assert len(order_posts(emulator)) == 1


def test_sell_timeout_never_executed_is_resent_under_same_id_once(emulator, venue) -> None:
    emulator.add_fault("POST /api/v3/order", "delay", seconds=1.2, execute=False)
    key = fresh_key()
    result = venue.sell(key=key, symbol=SYMBOL, qty=D("2"), floor_price=D("2950"))
    time.sleep(0.5)  # the emulator logs the delayed request when its delay ends
    cid = client_order_id(key, 0)
    assert len(order_posts(emulator, cid)) == 2
    assert [o.client_order_id for o in orders_for_key(emulator, key)] == [cid]
    assert result.filled == D("2")


@pytest.mark.parametrize("body", ["", "<html>bad gateway</html>"])
def test_sell_5xx_without_execution_reconciles_then_sends_once(emulator, venue, body) -> None:
    emulator.add_fault("POST /api/v3/order", "status", status=503, body=body)
    key = fresh_key()
    result = venue.sell(key=key, symbol=SYMBOL, qty=D("1"), floor_price=D("2950"))
    assert len(orders_for_key(emulator, key)) == 1 and result.filled == D("1")


def test_sell_429_then_418_raise_rate_limited_with_retry_after_then_sell_once(emulator, venue) -> None:
    emulator.add_fault("POST /api/v3/order", "rate_limit", times=1, ban_times=1, retry_after=7)
    key = fresh_key()
    for _ in range(2):
        with pytest.raises(RateLimited) as info:
            venue.sell(key=key, symbol=SYMBOL, qty=D("1"), floor_price=D("2950"))
        assert info.value.retry_after == 7.0
    result = venue.sell(key=key, symbol=SYMBOL, qty=D("1"), floor_price=D("2950"))
    assert result.filled == D("1") and len(orders_for_key(emulator, key)) == 1
    statuses = [r.status for r in emulator.requests.records("/api/v3/order", "POST")]
    assert statuses == [429, 418, 200]


def test_sell_insufficient_funds_is_rejected(emulator, venue) -> None:
    with pytest.raises(Rejected) as info:
        venue.sell(key=fresh_key(), symbol=SYMBOL, qty=D("150"), floor_price=D("2950"))
    assert info.value.reason == "insufficient_funds"


def test_sell_below_min_notional_refused_before_sending(emulator, venue) -> None:
    with pytest.raises(GuardRefused):
        venue.sell(key=fresh_key(), symbol=SYMBOL, qty=D("0.001"), floor_price=D("2950"))
    assert order_posts(emulator) == []


@pytest.mark.parametrize(
    ("code", "msg", "reason"),
    [
        (-1013, "Filter failure: NOTIONAL", "min_notional"),
        (-1013, "Filter failure: LOT_SIZE", "lot_size"),
        (-2010, "Order would trigger immediately.", "invalid_order"),
    ],
)
def test_sell_exchange_refusal_is_rejected_with_reason(emulator, venue, code, msg, reason) -> None:
    emulator.add_fault("POST /api/v3/order", "reject", code=code, msg=msg)
    with pytest.raises(Rejected) as info:
        venue.sell(key=fresh_key(), symbol=SYMBOL, qty=D("1"), floor_price=D("2950"))
    assert info.value.reason == reason


def test_sell_status_unknown_key_is_empty_after_not_found(emulator, venue) -> None:
    status = venue.sell_status(key=fresh_key(), symbol=SYMBOL)
    assert status.filled == 0 and status.client_order_ids == ()
    lookups = emulator.requests.records("/api/v3/order", "GET")
    assert lookups and {r.status for r in lookups} == {400}  # -2013: the order does not exist
    assert order_posts(emulator) == []


def test_sell_resumed_by_new_process_continues_from_booked_fills(emulator, venue_factory) -> None:
    emulator.set_depth("ETHUSDT", depth_usd_1pct=100_000, half_life_s=None)
    key = fresh_key()
    first = venue_factory().sell(key=key, symbol=SYMBOL, qty=D("60"), floor_price=D("2985"))
    assert first.exhausted
    emulator.set_depth("ETHUSDT", reset=True, depth_usd_1pct=5_000_000)
    second = venue_factory().sell(key=key, symbol=SYMBOL, qty=D("60"), floor_price=D("2985"))
    assert second.filled == D("60") and not second.exhausted
    assert sum(o.executed_qty for o in orders_for_key(emulator, key)) == D("60")
    assert second.client_order_ids[: len(first.client_order_ids)] == first.client_order_ids


def test_order_book_non_json_body_is_refused(emulator, venue) -> None:
    emulator.add_fault("GET /api/v3/depth", "status", status=200, body="<html>ok</html>", times=None)
    with pytest.raises(Retryable):
        venue.order_book(SYMBOL)


def test_order_book_read_timeout_is_retried(emulator, venue) -> None:
    emulator.add_fault("GET /api/v3/depth", "delay", seconds=1.3)
    book = venue.order_book(SYMBOL)
    assert book.best_bid is not None and book.best_bid < D(3000)
    time.sleep(0.5)  # the delayed request is logged when its delay ends
    assert len(emulator.requests.records("/api/v3/depth")) == 2


def test_wrong_api_secret_halts(emulator, venue_factory) -> None:
    canary = "CanarySecret" + "x" * 52
    venue = venue_factory(api_secret=canary)
    with pytest.raises(Halt) as info:
        venue.balances()
    assert canary not in str(info.value) and canary not in repr(venue)
    assert info.value.__suppress_context__  # tracebacks do not print the ccxt chain


def test_balances_match_emulator(emulator, venue) -> None:
    balances = venue.balances()
    assert balances["ETH"] == D(100) and balances["USDT"] == D(50_000)
    assert isinstance(venue, CcxtVenue)


def test_raw_ccxt_lookup_agrees_with_booked_sell(emulator, venue) -> None:
    key = fresh_key()
    result = venue.sell(key=key, symbol=SYMBOL, qty=D("1.2345"), floor_price=D("2950"))
    client = ccxt.binance({"apiKey": emulator.api_key, "secret": emulator.api_secret})
    from bot.adapters.venue.client import rebased_api_urls

    client.urls["api"] = rebased_api_urls(client.urls["api"], emulator.url)
    client.options.update({"fetchMargins": False, "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False})
    order = client.fetch_order(None, SYMBOL, {"clientOrderId": client_order_id(key, 0)})
    assert D(order["info"]["executedQty"]) == result.filled == D("1.2345")
    assert D(order["info"]["cummulativeQuoteQty"]) == result.gross_quote

"""The sell state machine: sizing, rounding, exact booking, safe retries, resumption."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.venue import CcxtVenue, client_order_id
from bot.clock import ManualClock
from bot.errors import GuardRefused, OutcomeUnknown, RateLimited, Rejected, Retryable
from tests.support.venue_fakes import FakeBinance

D = Decimal
KEY = "batch-1/sell"


def make(bids: list[tuple[str, str]] | None = None, **fake_kw: object) -> tuple[CcxtVenue, FakeBinance, ManualClock]:
    clock = ManualClock()
    fake = FakeBinance(bids=bids, clock=clock, **fake_kw)  # type: ignore[arg-type]
    venue = CcxtVenue(fake, clock=clock, read_backoff_s=0.01)
    clock.advance(60)  # the process has been up for a while: nothing of ours can be in flight
    return venue, fake, clock


def orders_with(fake: FakeBinance, cid: str) -> int:
    return sum(1 for o in fake.orders if o.cid == cid)


def test_sell_deep_book_one_ioc_order_fills_everything() -> None:
    venue, fake, _ = make([("3000", "5"), ("2990", "5")])
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert result.filled == D("2")
    assert result.gross_quote == D("6000")
    assert result.fee_quote == D("6.000")
    assert result.client_order_ids == (client_order_id(KEY, 0),)
    assert result.exhausted is False
    ((_, args),) = [c for c in fake.calls if c[0] == "create_order"]
    assert args[:3] == ("ETH/USDT", "limit", "sell")
    assert args[5] == {"timeInForce": "IOC", "clientOrderId": client_order_id(KEY, 0)}


def test_sell_rounds_quantity_down_to_step_and_floor_up_to_tick() -> None:
    venue, fake, _ = make([("3000", "5")])
    venue.sell(key=KEY, symbol="ETH/USDT", qty=D("1.23456789"), floor_price=D("2950.001"))
    ((_, args),) = [c for c in fake.calls if c[0] == "create_order"]
    assert D(args[3]) == D("1.2345")
    assert D(args[4]) == D("2950.01")


def test_sell_thin_book_sells_only_above_floor_and_reports_exhausted() -> None:
    venue, fake, _ = make([("3000", "1"), ("2960", "0.5"), ("2900", "50")])
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("10"), floor_price=D("2950"))
    assert result.filled == D("1.5")
    assert result.gross_quote == D("3000") + D("1480")
    assert result.exhausted is True
    assert all(D(t["price"]) >= D("2950") for t in fake.trades)


def test_sell_partial_fill_books_exactly_and_continues_with_next_id() -> None:
    venue, fake, _ = make([("3000", "2"), ("2990", "2"), ("2000", "100")])
    fake.fault("create_order", "steal")  # first IOC: half the shown depth is gone
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("3"), floor_price=D("2950"))
    first = fake.orders[0]
    assert first.status == "EXPIRED" and first.executed == D("2")
    assert result.filled == D("2")  # the second IOC found only what was left above the floor
    assert result.client_order_ids == (client_order_id(KEY, 0),)
    assert result.exhausted is True
    assert result.gross_quote == D("1") * D("3000") + D("1") * D("2990")


def test_sell_lost_response_reconciles_by_client_id_and_never_resends() -> None:
    venue, fake, _ = make([("3000", "5")])
    fake.fault("create_order", "lost")
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert fake.count("create_order") == 1
    assert len(fake.orders) == 1
    assert result.filled == D("2") and result.gross_quote == D("6000") and result.fee_quote == D("6.000")


def test_sell_timeout_before_exchange_waits_in_flight_window_then_resends_same_id() -> None:
    venue, fake, clock = make([("3000", "5")])
    fake.fault("create_order", "timeout")
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    cid = client_order_id(KEY, 0)
    sends = [c for c in fake.calls if c[0] == "create_order"]
    assert [c[1][5]["clientOrderId"] for c in sends] == [cid, cid]
    assert orders_with(fake, cid) == 1
    assert result.filled == D("2")
    assert any(s >= 5.0 for s in clock.slept)  # waited recvWindow + grace before trusting "not found"


def test_sell_lost_response_with_unreadable_lookup_raises_outcome_unknown_without_resend() -> None:
    venue, fake, _ = make([("3000", "5")])
    fake.fault("create_order", "lost")
    fake.fault("fetch_order", "pass")  # the reconcile probe of id 0 before sending: not found
    fake.fault("fetch_order", *[ccxt.RequestTimeout("t")] * 8)
    with pytest.raises(OutcomeUnknown):
        venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert fake.count("create_order") == 1


def test_sell_empty_create_answer_is_booked_from_lookup() -> None:
    venue, fake, _ = make([("3000", "5")])
    fake.fault("create_order", "empty")
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert fake.count("create_order") == 1
    assert result.filled == D("2") and result.fee_quote == D("6.000")


def test_sell_answer_without_fills_books_fees_from_my_trades() -> None:
    venue, fake, _ = make([("3000", "5")])
    fake.fault("create_order", "no_fills")
    fake.fault("fetch_my_trades", "lagging")  # trades not visible on the first read
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert result.fee_quote == D("6.000")
    assert fake.count("fetch_my_trades") == 2


def test_sell_second_call_same_key_resumes_instead_of_selling_again() -> None:
    venue, fake, _ = make([("3000", "1"), ("2000", "100")])
    first = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert first.filled == D("1") and first.exhausted
    fake.bids = [(D("2980"), D("5"))]
    second = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert second.filled == D("2")
    assert second.client_order_ids == (client_order_id(KEY, 0), client_order_id(KEY, 1))
    assert sum(o.executed for o in fake.orders) == D("2")
    third = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert third == second
    assert fake.count("create_order") == 2


def test_sell_after_crash_mid_sell_new_process_books_previous_orders() -> None:
    venue, fake, clock = make([("3000", "5")])
    fake.fault("create_order", "lost")
    venue.sell(key=KEY, symbol="ETH/USDT", qty=D("1"), floor_price=D("2950"))
    restarted = CcxtVenue(fake, clock=clock)  # a new process: ids may have been in flight
    status = restarted.sell_status(key=KEY, symbol="ETH/USDT")
    assert status.filled == D("1")
    result = restarted.sell(key=KEY, symbol="ETH/USDT", qty=D("1"), floor_price=D("2950"))
    assert result.filled == D("1") and fake.count("create_order") == 1


def test_sell_new_process_waits_in_flight_window_before_first_send() -> None:
    clock = ManualClock()
    fake = FakeBinance(bids=[("3000", "5")], clock=clock)
    venue = CcxtVenue(fake, clock=clock)
    start = clock.now()
    venue.sell(key=KEY, symbol="ETH/USDT", qty=D("1"), floor_price=D("2950"))
    assert clock.now() - start >= 6.0  # recvWindow 5 s + 1 s grace from process start


def test_sell_below_min_notional_is_refused_locally() -> None:
    venue, fake, _ = make([("3000", "5")])
    with pytest.raises(GuardRefused) as info:
        venue.sell(key=KEY, symbol="ETH/USDT", qty=D("0.001"), floor_price=D("2950"))
    assert info.value.reason == "below_minimums"
    assert fake.count("create_order") == 0


def test_sell_insufficient_funds_is_rejected() -> None:
    venue, fake, _ = make([("3000", "500")])
    with pytest.raises(Rejected) as info:
        venue.sell(key=KEY, symbol="ETH/USDT", qty=D("200"), floor_price=D("2950"))
    assert info.value.reason == "insufficient_funds"


def test_sell_rate_limited_raises_with_retry_after_from_header() -> None:
    venue, fake, _ = make([("3000", "5")])
    fake.last_response_headers = {"Retry-After": "30"}
    fake.fault("create_order", ccxt.DDoSProtection("binance 429 Too Many Requests"))
    with pytest.raises(RateLimited) as info:
        venue.sell(key=KEY, symbol="ETH/USDT", qty=D("1"), floor_price=D("2950"))
    assert info.value.retry_after == 30.0
    assert venue.sell(key=KEY, symbol="ETH/USDT", qty=D("1"), floor_price=D("2950")).filled == D("1")


def test_sell_base_asset_fee_is_valued_at_fill_price() -> None:
    venue, _, _ = make([("3000", "5")], fee_asset="ETH")
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert result.fee_quote == D("0.002") * D("3000")


def test_sell_bnb_fee_is_valued_at_bnb_market_price() -> None:
    venue, _, _ = make([("3000", "5")], fee_asset="BNB")
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert result.fee_quote == D("0.002") * D("600.5")


def test_order_book_empty_is_refused_not_guessed() -> None:
    venue, fake, _ = make([("3000", "5")])
    fake.fault("fetch_order_book", *["empty"] * 4)
    with pytest.raises(Retryable):
        venue.order_book("ETH/USDT")
    assert fake.count("fetch_order_book") == 4


def test_order_book_transient_failure_is_retried() -> None:
    venue, fake, _ = make([("3000", "5")])
    fake.fault("fetch_order_book", ccxt.RequestTimeout("t"), ccxt.ExchangeNotAvailable("503"))
    book = venue.order_book("ETH/USDT")
    assert book.bids[0].price == D("3000") and book.bids[0].qty == D("5")


def test_order_book_rate_limit_is_not_retried_inside() -> None:
    venue, fake, _ = make([("3000", "5")])
    fake.fault("fetch_order_book", ccxt.DDoSProtection("418"))
    with pytest.raises(RateLimited):
        venue.order_book("ETH/USDT")
    assert fake.count("fetch_order_book") == 1


def test_rules_read_exchange_filters_exactly() -> None:
    venue, _, _ = make()
    rules = venue.rules("ETH/USDT")
    assert (rules.tick_size, rules.step_size, rules.min_qty, rules.min_notional, rules.taker_fee) == (
        D("0.01"),
        D("0.0001"),
        D("0.0001"),
        D("5"),
        D("0.001"),
    )


def test_balances_are_exact_decimals() -> None:
    venue, _, _ = make()
    assert venue.balances()["ETH"] == D("100")


def test_sell_lookup_finds_ioc_still_open_cancels_then_books_and_continues() -> None:
    venue, fake, _ = make([("3000", "5")])
    fake.fault("create_order", "open_lost")
    result = venue.sell(key=KEY, symbol="ETH/USDT", qty=D("2"), floor_price=D("2950"))
    assert fake.orders[0].status == "CANCELED" and fake.orders[0].executed == 0
    assert fake.count("cancel_order") == 1
    assert result.filled == D("2")
    assert result.client_order_ids == (client_order_id(KEY, 0), client_order_id(KEY, 1))


def test_order_book_older_than_one_seen_is_refused() -> None:
    venue, fake, _ = make([("3000", "5")])
    venue.order_book("ETH/USDT")
    fake.book_nonce = -10  # every later answer is older
    with pytest.raises(Retryable):
        venue.order_book("ETH/USDT")


CREATE_FAULTS = st.sampled_from(
    [
        None,
        None,
        "lost",
        "timeout",
        "empty",
        "no_fills",
        "steal",
        "open_lost",
        ccxt.DDoSProtection("429"),
        ccxt.ExchangeNotAvailable("503"),
    ]
)
LOOKUP_FAULTS = st.sampled_from([None, None, None, ccxt.RequestTimeout("t"), ccxt.NetworkError("reset")])


@settings(max_examples=150, deadline=None)
@given(
    create_faults=st.lists(CREATE_FAULTS, max_size=6),
    lookup_faults=st.lists(LOOKUP_FAULTS, max_size=8),
    levels=st.lists(
        st.tuples(st.integers(2900, 3010), st.integers(1, 40)), min_size=1, max_size=6, unique_by=lambda t: t[0]
    ),
    qty=st.integers(1, 120),
)
def test_sell_under_any_fault_sequence_never_double_sells_and_resumes_exactly(
    create_faults, lookup_faults, levels, qty
) -> None:
    bids = [(str(p), str(D(q) / 10)) for p, q in sorted(levels, reverse=True)] + [("1000", "1000")]
    venue, fake, clock = make(bids, asks=[("3100", "10")])
    fake.balances["ETH"] = D(1000)
    fake.fault("create_order", *create_faults)
    fake.fault("fetch_order", *lookup_faults)
    floor, amount = D("2950"), D(qty) / 10
    result = None
    for _ in range(12):  # the engine's loop: call again with the same key after any exception
        try:
            result = venue.sell(key=KEY, symbol="ETH/USDT", qty=amount, floor_price=floor)
            break
        except (OutcomeUnknown, RateLimited, Retryable):
            clock.advance(30)
    assert result is not None
    per_id: dict[str, int] = {}
    for order in fake.orders:
        per_id[order.cid] = per_id.get(order.cid, 0) + 1
    assert all(n == 1 for n in per_id.values()), per_id  # never two orders under one client id
    assert result.filled == sum(o.executed for o in fake.orders) <= amount
    assert result.gross_quote == sum(o.quote for o in fake.orders)
    assert all(D(t["price"]) >= floor for t in fake.trades)
    assert set(result.client_order_ids) == {o.cid for o in fake.orders}

"""Deposits and withdrawals: allowlist, lookup before send, reconciliation, states."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.venue import CcxtVenue, withdraw_order_id
from bot.clock import ManualClock
from bot.errors import ConfigError, GuardRefused, NeedsReview, OutcomeUnknown, Rejected, Retryable
from bot.ports import TransferState
from tests.support.venue_fakes import FakeBinance

D = Decimal
ALLOWED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
OTHER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
KEY = "batch-1/withdraw-usdt"


def make() -> tuple[CcxtVenue, FakeBinance, ManualClock]:
    clock = ManualClock()
    fake = FakeBinance(clock=clock)
    fake.balances["USDT"] = D("10000")
    venue = CcxtVenue(fake, clock=clock, withdrawal_allowlist=[ALLOWED.lower()], read_backoff_s=0.01)
    clock.advance(60)
    return venue, fake, clock


def test_withdraw_sends_once_with_derived_id_and_truncated_amount() -> None:
    venue, fake, _ = make()
    transfer = venue.withdraw(key=KEY, coin="USDT", amount=D("99.1234567"), address=ALLOWED, network="ERC20")
    ((_, args),) = [c for c in fake.calls if c[0] == "withdraw"]
    assert args[:3] == ("USDT", "99.123456", ALLOWED)
    assert args[3] == {"network": "ERC20", "withdrawOrderId": withdraw_order_id(KEY)}
    assert transfer.key == withdraw_order_id(KEY)
    assert transfer.state is TransferState.PENDING
    assert transfer.amount == D("99.123456") and transfer.fee == D("1")  # gross; 98.123456 arrives


@pytest.mark.parametrize("address", [OTHER, ALLOWED.lower(), "0x1234", "not an address"])
def test_withdraw_outside_allowlist_or_unchecksummed_refused_before_any_call(address: str) -> None:
    venue, fake, _ = make()
    with pytest.raises(GuardRefused) as info:
        venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=address, network="ERC20")
    assert info.value.reason == "not_allowlisted"
    assert fake.calls == []


def test_withdraw_allowlist_with_bad_entry_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        CcxtVenue(FakeBinance(), withdrawal_allowlist=["0xnope"])


def test_withdraw_second_call_same_key_finds_first_and_sends_nothing() -> None:
    venue, fake, _ = make()
    venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    again = venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert fake.count("withdraw") == 1 and len(fake.withdrawals) == 1
    assert again.key == withdraw_order_id(KEY)


def test_withdraw_lost_response_reconciles_to_the_one_withdrawal() -> None:
    venue, fake, _ = make()
    fake.fault("withdraw", "lost")
    transfer = venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert len(fake.withdrawals) == 1 and fake.count("withdraw") == 1
    assert transfer.state is TransferState.PENDING and transfer.info["id"] == "w1"


def test_withdraw_timeout_not_applied_raises_unknown_then_retry_sends_once() -> None:
    venue, fake, _ = make()
    fake.fault("withdraw", "timeout")
    with pytest.raises(OutcomeUnknown):
        venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    transfer = venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert len(fake.withdrawals) == 1 and transfer.state is TransferState.PENDING


def test_withdraw_new_process_waits_in_flight_window_before_first_send() -> None:
    clock = ManualClock()
    fake = FakeBinance(clock=clock)
    fake.balances["USDT"] = D("100")
    venue = CcxtVenue(fake, clock=clock, withdrawal_allowlist=[ALLOWED])
    start = clock.now()
    venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert clock.now() - start >= 6.0
    assert fake.count("fetch_withdrawals") >= 2  # looked again after the window


def test_withdraw_insufficient_funds_is_rejected() -> None:
    venue, fake, _ = make()
    with pytest.raises(Rejected) as info:
        venue.withdraw(key=KEY, coin="USDT", amount=D("20000"), address=ALLOWED, network="ERC20")
    assert info.value.reason == "insufficient_funds"


def test_withdraw_below_exchange_minimum_refused_locally() -> None:
    venue, fake, _ = make()
    with pytest.raises(GuardRefused):
        venue.withdraw(key=KEY, coin="USDT", amount=D("5"), address=ALLOWED, network="ERC20")
    assert fake.count("withdraw") == 0


def test_withdraw_found_to_another_address_needs_review() -> None:
    venue, fake, _ = make()
    fake.withdrawals.append(
        {
            "id": "x",
            "amount": "49",
            "transactionFee": "1",
            "coin": "USDT",
            "status": 6,
            "address": OTHER,
            "txId": "0xabc",
            "withdrawOrderId": withdraw_order_id(KEY),
        }
    )
    with pytest.raises(NeedsReview):
        venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")


@pytest.mark.parametrize(
    ("status", "state"),
    [(4, TransferState.PENDING), (6, TransferState.OK), (3, TransferState.FAILED), (1, TransferState.FAILED)],
)
def test_withdrawal_follows_exchange_status(status: int, state: TransferState) -> None:
    venue, fake, _ = make()
    venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    fake.withdrawals[0].update(status=status, txId="0xfeed")
    transfer = venue.withdrawal(key=KEY, coin="USDT")
    assert transfer.state is state
    assert transfer.txid == "0xfeed" and transfer.fee == D("1") and transfer.amount == D("50")
    assert transfer.info["amount"] == "49"  # the exchange's own (net) figure


def test_withdrawal_never_made_is_unknown() -> None:
    venue, _, _ = make()
    assert venue.withdrawal(key="nothing", coin="USDT").state is TransferState.UNKNOWN


def test_deposit_credited_only_when_exchange_says_ok() -> None:
    venue, fake, _ = make()
    fake.deposits.append({"coin": "ETH", "txId": "0xAbC", "amount": "1.5", "status": "0"})
    assert venue.deposit(coin="ETH", txid="0xabc").state is TransferState.PENDING
    fake.deposits[0]["status"] = "1"
    transfer = venue.deposit(coin="ETH", txid="0xabc")
    assert transfer.state is TransferState.OK and transfer.amount == D("1.5")
    assert venue.deposit(coin="ETH", txid="0xother").state is TransferState.UNKNOWN


def test_wait_for_deposit_polls_with_injected_clock_until_credited() -> None:
    venue, fake, clock = make()
    fake.deposits.append({"coin": "ETH", "txId": "0xabc", "amount": "1.5", "status": "0"})
    original = fake.fetch_deposits

    def credit_on_third(*args: object, **kwargs: object) -> object:
        if fake.count("fetch_deposits") == 2:
            fake.deposits[0]["status"] = "1"
        return original(*args, **kwargs)

    fake.fetch_deposits = credit_on_third  # type: ignore[method-assign]
    transfer = venue.wait_for_deposit(coin="ETH", txid="0xabc", timeout_s=60, poll_s=5)
    assert transfer.state is TransferState.OK
    assert clock.slept[-2:] == [5, 5]


def test_wait_for_deposit_times_out_with_last_view() -> None:
    venue, fake, clock = make()
    start = clock.now()
    transfer = venue.wait_for_deposit(coin="ETH", txid="0xabc", timeout_s=12, poll_s=5)
    assert transfer.state is TransferState.UNKNOWN
    assert clock.now() - start == pytest.approx(12)


def test_deposit_address_is_checksummed() -> None:
    venue, _, _ = make()
    assert venue.deposit_address("ETH", "ERC20") == "0x00000000000000000000000000000000000000AA"


def test_withdraw_history_unreadable_before_send_sends_nothing() -> None:
    venue, fake, _ = make()
    fake.fault("fetch_withdrawals", *[ccxt.RequestTimeout("t")] * 4)
    with pytest.raises(Exception) as info:
        venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert type(info.value).__name__ == "Retryable"
    assert fake.count("withdraw") == 0


WITHDRAW_FAULTS = st.sampled_from(
    [None, "lost", "timeout", ccxt.ExchangeNotAvailable("503"), ccxt.DDoSProtection("429"), ccxt.RequestTimeout("t")]
)
HISTORY_FAULTS = st.sampled_from([None, None, ccxt.RequestTimeout("t"), ccxt.ExchangeNotAvailable("502")])


@settings(max_examples=100, deadline=None)
@given(withdraw_faults=st.lists(WITHDRAW_FAULTS, max_size=5), history_faults=st.lists(HISTORY_FAULTS, max_size=10))
def test_withdraw_under_any_fault_sequence_withdraws_exactly_once(withdraw_faults, history_faults) -> None:
    venue, fake, clock = make()
    fake.fault("withdraw", *withdraw_faults)
    fake.fault("fetch_withdrawals", *history_faults)
    transfer = None
    for _ in range(15):  # the engine's loop: call again with the same key after any exception
        try:
            transfer = venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
            break
        except (OutcomeUnknown, Retryable):
            clock.advance(30)
        assert len(fake.withdrawals) <= 1
    assert transfer is not None
    assert len(fake.withdrawals) == 1
    assert transfer.info["id"] == fake.withdrawals[0]["id"]
    assert fake.balances["USDT"] == D("9950")


def test_withdraw_lost_response_and_unreadable_history_then_retry_finds_it_never_resends() -> None:
    venue, fake, clock = make()
    fake.fault("fetch_withdrawals", None)  # the lookup before sending: nothing yet
    fake.fault("withdraw", "lost")
    fake.fault("fetch_withdrawals", *[ccxt.RequestTimeout("t")] * 4)  # the reconcile read fails
    with pytest.raises(OutcomeUnknown):
        venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    clock.advance(30)
    transfer = venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert fake.count("withdraw") == 1 and len(fake.withdrawals) == 1
    assert transfer.info["id"] == "w1"


def test_wait_for_deposit_keeps_waiting_through_rate_limits_and_outages() -> None:
    venue, fake, clock = make()
    fake.deposits.append({"coin": "ETH", "txId": "0xabc", "amount": "1.5", "status": "1"})
    fake.last_response_headers = {"Retry-After": "20"}
    fake.fault("fetch_deposits", ccxt.DDoSProtection("429"), *[ccxt.RequestTimeout("t")] * 4)
    start = clock.now()
    transfer = venue.wait_for_deposit(coin="ETH", txid="0xabc", timeout_s=120, poll_s=5)
    assert transfer.state is TransferState.OK
    assert clock.now() - start >= 25  # honoured Retry-After, then polled again after the outage


def test_withdrawal_ids_to_lists_only_our_withdrawals_to_that_address() -> None:
    venue, fake, _ = make()
    venue.withdraw(key=KEY, coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    venue.withdraw(key="batch-2/withdraw-usdt", coin="USDT", amount=D("60"), address=ALLOWED, network="ERC20")
    fake.withdrawals.append({**fake.withdrawals[0], "id": "w9", "withdrawOrderId": "someone-else"})  # not ours
    fake.withdrawals.append({**fake.withdrawals[0], "id": "w10", "withdrawOrderId": "dlw-x", "address": OTHER})
    assert venue.withdrawal_ids_to("USDT", ALLOWED.lower()) == (
        withdraw_order_id(KEY),
        withdraw_order_id("batch-2/withdraw-usdt"),
    )
    assert venue.withdrawal_ids_to("USDT", OTHER) == ("dlw-x",)
    assert venue.withdrawal_ids_to("ETH", ALLOWED) == ()

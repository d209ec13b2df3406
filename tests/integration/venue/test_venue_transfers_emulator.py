"""Deposits and withdrawals through the real ccxt.binance client against the emulator."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from bot.adapters.venue import withdraw_order_id
from bot.errors import GuardRefused, OutcomeUnknown, Rejected
from bot.ports import TransferState
from tests.support.emulator import ALLOWED

pytestmark = pytest.mark.integration
D = Decimal
WITHDRAW = "/sapi/v1/capital/withdraw/apply"


def withdrawals_for(emulator, key: str) -> list:
    with emulator.lock:
        return [w for w in emulator.funds.withdrawals if w.withdraw_order_id == withdraw_order_id(key)]


def test_withdraw_sends_derived_id_truncated_amount_and_follows_to_ok(emulator, venue) -> None:
    transfer = venue.withdraw(key="w-ok", coin="USDT", amount=D("99.1234567"), address=ALLOWED, network="ERC20")
    [sent] = [r.params for r in emulator.requests.records(WITHDRAW, "POST")]
    assert sent["amount"] == "99.123456" and sent["withdrawOrderId"] == withdraw_order_id("w-ok")
    assert sent["address"] == ALLOWED and sent["network"] == "ETH"
    assert transfer.state is TransferState.PENDING and transfer.key == withdraw_order_id("w-ok")
    emulator.advance_withdrawals()
    done = venue.withdrawal(key="w-ok", coin="USDT")
    assert done.state is TransferState.OK
    assert done.txid and done.txid.startswith("0x")
    assert done.fee == D(1) and done.amount == D("99.123456")  # gross: what left the balance
    assert D(done.info["amount"]) == done.amount - done.fee  # Binance's history shows the net
    assert venue.balances()["USDT"] == D(50_000) - D("99.123456")


@pytest.mark.parametrize("how", ["504", "drop"])
def test_withdraw_lost_response_yields_exactly_one_withdrawal(emulator, venue, how) -> None:
    emulator.add_fault(f"POST {WITHDRAW}", "lost", how=how)
    transfer = venue.withdraw(key=f"w-lost-{how}", coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert len(withdrawals_for(emulator, f"w-lost-{how}")) == 1
    assert (
        transfer.state is TransferState.PENDING
        and transfer.info["id"] == withdrawals_for(emulator, f"w-lost-{how}")[0].withdrawal_id
    )
    again = venue.withdraw(key=f"w-lost-{how}", coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert again.info["id"] == transfer.info["id"]
    assert len(emulator.requests.records(WITHDRAW, "POST")) == 1


def test_withdraw_503_not_executed_is_unknown_then_one_send_on_retry(emulator, venue) -> None:
    emulator.add_fault(f"POST {WITHDRAW}", "status", status=503)
    with pytest.raises(OutcomeUnknown):
        venue.withdraw(key="w-503", coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert withdrawals_for(emulator, "w-503") == []
    transfer = venue.withdraw(key="w-503", coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert transfer.state is TransferState.PENDING
    assert len(withdrawals_for(emulator, "w-503")) == 1


def test_withdraw_late_execution_after_timeout_is_found_not_resent(emulator, venue_factory) -> None:
    venue = venue_factory(in_flight_window_s=None)  # recvWindow + grace
    emulator.add_fault(f"POST {WITHDRAW}", "delay", seconds=1.5, execute=True)
    transfer = venue.withdraw(key="w-late", coin="USDT", amount=D("50"), address=ALLOWED, network="ERC20")
    assert transfer.state in (TransferState.PENDING, TransferState.OK)  # the emulator pays after 0.5 s
    time.sleep(0.3)
    assert len(withdrawals_for(emulator, "w-late")) == 1
    assert len(emulator.requests.records(WITHDRAW, "POST")) == 1


def test_withdraw_outside_allowlist_refused_without_any_request(emulator, venue) -> None:
    with pytest.raises(GuardRefused):
        venue.withdraw(
            key="w-bad",
            coin="USDT",
            amount=D("50"),
            address="0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            network="ERC20",
        )
    assert emulator.requests.records() == []


def test_withdraw_insufficient_funds_is_rejected(emulator, venue) -> None:
    with pytest.raises(Rejected) as info:
        venue.withdraw(key="w-poor", coin="USDT", amount=D("60000"), address=ALLOWED, network="ERC20")
    assert info.value.reason == "insufficient_funds"
    assert withdrawals_for(emulator, "w-poor") == []


def test_withdraw_below_exchange_minimum_refused_locally(emulator, venue) -> None:
    with pytest.raises(GuardRefused):
        venue.withdraw(key="w-tiny", coin="USDT", amount=D("5"), address=ALLOWED, network="ERC20")
    assert emulator.requests.records(WITHDRAW, "POST") == []


def test_deposit_credited_by_exchange_is_ok_unknown_tx_is_unknown(emulator, venue) -> None:
    tx = "0x" + "ab" * 32
    emulator.handle("POST", "/deposits", {"coin": "ETH", "amount": "1.25", "tx_id": tx}, {})
    asked = tx.upper().replace("0X", "0x")
    transfer = venue.deposit(coin="ETH", txid=asked)  # hashes compare case-insensitively
    assert transfer.state is TransferState.OK and transfer.amount == D("1.25")
    assert transfer.key == asked and transfer.txid == tx
    assert venue.deposit(coin="ETH", txid="0x" + "cd" * 32).state is TransferState.UNKNOWN
    assert venue.deposit_address("ETH", "ERC20") == emulator.deposit_address

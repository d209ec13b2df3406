"""One deleveraging round trip on the devnet through the real adapters, leg by leg, timed.

    withdraw WETH (Aave) → unwrap → send ETH to the exchange deposit address → credited
    → IOC sell at the floor price → withdraw USDT to the allowlisted wallet → lands on chain
    → repay USDT (Aave)

Shared by the integration test (which reconciles every balance) and the benchmark (which
reports the wall time per leg). Exchange balances are read between legs, outside the timing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.adapters.chain.aave_lending import AaveLending
from bot.adapters.venue import CcxtVenue
from bot.domain import floor_price, from_units, to_units
from bot.domain.book import OrderBook, round_down_to_step
from bot.ports import MarketRules, Outcome, SellResult, Transfer, TransferState, TxResult

POLL_S = 0.2
TRANSFER_TIMEOUT_S = 60.0
CYCLE_LEGS = ("send", "deposit_credit", "sell", "exchange_withdrawal")  # deposit → sell → withdraw


@dataclass
class RoundTrip:
    withdrawn_units: int
    withdraw: TxResult
    unwrap: TxResult
    send: TxResult
    deposit_address: str
    deposit: Transfer
    head_at_credit: int  # chain head when the exchange reported the deposit credited
    book: OrderBook
    floor: Decimal
    sell: SellResult
    withdrawal: Transfer  # final view (state OK), amount gross, fee the network fee
    withdrawal_requested: Decimal
    arrived_units: int
    repay: TxResult
    exchange: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # stage → free balances
    legs: dict[str, float] = field(default_factory=dict)  # leg → wall seconds

    @property
    def cycle_s(self) -> float:
        return sum(self.legs[leg] for leg in CYCLE_LEGS)


class _Timer:
    def __init__(self) -> None:
        self.legs: dict[str, float] = {}

    def run(self, leg: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self.legs[leg] = time.perf_counter() - start


def _ok(result: TxResult) -> TxResult:
    assert result.outcome is Outcome.OK, result
    return result


def _until_paid(venue: CcxtVenue, key: str, coin: str) -> Transfer:
    deadline = time.monotonic() + TRANSFER_TIMEOUT_S
    while True:
        transfer = venue.withdrawal(key=key, coin=coin)
        if transfer.state in (TransferState.OK, TransferState.FAILED) or time.monotonic() > deadline:
            return transfer
        time.sleep(POLL_S)


def round_trip(
    *,
    lending: AaveLending,
    venue: CcxtVenue,
    rules: MarketRules,
    key: str,
    amount_units: int,
    wallet: str,
    network: str,
    max_slippage_bps: int,
    head: Callable[[], int],
) -> RoundTrip:
    """Run every leg once under step keys ``{key}/<leg>``; the wallet is the withdrawal payee."""
    timer = _Timer()
    base, quote = rules.base, rules.quote
    exchange: dict[str, dict[str, Decimal]] = {"start": venue.balances()}
    deposit_address = venue.deposit_address(base, network)

    withdraw = _ok(
        timer.run("withdraw", lambda: lending.withdraw(key=f"{key}/withdraw", symbol="WETH", amount=amount_units))
    )
    unwrap = _ok(timer.run("unwrap", lambda: lending.unwrap(key=f"{key}/unwrap", amount=amount_units)))
    send = _ok(
        timer.run(
            "send", lambda: lending.transfer(key=f"{key}/send", symbol="ETH", to=deposit_address, amount=amount_units)
        )
    )
    assert send.tx_hash
    deposit = timer.run(
        "deposit_credit",
        lambda: venue.wait_for_deposit(coin=base, txid=send.tx_hash, timeout_s=TRANSFER_TIMEOUT_S, poll_s=POLL_S),
    )
    head_at_credit = head()
    assert deposit.state is TransferState.OK, deposit
    exchange["credited"] = venue.balances()

    def sell() -> tuple[OrderBook, Decimal, SellResult]:
        book = venue.order_book(rules.symbol)
        assert book.mid is not None
        floor = floor_price(book.mid, max_slippage_bps, tick=rules.tick_size)
        qty = round_down_to_step(deposit.amount, rules.step_size)
        return book, floor, venue.sell(key=f"{key}/sell", symbol=rules.symbol, qty=qty, floor_price=floor)

    book, floor, sold = timer.run("sell", sell)
    exchange["sold"] = venue.balances()

    requested = exchange["sold"][quote] - exchange["credited"].get(quote, Decimal(0))  # the proceeds, net of fees

    def withdraw_quote() -> Transfer:
        venue.withdraw(key=f"{key}/withdraw-quote", coin=quote, amount=requested, address=wallet, network=network)
        return _until_paid(venue, f"{key}/withdraw-quote", quote)

    withdrawal = timer.run("exchange_withdrawal", withdraw_quote)
    assert withdrawal.state is TransferState.OK, withdrawal
    exchange["withdrawn"] = venue.balances()
    arrived_units = to_units(withdrawal.amount - withdrawal.fee, lending.reader.market().reserve(quote).decimals)

    repay = _ok(timer.run("repay", lambda: lending.repay(key=f"{key}/repay", symbol=quote, amount=arrived_units)))
    return RoundTrip(
        withdrawn_units=amount_units,
        withdraw=withdraw,
        unwrap=unwrap,
        send=send,
        deposit_address=deposit_address,
        deposit=deposit,
        head_at_credit=head_at_credit,
        book=book,
        floor=floor,
        sell=sold,
        withdrawal=withdrawal,
        withdrawal_requested=requested,
        arrived_units=arrived_units,
        repay=repay,
        exchange=exchange,
        legs=timer.legs,
    )


def human(units: int, decimals: int = 18) -> Decimal:
    return from_units(units, decimals)

"""The simulated adapters honour the engine's ports: the withdraw guard, transfers that land
with their delays, IOC sells under a floor, withdrawals back, repay."""

from __future__ import annotations

from decimal import Decimal

from bot.backtest.adapters import SimClock, SimLending, SimVenue
from bot.domain.wadray import MAX_UINT256
from bot.ports import Clock, Lending, Outcome, TransferState, Venue
from tests.support.sim_world import sim_world

E18, E6, E8 = 10**18, 10**6, 10**8


def test_sim_adapters_implement_the_ports():
    w = sim_world()
    assert isinstance(SimLending(w), Lending)
    assert isinstance(SimVenue(w), Venue)
    assert isinstance(SimClock(w), Clock)


def test_withdraw_that_would_break_hf_1_is_refused_like_aave():
    w = sim_world()  # HF = 16,600 / 10,000 = 1.66: at most ~3.97 WETH can leave
    lending = SimLending(w)
    refused = lending.withdraw(key="w1", symbol="WETH", amount=4 * E18)
    assert refused.outcome is Outcome.FAILED and refused.error.startswith("35")
    assert lending.withdraw(key="w2", symbol="WETH", amount=3 * E18).outcome is Outcome.OK
    assert lending.lookup("w2").outcome is Outcome.OK


def test_a_batch_round_trip_through_the_ports():
    w = sim_world()
    lending, venue = SimLending(w), SimVenue(w)
    lending.withdraw(key="w", symbol="WETH", amount=2 * E18)
    tx = lending.transfer(key="d", symbol="WETH", to=venue.deposit_address("ETH", "ERC20"), amount=2 * E18)
    assert venue.deposit(coin="ETH", txid=tx.tx_hash).state is TransferState.PENDING
    for tr in w.due(w.now + 301):
        w.land(tr)
    assert venue.deposit(coin="ETH", txid=tx.tx_hash).state is TransferState.OK
    assert venue.balances()["ETH"] == 2
    sold = venue.sell(key="s", symbol="ETH/USDT", qty=Decimal(2), floor_price=Decimal("1990"))
    assert sold.filled == 2 and sold.avg_price > Decimal("1990")
    assert venue.sell(key="s", symbol="ETH/USDT", qty=Decimal(2), floor_price=Decimal("1990")) is sold  # idempotent
    out = venue.withdraw(key="q", coin="USDT", amount=venue.balances()["USDT"], address="me", network="ERC20")
    assert out.state is TransferState.PENDING
    w.set_time(10, 601, w.oracle_base)
    for tr in w.due(w.now + 1):
        w.land(tr)
    assert venue.withdrawal(key="q", coin="USDT").state is TransferState.OK
    before = w.debt.balance
    assert lending.repay(key="r", symbol="USDT", amount=MAX_UINT256).outcome is Outcome.OK
    assert before - w.debt.balance == int(sold.net_quote * E6)
    assert w.ledger.collateral_sold == 2 and w.ledger.gas_usd > 0

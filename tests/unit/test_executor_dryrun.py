"""Dry-run: the same executor over real reads (here: the fakes) and simulated writes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.adapters.dryrun import DRY_RUN_DEPOSIT_ADDRESS, dry_run_pair
from bot.domain.position import health_factor_wad
from bot.engine.journal import BatchStatus, Journal
from bot.ports import Outcome
from tests.support.engine_kit import executor_over
from tests.support.fakes import E18, Crash, FakeLending, FakeVenue, crash_at, make_world


@pytest.fixture
def setup(tmp_path):
    world = make_world(idle_wallet_usdt=100)
    lending, venue = dry_run_pair(FakeLending(world), FakeVenue(world))
    return world, lending, venue, tmp_path


def _spec(eth=10):
    from bot.engine.steps import BatchSpec

    return BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=eth * E18)


def test_dryrun_batch_completes_and_touches_nothing_real(setup):
    world, lending, venue, tmp = setup
    real_position, real_wallet, real_book = world.position, dict(world.wallet), world.book
    with Journal(tmp / "j.sqlite", clock=world.clock) as journal:
        result = executor_over(world, lending, venue, journal).execute(_spec(), lending.snapshot())
    assert result.status is BatchStatus.DONE
    assert world.txs == [] and world.orders == [] and world.withdrawals == []  # nothing signed or sent
    assert world.position == real_position and world.wallet == real_wallet and world.book == real_book
    simulated = lending.snapshot().position
    assert simulated.reserve("WETH").collateral == 90 * E18
    assert health_factor_wad(simulated) > health_factor_wad(real_position)
    assert Decimal(result.accounting["sold_filled"]) == 10
    writes = {c[0] for c in world.calls} & {"withdraw", "repay", "transfer", "unwrap", "sell", "venue_withdraw"}
    assert writes == set()


def test_dryrun_sells_from_the_real_book_at_the_floor(setup):
    world, lending, venue, _ = setup
    venue.ledger.exchange["ETH"] = Decimal(3)
    result = venue.sell(key="k:sell", symbol="ETH/USDT", qty=Decimal(3), floor_price=Decimal("1999"))
    assert result.filled == 3 and result.gross_quote == Decimal(5 * 0 + 2000 * 3)
    again = venue.sell(key="k:sell", symbol="ETH/USDT", qty=Decimal(3), floor_price=Decimal("1999"))
    assert again == result  # resumable by key: no second fill
    limited = venue.sell(key="k2:sell", symbol="ETH/USDT", qty=Decimal(100), floor_price=Decimal("1999.5"))
    assert limited.filled == 0  # nothing left on the ledger's exchange balance


def test_dryrun_withdraw_refuses_what_aave_would(setup):
    world, lending, _, _ = setup
    result = lending.withdraw(key="k:withdraw", symbol="WETH", amount=99 * E18)
    assert result.outcome is Outcome.FAILED and result.error == "35"
    assert lending.lookup("k:withdraw") == result


def test_dryrun_deposit_address_is_never_the_real_one(setup):
    _, _, venue, _ = setup
    assert venue.deposit_address("ETH", "ETH") == DRY_RUN_DEPOSIT_ADDRESS


def test_dryrun_crash_and_resume_completes(setup):
    world, lending, venue, tmp = setup
    journal = Journal(tmp / "j.sqlite", clock=world.clock)
    with pytest.raises(Crash):
        executor_over(world, lending, venue, journal, crash=crash_at("after_act:sell")).execute(
            _spec(), lending.snapshot()
        )
    journal.close()
    with Journal(tmp / "j.sqlite", clock=world.clock) as journal:
        (result,) = executor_over(world, lending, venue, journal).resume()
    assert result.status is BatchStatus.DONE and len(venue.ledger.sells) == 1

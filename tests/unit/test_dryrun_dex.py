"""Dry-run on the DEX route: the same executor, the pool's real quote, the deleverage simulated
on the dry-run's ledger under the adapter's revert rules; nothing signed, nothing sent."""

from __future__ import annotations

import pytest

from bot.adapters.dryrun import DryRunDex, dry_run_pair
from bot.domain.position import health_factor_wad
from bot.engine.batch_spec import BatchSpec
from bot.engine.journal import BatchStatus, Journal, StepStatus
from bot.ports import Outcome
from tests.support.dex_fakes import FakeDex
from tests.support.engine_kit import executor_over
from tests.support.fakes import E6, E18, Crash, FakeLending, FakeVenue, crash_at, make_world

REPAY = 40_000 * E6
CAP = 21 * E18
SOLD = 20_070_030_000_000_000_001  # 40,020 USDT (repay + 5 bps premium) / 2,000 + 30 bps


@pytest.fixture
def setup(tmp_path):
    world = make_world(debt_usdt=162_745)  # HF ≈ 1.02
    lending, venue = dry_run_pair(FakeLending(world), FakeVenue(world))
    return world, lending, venue, DryRunDex(FakeDex(world), lending), tmp_path


def _spec(*, cap: int = CAP, pool_fee: int = 500) -> BatchSpec:
    return BatchSpec(
        collateral="WETH", debt="USDT", withdraw_amount=cap, route="dex", dex_repay_units=REPAY, dex_pool_fee=pool_fee
    )


def test_a_dex_batch_is_simulated_at_the_pools_quote_and_touches_nothing_real(setup):
    world, lending, venue, dex, tmp = setup
    real = world.position
    with Journal(tmp / "j.sqlite", clock=world.clock) as journal:
        result = executor_over(world, lending, venue, journal, dex=dex).execute(_spec(), lending.snapshot())
        steps = [(r.step, r.status) for r in journal.steps()]
    assert result.status is BatchStatus.DONE
    assert steps == [("atomic_deleverage", StepStatus.OK), ("verify", StepStatus.OK)]
    assert world.txs == [] and world.position == real  # nothing signed, the chain untouched
    simulated = lending.snapshot().position
    assert simulated.reserve("WETH").collateral == 100 * E18 - SOLD
    assert simulated.reserve("USDT").debt == 122_745 * E6
    assert health_factor_wad(simulated) > health_factor_wad(real)
    assert result.accounting["dex_collateral_sold_units"] == str(SOLD)


def test_a_key_already_simulated_is_reconciled_not_simulated_again(setup):
    world, lending, _, dex, _ = setup
    args = {"collateral": "WETH", "debt": "USDT", "repay_units": REPAY, "max_collateral_in_units": CAP}
    first = dex.atomic_deleverage(key="b-1:atomic_deleverage", pool_fee=500, **args)
    again = dex.atomic_deleverage(key="b-1:atomic_deleverage", pool_fee=500, **args)
    assert first == again == dex.lookup("b-1:atomic_deleverage") and first.outcome is Outcome.OK
    assert lending.snapshot().position.reserve("USDT").debt == 122_745 * E6  # repaid once


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (_spec(cap=20 * E18), "past the slippage cap"),
        (_spec(pool_fee=3000), "the 3000 pool cannot pay the repay"),
    ],
    ids=["past-the-cap", "no-such-pool"],
)
def test_what_the_adapter_would_revert_fails_the_batch_with_nothing_moved(setup, spec, error):
    world, lending, venue, dex, tmp = setup
    before = lending.snapshot().position
    with Journal(tmp / "j.sqlite", clock=world.clock) as journal:
        result = executor_over(world, lending, venue, journal, dex=dex).execute(spec, lending.snapshot())
        row = journal.step(result.batch_id, "atomic_deleverage")
    assert result.status is BatchStatus.FAILED and row.status is StepStatus.FAILED
    assert error in (row.error or "")
    assert lending.snapshot().position == before


def test_a_crash_after_the_simulated_send_resumes_without_a_second_effect(setup):
    world, lending, venue, dex, tmp = setup
    crash = crash_at("after_act:atomic_deleverage")
    with Journal(tmp / "j.sqlite", clock=world.clock) as journal, pytest.raises(Crash):
        executor_over(world, lending, venue, journal, dex=dex, crash=crash).execute(_spec(), lending.snapshot())
    with Journal(tmp / "j.sqlite", clock=world.clock) as journal:
        (result,) = executor_over(world, lending, venue, journal, dex=dex).resume()
    assert result.status is BatchStatus.DONE
    assert lending.snapshot().position.reserve("WETH").collateral == 100 * E18 - SOLD

"""A full batch through the executor on fake adapters: the engine's own overhead per batch
(ten steps, each an intent commit + an outcome commit, fsynced: synchronous=FULL)."""

from __future__ import annotations

import itertools

from bot.engine.executor import Executor
from bot.engine.journal import BatchStatus, Journal
from bot.engine.steps import BatchSpec
from tests.support.engine_kit import default_config
from tests.support.fakes import E18, FakeLending, FakeVenue, make_world

_counter = itertools.count()


def test_engine_full_batch_on_fakes(benchmark, tmp_path):
    def run_one():
        n = next(_counter)
        world = make_world(idle_wallet_usdt=1000)
        world.confirm_delay_s = world.credit_delay_s = world.withdraw_delay_s = 0  # measure the engine, not the waits
        lending, venue = FakeLending(world), FakeVenue(world)
        with Journal(tmp_path / f"j{n}.sqlite", clock=world.clock) as journal:
            executor = Executor(
                journal=journal,
                lending=lending,
                venue=venue,
                clock=world.clock,
                config=default_config(world, unwrap_native=True),
            )
            result = executor.execute(BatchSpec("WETH", "USDT", 10 * E18), lending.snapshot())
        assert result.status is BatchStatus.DONE

    benchmark.pedantic(run_one, rounds=10, iterations=1)


def test_engine_journal_transition_commit(benchmark, tmp_path):
    world = make_world()
    with Journal(tmp_path / "j.sqlite", clock=world.clock) as journal:
        batch = journal.open_batch(spec={}, start={})
        steps = itertools.count()

        def one_intent():
            journal.write_intent(batch, f"s{next(steps)}", key=f"{batch}:s{next(steps)}", intent={"amount": "1"})

        benchmark(one_intent)

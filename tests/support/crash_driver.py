"""Run one batch (or resume) in its own process, over a fake world persisted to a file.

    python -m tests.support.crash_driver STATE JOURNAL start|start-repay-first|resume

``start-repay-first``: a 15,000 USDT buffer in the wallet, spent first and refilled by the sale.

``DELEVER_CRASH_AT=<point>`` makes the executor die there with ``os._exit(137)``. The world is
saved after every call into it, as a venue keeps what happened whatever the client does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.engine.executor import Executor
from bot.engine.journal import Journal
from bot.engine.steps import BatchSpec
from tests.support.engine_kit import default_config
from tests.support.fakes import E6, E18, FakeLending, FakeVenue, FakeWorld, make_world

REPAY_FIRST_BUFFER_USDT = 15_000


class Persisting:
    """Forward every call to a fake adapter, then save the world."""

    def __init__(self, inner, world: FakeWorld, path: Path) -> None:
        self._inner, self._world, self._path = inner, world, path

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            finally:
                self._world.save(self._path)

        return call


def main(state: Path, journal_path: Path, action: str) -> int:
    idle = REPAY_FIRST_BUFFER_USDT if action == "start-repay-first" else 1000
    world = FakeWorld.load(state) if state.exists() else make_world(idle_wallet_usdt=idle)
    world.clock.on_sleep.append(lambda _now: world.save(state))
    lending = Persisting(FakeLending(world), world, state)
    venue = Persisting(FakeVenue(world), world, state)
    with Journal(journal_path, clock=world.clock) as journal:
        executor = Executor(
            journal=journal,
            lending=lending,
            venue=venue,
            clock=world.clock,
            config=default_config(world, unwrap_native=True),
        )  # crash hook from the environment
        if action == "start":
            spec = BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=10 * E18)
            results = [executor.execute(spec, lending.snapshot())]
        elif action == "start-repay-first":
            buffer = REPAY_FIRST_BUFFER_USDT * E6
            spec = BatchSpec(
                collateral="WETH",
                debt="USDT",
                withdraw_amount=10 * E18,
                repay_idle_amount=buffer,
                order="repay_first",
                refill_units=buffer,
            )
            results = [executor.execute(spec, lending.snapshot())]
        else:
            results = executor.resume()
    world.save(state)
    print(json.dumps([r.status.value for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))

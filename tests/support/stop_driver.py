"""Run the daemon (``build_runtime``, as ``delever run`` does) in its own process over a fake
world kept in a file, with its signal handlers: the stop tests send it SIGTERM.

    python -m tests.support.stop_driver STATE DIR wait|resume

``wait``: the wall clock (``SystemClock``, stop-aware, as in production) while the fake chain's
time stands still, so the first transaction never reaches its confirmations: the withdraw step
waits (up to ``engine.transfer_timeout_s``, an hour here), as on a stuck chain.
``resume``: ``run --once`` on the chain's own clock (every wait moves it), which finishes the
batch the stopped run left. The world is saved after every call into it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.compose.adapters import RealAdapters
from bot.compose.daemon import build_runtime
from bot.logs import configure_logging
from tests.support.compose_kit import PAP, settings
from tests.support.crash_driver import Persisting
from tests.support.fakes import FakeLending, FakeVenue, FakeWorld


def main(state: Path, directory: Path, action: str) -> int:
    configure_logging(json=False, level="info")
    world = FakeWorld.load(state)

    def adapters(config):  # the fake ports, each call saved
        world.wallet_address = str(config.wallet.address)
        return RealAdapters(
            Persisting(FakeLending(world), world, state), Persisting(FakeVenue(world), world, state), 31337, PAP
        )

    clock = world.clock if action == "resume" else None  # None: the daemon's own wall clock
    runtime = build_runtime(settings(directory), live_flag=False, clock=clock, adapters=adapters)
    runtime.kill_switch.install_signal_handlers()
    print("ready", flush=True)
    code = runtime.run(once=action == "resume")
    world.save(state)
    return code


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))

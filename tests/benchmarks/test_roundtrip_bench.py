"""Wall time of one deleveraging round trip on the devnet (1 s blocks) through the real adapters,
split per leg: withdraw, unwrap, send → deposit credited → sell → USDT withdrawn and landed → repay.

`make bench` runs ``ROUNDS`` rounds and stores the median seconds per leg in ``extra_info``
(``legs``, and ``cycle_s`` for deposit → sell → withdraw); `make test` runs one round untimed.
A fresh venue waits out its in-flight window (recvWindow + 1 s) before its first keyed write
(a previous process may have sent that id); a daemon pays it once at start-up, so the timed
rounds start after it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from itertools import count

import pytest

from bot.compose.adapters import open_lending, open_venue
from bot.ports import Outcome, TransferState
from tests.support.live import LiveDevnet, live_devnet
from tests.support.roundtrip import CYCLE_LEGS, RoundTrip, round_trip

pytestmark = pytest.mark.integration
ROUNDS = 3
AMOUNT = 10**18  # 1 ETH a round
START_WINDOW_S = 11.0  # the venue's default: recvWindow 10 s + 1 s of clock skew


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDevnet]:
    with live_devnet(tmp_path_factory.mktemp("devnet")) as devnet:
        yield devnet


def test_roundtrip_bench_legs_on_the_devnet(benchmark, live: LiveDevnet) -> None:
    settings = live.settings()
    lending = open_lending(settings)
    lending.sender.reconcile_open()
    opened = time.monotonic()
    venue = open_venue(settings.exchange, in_flight_window_s=START_WINDOW_S)
    rules = venue.rules(settings.exchange.symbol)
    if not benchmark.disabled:
        time.sleep(max(0.0, opened + START_WINDOW_S - time.monotonic()))
    numbers = count()
    trips: list[RoundTrip] = []

    def one_round() -> None:
        trips.append(
            round_trip(
                lending=lending,
                venue=venue,
                rules=rules,
                key=f"bench/{next(numbers)}",
                amount_units=AMOUNT,
                wallet=str(settings.wallet.address),
                network=settings.exchange.deposit_network,
                max_slippage_bps=settings.limits.max_slippage_bps,
                head=lambda: live.w3.eth.block_number,
            )
        )

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=0)

    for t in trips:
        assert t.repay.outcome is Outcome.OK and t.withdrawal.state is TransferState.OK
        assert t.sell.filled > 0 and not t.sell.exhausted
    legs = {leg: round(statistics.median(t.legs[leg] for t in trips), 3) for leg in trips[0].legs}
    benchmark.extra_info["legs_median_s"] = legs
    benchmark.extra_info["cycle_median_s"] = round(statistics.median(t.cycle_s for t in trips), 3)
    benchmark.extra_info["cycle_legs"] = list(CYCLE_LEGS)
    benchmark.extra_info["rounds"] = len(trips)

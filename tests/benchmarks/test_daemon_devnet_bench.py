"""The daemon on the devnet, one round each: how many blocks from the HF crossing the trigger
to the first transaction, and a full batch's wall time with the per-step split.

A real `delever devnet up` (a block a second) and `delever --config config/devnet.toml run`
already running and past its start-up (the exchange adapter's in-flight window: a lookup
that finds no order is conclusive only recvWindow + 1 s after the process started), then
`delever devnet set-price WETH` drops HF from 1.45 to 1.25. Numbers go to ``extra_info``.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from bot.domain.wadray import WAD
from bot.engine.journal import BatchStatus
from tests.support.unwind_harness import Devnet, batch_report

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]
TRIGGER_WAD = int(Decimal("1.3") * WAD)
START_HF = Decimal("1.25")
IN_FLIGHT_WINDOW_S = 5.0 + 1.0  # config/devnet.toml exchange.recv_window_ms + 1 s


@pytest.fixture
def running(tmp_path):
    net = Devnet.up(tmp_path)
    try:
        net.start_daemon()
        # Steady state: the daemon has watched blocks for longer than its in-flight window.
        time.sleep(max(0.0, net.marks["daemon_start"] + IN_FLIGHT_WINDOW_S + 1 - time.monotonic()))
        net.start_sampler()
        yield net
    finally:
        net.down()


def _first_batch(net: Devnet):
    batches, steps = net.journal()
    return (batches[0], steps[batches[0].id]) if batches else (None, [])


def _first_tx_block(net: Devnet) -> int | None:
    _, steps = _first_batch(net)
    withdraw = next((s for s in steps if s.step == "withdraw"), None)
    return withdraw.outcome.get("block") if withdraw is not None and withdraw.outcome else None


def test_bench_blocks_from_trigger_crossing_to_first_transaction(benchmark, running):
    net = running

    def crash_and_wait() -> int:
        net.crash_to(START_HF)
        net.wait_for(lambda: _first_tx_block(net) is not None, 120, "the first transaction")
        return _first_tx_block(net)

    first_tx = benchmark.pedantic(crash_and_wait, rounds=1, iterations=1)
    net.wait_for(lambda: first_tx in net.sampler.hf, 10, "the sampler")
    crossing = min(b for b, hf in net.sampler.hf.items() if hf < TRIGGER_WAD)
    batch, _ = _first_batch(net)
    seen = net.sampler.seen_at
    benchmark.extra_info.update(
        {
            "crossing_block": crossing,
            "first_tx_block": first_tx,
            "blocks": first_tx - crossing,
            "s_crossing_seen_to_batch_open": round(batch.created_at - seen[crossing], 2),
            "s_crossing_seen_to_first_tx_seen": round(seen[first_tx] - seen[crossing], 2),
        }
    )
    print("\nBENCH " + json.dumps(benchmark.extra_info))
    assert 1 <= first_tx - crossing <= 4  # the block after the crossing, plus the tx's own block or two


def test_bench_full_batch_wall_time_with_step_split(benchmark, running):
    net = running

    def crash_and_run_one_batch() -> None:
        net.crash_to(START_HF)
        net.wait_for(
            lambda: (b := _first_batch(net)[0]) is not None and b.status is not BatchStatus.OPEN, 120, "the first batch"
        )

    benchmark.pedantic(crash_and_run_one_batch, rounds=1, iterations=1)
    batch, steps = _first_batch(net)
    assert batch.status is BatchStatus.DONE
    (row,) = batch_report([batch], {batch.id: steps})
    ordered = sorted((s for s in steps if s.intent.get("skipped") is None), key=lambda s: s.created_at)
    gaps = round(sum(b.created_at - a.updated_at for a, b in zip(ordered, ordered[1:])), 2)
    benchmark.extra_info.update(
        {
            "batch_wall_s": row["wall_s"],
            "steps_s": row["steps_s"],
            "between_steps_s": gaps,
            "withdraw_weth": row["withdraw_weth"],
            "hf_before": row["hf_before"],
            "hf_after": row["hf_after"],
        }
    )
    print("\nBENCH " + json.dumps(benchmark.extra_info))
    assert row["wall_s"] < 60

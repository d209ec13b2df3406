"""Soak: the daemon on the devnet for ``DELEVER_SOAK_S`` seconds (600 here; 3600 by hand) under a
seeded random-walk oracle price, faults drawn at random from the fault suites' catalogue (RPC
5xx / garbage / delays / lost broadcasts through the fault proxy; exchange 5xx / 429 + 418 /
delays / lost answers / partial fills through the emulator; kill -9, SIGTERM and
``DELEVER_CRASH_AT`` crash points, each followed by a restart), then: the fault suites'
invariants, HF ≥ floor at every block (but where the oracle fell more than the shock since the
last withdraw), the journal not halted, and the daemon's RSS flat.

``DELEVER_SOAK_SEED`` sets the seed (the suite uses a fixed one; ``random`` draws a new one);
the seed is printed, and named in every failure.
Numbers are printed as one ``SOAK {...}`` JSON line.
"""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal

import pytest

from bot.engine.journal import BatchStatus, ControlState
from tests.support.faults_helpers import assert_invariants, events_text
from tests.support.soak import FLOOR, Soak, soak_rig, soak_seconds, soak_seed
from tests.support.unwind_harness import batch_report

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

DURATION_S = soak_seconds(600)
RSS_GROWTH_LIMIT_MB = 50


@pytest.mark.skipif(
    not os.environ.get("DELEVER_SOAK_S"),
    reason="opt-in (DELEVER_SOAK_S=600): seed 20261203 ends with HF not raised after the final shock "
    "on the merged engine; under investigation before it joins the CI suite",
)
@pytest.mark.timeout(DURATION_S + 240)
def test_soak_random_walk_and_random_faults_keep_the_invariants(tmp_path):
    seed = soak_seed()
    print(f"\nsoak seed {seed} ({DURATION_S:.0f} s); replay with DELEVER_SOAK_SEED={seed}")
    with soak_rig(tmp_path) as (rig, proxy):
        soak = Soak(rig, proxy, seed, DURATION_S)
        soak.prices.append((rig.start_block, soak.price))
        wall = time.monotonic()
        try:
            soak.run()
            soak.wind_down()
        except BaseException:
            print(f"soak seed {seed}: failed while running; journal:\n{_journal_tail(rig)}")
            raise
        wall = time.monotonic() - wall
        why = f"(seed {seed})"

        with rig.journal() as j:
            batches = j.batches()
            steps = {b.id: j.steps(b.id) for b in batches}
            withdraw_blocks = sorted(
                int(step.outcome["block"])
                for b in batches
                if (step := j.step(b.id, "withdraw")) is not None and step.outcome and "block" in step.outcome
            )
            control, reason = j.control()
        statuses = {s.value: sum(b.status is s for b in batches) for s in BatchStatus}
        exempt = soak.blocks_after_a_large_shock(withdraw_blocks)
        low_block, low_hf = soak.min_hf()
        floor_block, floor_hf = soak.min_hf(exempt)
        report = {
            "seed": seed,
            "duration_s": round(wall, 1),
            "batches": statuses,
            "faults_armed": dict(soak.faults),
            "faults_fired": dict(soak.fired()),
            "restarts": len(soak.generations) - 1,
            "exits": soak.exits,
            "unexpected_exits": soak.unexpected,
            "control_changes": soak.control,
            "relevers": soak.relevers,
            "price_moves": len(soak.prices) - 1,
            "price_range": [str(min(p for _, p in soak.prices)), str(max(p for _, p in soak.prices))],
            "blocks_sampled": len(soak.sampler.hf),
            "hf_min": [low_block, str(low_hf.quantize(Decimal("0.0001")))],
            "hf_min_outside_large_shocks": [floor_block, str(floor_hf.quantize(Decimal("0.0001")))],
            "blocks_after_a_large_shock": len(exempt),
            "rss": soak.rss_report(),
            "exchange_requests_logged": len(rig.admin("GET", "/requests")),  # the emulator keeps 10,000
            "batch_wall_s": [r["wall_s"] for r in batch_report(batches, steps)],
        }
        print("SOAK " + json.dumps(report, default=str))

        assert not soak.sampler.errors, (why, soak.sampler.errors[:3])
        blocks = sorted(soak.sampler.hf)
        assert blocks == list(range(blocks[0], blocks[-1] + 1)), f"a block was not sampled {why}"
        assert control is ControlState.NORMAL, (why, control, reason, soak.control)
        assert not soak.unexpected, (why, soak.unexpected)
        assert statuses["DONE"] >= max(2, DURATION_S // 100), (why, statuses)  # the walk kept it busy
        assert floor_hf >= FLOOR, (why, floor_block, floor_hf)
        try:
            assert_invariants(rig, batches=None)
        except AssertionError as e:
            raise AssertionError(f"{why} {e}\n{_journal_tail(rig)}") from e
        long_lived = [r for r in report["rss"] if r["lived_s"] >= min(120, DURATION_S / 3)]
        assert long_lived, (why, report["rss"])
        for row in long_lived:
            assert row["growth_mb"] < RSS_GROWTH_LIMIT_MB, (why, row)


def _journal_tail(rig) -> str:
    try:
        return events_text(rig)[-4000:]
    except Exception as e:  # noqa: BLE001 - a diagnostic only
        return f"(journal unreadable: {e})"

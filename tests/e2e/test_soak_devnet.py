"""Soak: the daemon on the devnet for ``DELEVER_SOAK_S`` seconds (600 here; 3600 by hand) under a
seeded random-walk oracle price, faults drawn at random from the fault suites' catalogue (RPC
5xx / garbage / delays / lost broadcasts through the fault proxy; exchange 5xx / 429 + 418 /
delays / lost answers / partial fills through the emulator; kill -9, SIGTERM and
``DELEVER_CRASH_AT`` crash points, each followed by a restart), then: the fault suites'
invariants, HF ≥ floor at every block (but where the oracle fell more than the shock since the
last withdraw), the journal not halted, and the daemon's RSS flat.

``DELEVER_SOAK_SEED`` sets the seed (the suite uses a fixed one; ``random`` draws a new one);
the seed is printed, and named in every failure. Numbers are printed as one ``SOAK {...}`` JSON
line. A failure keeps the journal, every daemon's log and the report in the directory its
message names (``tests.support.soak.keep_artefacts``: ``$DELEVER_SOAK_ARTEFACTS`` or
``.delever/soak/``). The in-transit shock is the configured 3 % (candles off, see
``soak_rig``): the walk's per-minute volatility is a crash compressed into seconds.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from bot.engine.journal import BatchStatus, ControlState
from tests.support.faults_helpers import assert_invariants
from tests.support.soak import FLOOR, Soak, journal_events, keep_artefacts, soak_rig, soak_seconds, soak_seed
from tests.support.unwind_harness import batch_report

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

DURATION_S = soak_seconds(600)
RSS_GROWTH_LIMIT_MB = 50


@pytest.mark.timeout(DURATION_S + 420)  # + the devnet's start and the wind-down, on a loaded machine
def test_soak_random_walk_and_random_faults_keep_the_invariants(tmp_path):
    seed = soak_seed()
    print(f"\nsoak seed {seed} ({DURATION_S:.0f} s); replay with DELEVER_SOAK_SEED={seed}")
    with soak_rig(tmp_path) as (rig, proxy):
        soak = Soak(rig, proxy, seed, DURATION_S)
        soak.prices.append((rig.start_block, soak.price))
        wall = time.monotonic()
        report: dict = {"seed": seed}
        try:
            soak.run()
            soak.wind_down()
            report = _report(soak, rig, seed, time.monotonic() - wall)
            print("SOAK " + json.dumps(report, default=str))
            _assert_soak(soak, rig, report)
        except BaseException as e:
            kept = keep_artefacts(rig, seed, report)
            print(f"soak seed {seed} failed; journal, daemon logs and report kept in {kept}")
            print(f"the journal's last events:\n{journal_events(rig)}")
            if isinstance(e, AssertionError):
                raise AssertionError(f"(seed {seed}; artefacts in {kept}) {e}") from e
            raise


def _report(soak: Soak, rig, seed: int, wall: float) -> dict:
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
    return {
        "seed": seed,
        "duration_s": round(wall, 1),
        "batches": statuses,
        "control": [control.value, reason],
        "wind_down": soak.wind_down_result,
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


def _assert_soak(soak: Soak, rig, report: dict) -> None:
    assert not soak.sampler.errors, soak.sampler.errors[:3]
    blocks = sorted(soak.sampler.hf)
    assert blocks == list(range(blocks[0], blocks[-1] + 1)), "a block was not sampled"
    assert report["control"][0] == ControlState.NORMAL.value, (report["control"], soak.control)
    assert not soak.unexpected, soak.unexpected
    statuses = report["batches"]
    assert statuses["DONE"] >= max(2, DURATION_S // 100), statuses  # the walk kept it busy
    floor_block, floor_hf = report["hf_min_outside_large_shocks"]
    assert Decimal(floor_hf) >= FLOOR, (floor_block, floor_hf)
    assert soak.wind_down_result["settled"], soak.wind_down_result
    assert_invariants(rig, batches=None)
    long_lived = [r for r in report["rss"] if r["lived_s"] >= min(120, DURATION_S / 3)]
    assert long_lived, report["rss"]
    for row in long_lived:
        assert row["growth_mb"] < RSS_GROWTH_LIMIT_MB, row

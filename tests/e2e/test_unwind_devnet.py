"""Acceptance on the devnet: after a price crash the daemon restores HF to the target through
real withdraw → deposit → sell → withdraw → repay batches, with HF above the floor at every
block and no fill below a sell's floor price.

`delever devnet up` (anvil mining a block a second, Aave v3, the emulator following the Aave
oracle) and `delever --config config/devnet.toml run` as a subprocess, exactly as a user runs
them (with ``engine.hold_to_target`` on, so that ``threshold`` carries on from its trigger to
its target); the demo position (100 WETH, HF 1.45) is crashed with `delever devnet set-price WETH`.
Measurements (batches, sizes, wall times, per-step split) are printed as one JSON line per test.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot.domain.wadray import WAD
from bot.engine.journal import BatchStatus, StepStatus
from tests.support.unwind_harness import Devnet, assert_no_fill_below_the_floor, batch_report

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]
D = Decimal
TRIGGER, TARGET, FLOOR = D("1.3"), D("1.6"), D("1.05")  # config/devnet.toml
# The last batch is planned to land on the target; fees and the fill make it a hair short
# and the remainder is below the minimum batch, so "at the target" means within 0.5 %.
AT_TARGET_WAD = int(TARGET * WAD * D("0.995"))
LEGS = ("withdraw", "unwrap", "deposit", "await_deposit", "sell", "withdraw_quote", "await_quote", "repay", "verify")


@pytest.fixture
def devnet(tmp_path):
    net = Devnet.up(tmp_path)
    try:
        yield net
    finally:
        net.down()


def _unwind(devnet: Devnet, start_hf: Decimal, *, timeout: float) -> dict:
    # threshold is memoryless (quiet from its trigger up): hold its intent to the target.
    devnet.start_daemon(env={"DELEVER_ENGINE__HOLD_TO_TARGET": "true"})
    sampler = devnet.start_sampler()
    crash = devnet.crash_to(start_hf)
    devnet.wait_until_settled(target_wad=AT_TARGET_WAD, timeout=timeout)
    assert devnet.stop_daemon() == 0, devnet.log()[-3000:]
    sampler.stop()
    assert not sampler.errors, sampler.errors[:3]

    batches, steps = devnet.journal()
    assert batches and all(b.status is BatchStatus.DONE for b in batches), [(b.id, b.status) for b in batches]
    for b in batches:
        status = {s.step: s.status for s in steps[b.id]}
        assert all(status[leg] is StepStatus.OK for leg in LEGS), (b.id, status)  # real legs, every batch

    # HF at every block from the crash to the end: never below the floor.
    blocks = sorted(sampler.hf)
    assert blocks == list(range(blocks[0], blocks[-1] + 1)), "a block was not sampled"
    crossing = min(b for b, hf in sampler.hf.items() if hf < int(TRIGGER * WAD))
    after = {b: hf for b, hf in sampler.hf.items() if b >= crossing}
    min_block = min(after, key=after.get)
    assert after[min_block] >= int(FLOOR * WAD), (min_block, after[min_block])
    final_hf = devnet.hf_wad()
    assert final_hf >= AT_TARGET_WAD

    fills = assert_no_fill_below_the_floor(devnet, batches, steps)

    rows = batch_report(batches, steps)
    first_tx = rows[0]["withdraw_block"]
    seen = sampler.seen_at
    last_close = max(b.updated_at for b in batches)
    first_open = min(b.created_at for b in batches)
    report = {
        "start_hf": str(start_hf),
        "crash_price": crash["price_usd"],
        "hf_after_crash": crash["health_factor"],
        "crossing_block": crossing,
        "first_tx_block": first_tx,
        "blocks_to_first_tx": first_tx - crossing,
        "s_crossing_to_first_batch_open": round(first_open - seen[crossing], 2),
        "s_crossing_to_first_tx_mined": round(seen[first_tx] - seen[crossing], 2),
        "final_hf": str((D(final_hf) / WAD).quantize(D("0.0001"))),
        "min_hf": str((D(after[min_block]) / WAD).quantize(D("0.0001"))),
        "min_hf_block": min_block,
        "blocks_sampled": len(blocks),
        "fills_checked": fills,
        "batches": len(rows),
        "batch_sizes_weth": [r["withdraw_weth"] for r in rows],
        "unwind_wall_s_first_open_to_last_close": round(last_close - first_open, 1),
        "unwind_blocks": max(seen) - crossing,
        "per_batch_wall_s": [r["wall_s"] for r in rows],
        "rows": rows,
    }
    print("\nUNWIND " + json.dumps(report))
    return report


def test_unwind_from_hf_1_16_restores_the_target_above_the_floor(devnet):
    report = _unwind(devnet, D("1.16"), timeout=600)
    sizes = [D(s) for s in report["batch_sizes_weth"]]
    assert sizes[1] > sizes[0]  # the planner grows batches as HF recovers


@pytest.mark.timeout(1500)
def test_unwind_from_hf_1_09_restores_the_target_above_the_floor(devnet):
    report = _unwind(devnet, D("1.09"), timeout=1200)
    sizes = [D(s) for s in report["batch_sizes_weth"]]
    assert sizes[1] > sizes[0]

"""Kill -9 with two batches in flight: the controller (``max_in_flight`` 2) runs in a child
process that dies with ``os._exit(137)`` at a named crash point, the first time any batch
reaches it; a second process resumes every open batch on the same journal file. Each batch
completes exactly once and the books balance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.domain.position import to_units
from bot.engine.executor import CRASH_ENV
from bot.engine.journal import Journal
from bot.engine.steps import crash_points
from tests.support.crash_driver import PIPELINED_BATCHES
from tests.support.fakes import E6, E18, FakeWorld

ROOT = Path(__file__).resolve().parents[2]
# Reached while both batches are in flight (the second batch, opened beside the first, is
# ahead of it: the first waits on its idle repay's confirmations).
FAST = ("after_act:deposit", "after_act:sell", "after_intent:await_quote", "before_act:repay")


def _drive(tmp: Path, crash: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash:
        env[CRASH_ENV] = crash
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.crash_driver",
            str(tmp / "world.pickle"),
            str(tmp / "journal.sqlite"),
            "pipelined",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _kill_and_resume(tmp: Path, point: str) -> None:
    first = _drive(tmp, point)
    assert first.returncode == 137, first.stderr
    with Journal(tmp / "journal.sqlite", clock=ManualClock()) as journal:
        open_at_crash = len(journal.open_batches())
    second = _drive(tmp, None)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.strip().splitlines()[-1]) == ["DONE"] * PIPELINED_BATCHES
    assert open_at_crash >= 1
    world = FakeWorld.load(tmp / "world.pickle")
    assert all(n == 1 for n in world.tx_effects_per_key().values()), world.tx_effects_per_key()
    assert all(n == 1 for n in world.orders_per_client_id().values()), world.orders_per_client_id()
    assert all(n == 1 for n in world.withdrawals_per_key().values()), world.withdrawals_per_key()
    assert [o.filled for o in world.orders] == [5] * PIPELINED_BATCHES and world.exchange["ETH"] == 0
    assert world.reserve("WETH").collateral == (100 - 5 * PIPELINED_BATCHES) * E18
    net = sum(o.gross - o.fee for o in world.orders)
    repaid = 120_000 * E6 - world.reserve("USDT").debt
    assert repaid == 1000 * E6 + to_units(net - PIPELINED_BATCHES * world.withdraw_fee, 6)
    assert world.wallet["USDT"] == 0 and world.exchange["USDT"] == 0
    with Journal(tmp / "journal.sqlite", clock=ManualClock()) as journal:
        assert journal.integrity_check() == "ok"


@pytest.mark.parametrize("point", FAST)
def test_pipelined_process_killed_at_point_resumes_each_batch_exactly_once(tmp_path, point):
    _kill_and_resume(tmp_path, point)


@pytest.mark.slow
@pytest.mark.parametrize("point", [p for p in crash_points() if p not in FAST])
def test_pipelined_process_killed_at_every_other_point_resumes_each_batch_exactly_once(tmp_path, point):
    _kill_and_resume(tmp_path, point)

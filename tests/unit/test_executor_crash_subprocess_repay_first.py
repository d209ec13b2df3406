"""Kill -9 semantics for a repay-first batch: the child process dies with ``os._exit(137)`` at
a named point, a second process resumes on the same journal file; the batch completes exactly
once and the buffer it spent is back in the wallet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.engine.executor import CRASH_ENV
from bot.engine.journal import BatchStatus, Journal
from bot.engine.steps import crash_points
from tests.support.crash_driver import REPAY_FIRST_BUFFER_USDT
from tests.support.fakes import E6, E18, FakeWorld

ROOT = Path(__file__).resolve().parents[2]
FAST = ("after_act:repay_idle", "before_act:repay")


def _drive(tmp: Path, action: str, crash: str | None) -> subprocess.CompletedProcess:
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
            action,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _kill_and_resume(tmp_path: Path, point: str) -> None:
    first = _drive(tmp_path, "start-repay-first", point)
    assert first.returncode == 137, first.stderr
    second = _drive(tmp_path, "resume", None)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.strip().splitlines()[-1]) == ["DONE"]
    world = FakeWorld.load(tmp_path / "world.pickle")
    assert all(n == 1 for n in world.tx_effects_per_key().values()), world.tx_effects_per_key()
    assert [t.kind for t in world.txs] == ["repay", "withdraw", "unwrap", "transfer", "repay"]
    assert world.reserve("WETH").collateral == 90 * E18
    assert world.wallet["USDT"] == REPAY_FIRST_BUFFER_USDT * E6
    with Journal(tmp_path / "journal.sqlite", clock=ManualClock()) as journal:
        assert [b.status for b in journal.batches()] == [BatchStatus.DONE]
        assert journal.integrity_check() == "ok"


@pytest.mark.parametrize("point", FAST)
def test_repay_first_process_killed_at_point_resumes_exactly_once(tmp_path, point):
    _kill_and_resume(tmp_path, point)


@pytest.mark.slow
@pytest.mark.parametrize("point", [p for p in crash_points() if p not in FAST])
def test_repay_first_process_killed_at_every_other_point_resumes_exactly_once(tmp_path, point):
    _kill_and_resume(tmp_path, point)

"""A stop request ends the daemon within seconds even while a step waits (a transaction's
confirmations, a deposit, a withdrawal, a backoff), with exit 0 and a journal that resumes:
the waiting step stays PENDING, nothing is FAILED or HALTED, and the next run finishes it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.clock import ManualClock, StopRequested, SystemClock
from bot.compose.daemon import build_runtime
from bot.engine.guards import KillSwitch
from bot.engine.journal import BatchStatus, ControlState, Journal, StepStatus
from tests.support.compose_kit import fake_adapters, settings
from tests.support.fakes import FakeWorld, make_world

ROOT = Path(__file__).resolve().parents[2]


def test_a_wall_clock_sleep_ends_within_a_fraction_of_a_second_of_a_stop_request():
    stop = threading.Event()
    clock = SystemClock(stop=stop.is_set)
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(StopRequested):
        clock.sleep(3 * 3600)  # the mainnet example's transfer timeout
    assert time.monotonic() - started < 1.0


def test_a_manual_clock_with_a_stop_check_raises_instead_of_advancing():
    clock = ManualClock(stop=lambda: True)
    with pytest.raises(StopRequested):
        clock.sleep(5)
    assert clock.slept == []


def test_sigint_is_a_stop_request_not_a_keyboard_interrupt():
    kill = KillSwitch()
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}
    kill.install_signal_handlers()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    assert kill.tripped and kill.reason == "received SIGINT"


def _steps(journal: Path) -> dict[str, tuple[str, int]]:
    """The journal's steps as another process sees them (read-only, no lock)."""
    if not journal.exists():
        return {}
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1)
    try:
        return {
            step: (status, attempts)
            for step, status, attempts in db.execute("SELECT step, status, attempts FROM steps")
        }
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()


def _driver(tmp_path: Path, action: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.stop_driver", str(tmp_path / "world.pickle"), str(tmp_path), action],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_ends_a_daemon_waiting_on_a_transaction_within_seconds_and_the_next_run_resumes(tmp_path):
    world = make_world(debt_usdt=130_000)  # HF 1.28 < trigger 1.4
    world.save(tmp_path / "world.pickle")
    journal = tmp_path / "journal.sqlite"
    daemon = _driver(tmp_path, "wait")
    try:
        deadline = time.monotonic() + 60
        while _steps(journal).get("withdraw", ("", 0))[1] < 1:  # sent, waiting for confirmations
            assert daemon.poll() is None and time.monotonic() < deadline, daemon.communicate()
            time.sleep(0.1)
        time.sleep(0.5)
        sent = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, err
    assert took < 10.0, f"{took:.1f} s"  # a 0.2 s stop poll, then the exit (a loaded machine: slow)
    assert "stopping: received SIGTERM" in err and "paused by a stop request (withdraw PENDING" in err
    assert _steps(journal)["withdraw"] == ("PENDING", 1)
    with Journal(journal, clock=ManualClock()) as j:
        (batch,) = j.open_batches()
        assert j.control() == (ControlState.NORMAL, None)
    resumed = _driver(tmp_path, "resume")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    with Journal(journal, clock=ManualClock()) as j:
        assert j.batch(batch.id).status is BatchStatus.DONE
        assert j.step(batch.id, "withdraw").status is StepStatus.OK
    after = FakeWorld.load(tmp_path / "world.pickle")
    assert all(n == 1 for n in after.tx_effects_per_key().values())  # the withdrawal once


def test_the_kill_switch_file_ends_a_waiting_daemon_within_seconds_and_names_the_file(tmp_path, caplog):
    caplog.set_level("INFO")
    world = make_world(debt_usdt=130_000)
    # The fake chain's time stands still under the wall clock: the withdrawal never confirms.
    runtime = build_runtime(settings(tmp_path), live_flag=False, adapters=fake_adapters(world))
    stop_file = tmp_path / "STOP"
    assert runtime.kill_switch.path == stop_file

    started = time.monotonic()
    threading.Timer(1.0, stop_file.touch).start()
    assert runtime.run(once=False) == 0
    assert time.monotonic() - started < 4.0
    assert f"stopping: kill-switch file {stop_file} exists (remove it to run again)" in caplog.text
    with Journal(tmp_path / "journal.sqlite", clock=ManualClock()) as j:
        (batch,) = j.open_batches()
        assert j.step(batch.id, "withdraw").status is StepStatus.PENDING
        assert j.control()[0] is ControlState.NORMAL


def test_run_stopped_while_starting_up_exits_zero_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app

    def stopped(*args, **kwargs):  # a start-up read backing off while the STOP file exists
        raise StopRequested("stop requested while waiting")

    monkeypatch.setattr("bot.compose.daemon.build_runtime", stopped)
    config = tmp_path / "c.toml"
    config.write_text(
        'mode = "dry-run"\n[chain]\nrpc_url = "http://127.0.0.1:9"\nchain_id = 1\n'
        'pool_addresses_provider = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"\n'
        '[wallet]\naddress = "0x00000000000000000000000000000000000000A1"\n'
        f'[journal]\npath = "{tmp_path / "j.sqlite"}"\n'
    )
    result = CliRunner().invoke(app, ["--config", str(config), "run"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        "delever: stop requested while starting (the kill-switch file exists?)"
    ]

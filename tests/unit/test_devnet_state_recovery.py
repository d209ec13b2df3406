"""A truncated or garbage devnet state file: every command names it in one line, and
`devnet down` still stops what the devnet started (found by its logs), or says what to kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.devnet import anvil
from tests.support.cli_runs import assert_one_line_refusal, run_delever
from tests.support.settings_support import devnet_state


@pytest.fixture(autouse=True)
def _state_dir(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.upper().startswith("DELEVER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def logging_process(tmp_path):
    """A stand-in for anvil: a process whose output goes to the state directory's anvil.log."""
    with open(tmp_path / "anvil.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdout=log, stderr=log)
    yield process
    process.kill()
    process.wait()


def _truncated(pid: int) -> str:
    text = json.dumps(devnet_state(pids={"anvil": pid}), indent=2)
    return text[: text.index('"pids"') + 30]  # cut inside the pids object


def test_down_stops_what_a_truncated_state_file_names_by_its_log_and_removes_it(tmp_path, logging_process):
    state_file = tmp_path / "devnet.json"
    state_file.write_text(_truncated(logging_process.pid))
    run = run_delever("devnet", "down", "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out) == {"stopped": ["anvil"], "journals_moved": {}, "journals_in_use": []}
    assert logging_process.wait(timeout=10) is not None
    assert not state_file.exists()
    assert "devnet_state_damaged" in run.err and str(state_file) in run.err


def test_down_finds_the_process_by_its_log_when_the_file_is_garbage(tmp_path, logging_process):
    (tmp_path / "devnet.json").write_bytes(b"\x00\xff garbage")
    run = run_delever("devnet", "down")
    assert run.code == 0, run.err
    assert run.out.strip() == "stopped: anvil"
    assert logging_process.wait(timeout=10) is not None


def test_down_names_a_pid_it_cannot_tie_to_the_devnet_and_kills_nothing(tmp_path):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state_file = tmp_path / "devnet.json"
        state_file.write_text(_truncated(bystander.pid))
        run = run_delever("devnet", "down")
        assert_one_line_refusal(run, contains=f"devnet state file {state_file} is not valid JSON")
        assert f"anvil pid {bystander.pid}" in run.err and f"delete {state_file}" in run.err
        assert anvil.pid_alive(bystander.pid) and state_file.exists()
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.parametrize(
    ("args", "code"), [(("devnet", "status"), 2), (("status",), 2), (("devnet", "set-price", "WETH", "1"), 2)]
)
def test_other_commands_name_the_damaged_file_in_one_line(tmp_path, args, code):
    state_file = tmp_path / "devnet.json"
    state_file.write_text(_truncated(1))
    run = run_delever(*args)
    assert_one_line_refusal(run, code, contains=f"devnet state file {state_file} is not valid JSON")
    assert "`delever devnet down` stops what it started" in run.err


def test_a_state_file_with_fields_of_the_wrong_shape_is_named(tmp_path):
    state_file = tmp_path / "devnet.json"
    state_file.write_text(json.dumps(devnet_state(pids="not a mapping")))
    run = run_delever("devnet", "status")
    assert_one_line_refusal(run, contains=f"devnet state file {state_file} has fields of the wrong shape")


def test_a_state_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "devnet.json")
    assert_one_line_refusal(run_delever("devnet", "status"), contains="is not a regular file")

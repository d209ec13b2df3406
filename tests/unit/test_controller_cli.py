"""`delever run`: exit codes and one-line errors, through the real command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAP = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"
WALLET = "0x00000000000000000000000000000000000000A1"


def _run(tmp_path: Path, toml: str, *args: str) -> subprocess.CompletedProcess:
    config = tmp_path / "c.toml"
    config.write_text(toml)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "run", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _toml(mode: str, chain_id: int, tmp_path: Path) -> str:
    return f'''mode = "{mode}"
[chain]
rpc_url = "http://127.0.0.1:9"
chain_id = {chain_id}
pool_addresses_provider = "{PAP}"
[wallet]
address = "{WALLET}"
[journal]
path = "{tmp_path / "j.sqlite"}"
'''


def test_run_cli_testnet_on_chain_id_one_exits_two(tmp_path):
    done = _run(tmp_path, _toml("testnet", 1, tmp_path), "--once")
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "chain" in done.stderr


def test_run_cli_live_flag_without_live_mode_exits_two(tmp_path):
    done = _run(tmp_path, _toml("dry-run", 1, tmp_path), "--once", "--live")
    assert done.returncode == 2 and 'mode = "live"' in done.stderr


def test_run_cli_without_adapters_exits_one_in_one_line(tmp_path):
    done = _run(tmp_path, _toml("dry-run", 1, tmp_path), "--once")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("delever: error:")


def _halted_journal(path: Path, **binding) -> str:
    from bot.clock import ManualClock
    from bot.engine.journal import ControlState, Journal, StepStatus

    with Journal(path, clock=ManualClock()) as journal:
        if binding:
            journal.bind(**binding)
        b = journal.open_batch(spec={}, start={})
        journal.write_intent(b, "deposit", key=f"{b}:deposit", intent={})
        journal.write_outcome(b, "deposit", StepStatus.NEEDS_REVIEW, error="not landed")
        journal.set_control(ControlState.HALTED, "deposit not landed")
    return b


def test_run_cli_clear_halt_after_review_clears_the_dry_run_journal_and_marks_for_reconcile(tmp_path):
    from bot.clock import ManualClock
    from bot.engine.journal import ControlState, Journal, StepStatus

    # A dry-run daemon writes j.dry-run.sqlite; the configured j.sqlite belongs to a signing run.
    b = _halted_journal(tmp_path / "j.dry-run.sqlite", mode="dry-run", chain_id=1)
    _halted_journal(tmp_path / "j.sqlite", mode="testnet", chain_id=1)
    done = _run(tmp_path, _toml("dry-run", 1, tmp_path), "--clear-halt")
    assert done.returncode == 0, done.stderr
    assert "HALTED (deposit not landed); cleared" in done.stderr and f"{b}:deposit" in done.stderr
    with Journal(tmp_path / "j.dry-run.sqlite", clock=ManualClock()) as journal:
        assert journal.control() == (ControlState.NORMAL, None)
        assert journal.step(b, "deposit").status is StepStatus.UNKNOWN
    with Journal(tmp_path / "j.sqlite", clock=ManualClock()) as journal:
        assert journal.control() == (ControlState.HALTED, "deposit not landed")  # not this config's journal


def test_run_cli_clear_halt_refuses_a_journal_of_another_chain_in_one_line(tmp_path):
    from bot.clock import ManualClock
    from bot.engine.journal import ControlState, Journal

    _halted_journal(tmp_path / "j.dry-run.sqlite", mode="dry-run", chain_id=10)
    done = _run(tmp_path, _toml("dry-run", 1, tmp_path), "--clear-halt")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"delever: error: journal {tmp_path / 'j.dry-run.sqlite'} belongs to chain_id 10, not 1: use another journal.path"
    ]
    with Journal(tmp_path / "j.dry-run.sqlite", clock=ManualClock()) as journal:
        assert journal.control()[0] is ControlState.HALTED

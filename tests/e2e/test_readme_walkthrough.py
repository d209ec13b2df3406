"""The README's "Try it by hand", word for word through the command line, twice in a row in one
checkout: each time a full withdraw → sell → repay batch, and no call hangs (every call has a
bounded timeout). The second round runs on a new devnet (same chain id, another genesis block)
after the first round's journal was written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.engine.journal import BatchStatus, Journal, StepStatus

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TIMEOUT_S = {"up": 240, "run": 240}  # everything else: 60 s


def _walkthrough() -> list[list[str]]:
    """The commands of the README's "Try it by hand" block, in order."""
    text = README.read_text()
    block = text.split("Try it by hand on the devnet:", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("delever "):  # after `source .venv/bin/activate`
            commands.append(line.split()[1:])
    return commands


def _delever(tmp: Path, args: list[str], **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEVER_")}
    env.update(DELEVER_CONFIG=str(ROOT / "config" / "devnet.toml"), DELEVER_STATE_DIR=str(tmp / "state"))
    env.update(extra_env)
    timeout = TIMEOUT_S.get(args[1] if args[0] == "devnet" else args[0], 60)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout
    )


def _one_full_batch(journal_path: Path) -> str:
    with Journal(journal_path, clock=ManualClock(), lock=False) as journal:
        (batch,) = journal.batches()
        steps = {row.step: row.status for row in journal.steps(batch.id)}
        assert batch.status is BatchStatus.DONE, steps
        for step in ("withdraw", "deposit", "sell", "withdraw_quote", "repay", "verify"):
            assert steps.get(step) is StepStatus.OK, (step, steps)
        return batch.id


def test_the_readme_walkthrough_twice_in_a_row_shows_a_full_batch_each_time(tmp_path):
    commands = _walkthrough()
    names = [" ".join(c[:2]) for c in commands]
    assert names[0] == "devnet up" and names[-1] == "devnet down" and ["run", "--once"] in commands
    assert "devnet send" in names  # spend the borrowed USDT: otherwise the first plan only repays from it
    journal = tmp_path / "state" / "journal.sqlite"
    kept = tmp_path / "kept" / "journal.sqlite"  # round 1's journal, as if it had survived `devnet down`
    batch_ids = []
    for round_ in (1, 2):
        for args in commands:
            if round_ == 2 and args[:2] == ["devnet", "down"]:
                _a_journal_of_the_old_chain_is_refused_in_one_line(tmp_path, kept)
            done = _delever(tmp_path, args)
            assert done.returncode == 0, (round_, args, done.stdout[-2000:], done.stderr[-3000:])
            if args == ["run", "--once"]:
                batch_ids.append(_one_full_batch(journal))
                if round_ == 1:
                    kept.parent.mkdir()
                    shutil.copy(journal, kept)  # complete: the daemon checkpointed it at its clean exit
            if args[:2] == ["devnet", "down"]:
                moved = re.search(r"journal of this devnet moved aside: \S+ -> (\S+)", done.stdout)
                assert moved, done.stdout
                assert (journal.parent / moved.group(1)).exists() and not journal.exists()
    assert len(batch_ids) == 2 and batch_ids[0].split("-")[0] != batch_ids[1].split("-")[0]  # two journals


def _a_journal_of_the_old_chain_is_refused_in_one_line(tmp: Path, kept: Path) -> None:
    """The first-hour failure: a journal of the previous devnet signed at its own nonces on the new
    chain, "replaced" them up to the fee cap and halted; `--clear-halt` hung the same way."""
    for args in (["run", "--once"], ["run", "--clear-halt"]):
        done = _delever(tmp, args, DELEVER_JOURNAL__PATH=str(kept))
        assert done.returncode == 2, (args, done.stderr[-3000:])
        (line,) = done.stderr.strip().splitlines()
        assert f"journal {kept} was written on another chain" in line and "--new-journal" in line
    done = _delever(tmp, ["run", "--once", "--new-journal"], DELEVER_JOURNAL__PATH=str(kept))
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in kept.parent.glob("journal.sqlite.*.bak")], list(kept.parent.iterdir())

"""`delever devnet up` in a subprocess, as a user starts it, for tests that share one devnet
per module. ``running_devnet`` always runs `devnet down` and then stops, by pid, anything the
state file still names (no orphan anvil or emulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.devnet import anvil

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "devnet.toml"


def cli_env(state_dir: Path) -> dict[str, str]:
    """The user's environment without any DELEVER_* of the caller, pointed at ``state_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEVER_")}
    env.update({"DELEVER_STATE_DIR": str(state_dir), "DELEVER_CONFIG": str(CONFIG)})
    return env


def run_cli(state_dir: Path, *args: str, extra_env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT,
                          env={**cli_env(state_dir), **(extra_env or {})}, capture_output=True, text=True,
                          timeout=timeout)


@contextmanager
def running_devnet(state_dir: Path) -> Iterator[dict[str, Any]]:
    """`delever devnet up --json` in ``state_dir``; yields its connection facts."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state_file = state_dir / "devnet.json"
    try:
        up = run_cli(state_dir, "devnet", "up", "--json")
        if up.returncode != 0:
            raise RuntimeError(f"devnet up failed ({up.returncode}): {up.stderr.strip()[-2000:]}")
        yield json.loads(up.stdout)
    finally:
        pids = json.loads(state_file.read_text()).get("pids", {}) if state_file.exists() else {}
        run_cli(state_dir, "devnet", "down", timeout=60)
        for pid in pids.values():  # only what this devnet started; a no-op after a clean `down`
            if anvil.pid_alive(int(pid)):
                anvil.terminate_pid(int(pid))

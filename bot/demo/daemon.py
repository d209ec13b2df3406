"""The daemon as a real subprocess: ``python -m bot.cli --config config/devnet.toml run``.

It runs in its own session (a Ctrl-C in the terminal reaches the demo, which then stops the
daemon with SIGTERM: it stops within seconds, its batch resumable) and logs to a file in the
demo directory. Its pid goes to ``daemon.pid`` so a later demo can stop a daemon an
interrupted one left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.devnet import anvil

PID_FILE = "daemon.pid"
LOG_FILE = "daemon.log"
READY_MARK = "tick: "  # the controller logs one line per tick


class Daemon:
    def __init__(
        self, *, config: Path, state_dir: Path, cwd: Path, env_overrides: dict[str, str], args: tuple[str, ...] = ()
    ) -> None:
        self.config = config
        self.args = args  # after `run`, e.g. ("--console",)
        self.state_dir = state_dir
        self.cwd = cwd
        self.env_overrides = env_overrides
        self.log_path = state_dir / LOG_FILE
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        env = daemon_env(self.state_dir, self.env_overrides)
        command = [sys.executable, "-m", "bot.cli", "--config", str(self.config), "run", *self.args]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
        self.started_at = time.monotonic()
        (self.state_dir / PID_FILE).write_text(f"{self.process.pid}\n")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def wait_ready(self, timeout_s: float) -> float:
        """Block until the first tick is logged; return the seconds it took."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(
                    f"the daemon exited with code {self.returncode()} before its first tick; see {self.log_path}"
                )
            if READY_MARK in self.log_tail(20_000):
                return time.monotonic() - self.started_at
            time.sleep(0.1)
        raise TimeoutError(f"the daemon logged no tick within {timeout_s:.0f} s; see {self.log_path}")

    def log_tail(self, size: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - size))
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (the daemon stops within seconds, leaving its batch resumable), SIGKILL after ``timeout_s``."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        (self.state_dir / PID_FILE).unlink(missing_ok=True)
        return self.process.returncode


def daemon_env(state_dir: Path, overrides: dict[str, str]) -> dict[str, str]:
    """The daemon's environment: this one without the caller's ``DELEVER_*`` settings, the demo's
    state directory, and the demo's overrides of the config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEVER_")}
    env.update({"DELEVER_STATE_DIR": str(state_dir), **overrides})
    return env


def stop_leftover(state_dir: Path) -> bool:
    """Stop a daemon an earlier, interrupted demo left running (only if it is still ours)."""
    pid_file = state_dir / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return False
    stopped = False
    if anvil.pid_alive(pid) and _is_demo_daemon(pid, state_dir):
        stopped = anvil.terminate_pid(pid, timeout=15)
    pid_file.unlink(missing_ok=True)
    return stopped


def _is_demo_daemon(pid: int, state_dir: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"bot.cli" in cmdline and f"DELEVER_STATE_DIR={state_dir}".encode() in environ

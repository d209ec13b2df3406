"""Start the exchange emulator as a detached process next to a devnet (`delever devnet up`).

The emulator reads the chain facts from a launch file, writes its URL, keys and hot wallet to
an info file (mode 0600) once it serves, and follows the devnet's AaveOracle for its book.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.devnet import anvil, state

LAUNCH_FILE_NAME = "exchange.launch.json"
INFO_FILE_NAME = "exchange.json"
LOG_FILE_NAME = "exchange.log"
# Devnet timings: deposits credited after 1 confirmation, withdrawals paid after 2 s.
DEVNET_CONFIRMATIONS = 1
DEVNET_WITHDRAWAL_DELAY_S = 2.0
# A prespawned emulator gives up (exits) when no launch file comes within this long.
LAUNCH_WAIT_S = 60.0


class ExchangeStartError(RuntimeError):
    """The emulator process did not come up."""


@dataclass
class EmulatorProcess:
    """An emulator process started before its launch file exists: it imports its (heavy)
    dependencies meanwhile and reads the file as soon as ``launch`` writes it."""

    process: subprocess.Popen[bytes]
    directory: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def launch(
        self, *, rpc_url: str, chain_id: int, tokens: dict[str, str], oracle: str, timeout_s: float = 30.0
    ) -> dict[str, str | int]:
        """Write the launch file and wait until the emulator serves; its info (url, keys, hot wallet, pid)."""
        launch = {"rpc_url": rpc_url, "chain_id": chain_id, "tokens": tokens, "oracle": oracle}
        state.write_json_atomic(self.directory / LAUNCH_FILE_NAME, launch)
        return _wait_for_info(self.process, self.directory, timeout_s)


def prespawn_emulator(*, directory: Path, deposit_start_block: int | None = None) -> EmulatorProcess:
    """Start ``python -m bot.devnet.exchange`` detached, waiting for its launch file."""
    (directory / INFO_FILE_NAME).unlink(missing_ok=True)
    (directory / LAUNCH_FILE_NAME).unlink(missing_ok=True)
    return EmulatorProcess(_spawn(directory, deposit_start_block, wait_for_launch=True), directory)


def spawn_emulator(
    *,
    rpc_url: str,
    chain_id: int,
    tokens: dict[str, str],
    oracle: str,
    directory: Path,
    timeout_s: float = 30.0,
) -> dict[str, str | int]:
    """Start ``python -m bot.devnet.exchange`` detached; return its info (url, keys, hot wallet, pid)."""
    launch = directory / LAUNCH_FILE_NAME
    (directory / INFO_FILE_NAME).unlink(missing_ok=True)
    state.write_json_atomic(launch, {"rpc_url": rpc_url, "chain_id": chain_id, "tokens": tokens, "oracle": oracle})
    start_block = int(anvil.rpc_call(rpc_url, "eth_blockNumber"), 16)
    return _wait_for_info(_spawn(directory, start_block, wait_for_launch=False), directory, timeout_s)


def _spawn(directory: Path, start_block: int | None, *, wait_for_launch: bool) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "bot.devnet.exchange",
        "--state-file", str(directory / LAUNCH_FILE_NAME),
        "--info-file", str(directory / INFO_FILE_NAME),
        "--confirmations", str(DEVNET_CONFIRMATIONS),
        "--withdrawal-delay", str(DEVNET_WITHDRAWAL_DELAY_S),
    ]  # fmt: skip
    if start_block is not None:
        command += ["--deposit-start-block", str(start_block)]
    if wait_for_launch:
        command += ["--wait-for-state-file", str(LAUNCH_WAIT_S)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEVER_EXCHANGE__")}
    with open(directory / LOG_FILE_NAME, "ab") as log:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=env,
        )  # fmt: skip


def _wait_for_info(process: subprocess.Popen[bytes], directory: Path, timeout_s: float) -> dict[str, str | int]:
    info = directory / INFO_FILE_NAME
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ExchangeStartError(
                f"exchange emulator exited with code {process.returncode}; see {directory / LOG_FILE_NAME}"
            )
        if info.exists():
            try:
                facts = json.loads(info.read_text())
            except ValueError:  # written atomically, but be patient with a partial read
                facts = None
            if facts:
                return dict(facts)
        time.sleep(0.02)
    anvil.terminate_pid(process.pid)
    raise ExchangeStartError(
        f"exchange emulator did not start within {timeout_s:.0f}s; see {directory / LOG_FILE_NAME}"
    )

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
from pathlib import Path

from bot.devnet import anvil, state

LAUNCH_FILE_NAME = "exchange.launch.json"
INFO_FILE_NAME = "exchange.json"
LOG_FILE_NAME = "exchange.log"
# Devnet timings: deposits credited after 1 confirmation, withdrawals paid after 2 s.
DEVNET_CONFIRMATIONS = 1
DEVNET_WITHDRAWAL_DELAY_S = 2.0


class ExchangeStartError(RuntimeError):
    """The emulator process did not come up."""


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
    info = directory / INFO_FILE_NAME
    info.unlink(missing_ok=True)
    state.write_json_atomic(launch, {"rpc_url": rpc_url, "chain_id": chain_id, "tokens": tokens, "oracle": oracle})
    start_block = int(anvil.rpc_call(rpc_url, "eth_blockNumber"), 16)
    command = [
        sys.executable, "-m", "bot.devnet.exchange",
        "--state-file", str(launch),
        "--info-file", str(info),
        "--confirmations", str(DEVNET_CONFIRMATIONS),
        "--withdrawal-delay", str(DEVNET_WITHDRAWAL_DELAY_S),
        "--deposit-start-block", str(start_block),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEVER_EXCHANGE__")}
    with open(directory / LOG_FILE_NAME, "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=env,
        )  # fmt: skip
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
                return facts
        time.sleep(0.05)
    anvil.terminate_pid(process.pid)
    raise ExchangeStartError(
        f"exchange emulator did not start within {timeout_s:.0f}s; see {directory / LOG_FILE_NAME}"
    )

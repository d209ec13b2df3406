"""The pinned anvil binary: start it on loopback, wait until it answers, stop it; RPC cheat codes.

Two ways to run it: ``Anvil`` (a child process tied to this Python process, for tests and
benchmarks; a context manager) and ``spawn_detached`` (a new session that outlives the command,
for ``delever devnet up``). Both bind 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import UserInputError

ANVIL_RELATIVE_PATH = Path("devnet-deps/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
DEFAULT_CHAIN_ID = 31337
HOST = "127.0.0.1"
# anvil's default accounts come from this public test mnemonic; their keys are public knowledge.
DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"


class AnvilError(RuntimeError):
    """anvil did not start, or stopped answering."""


def repo_root() -> Path:
    """The checkout this package runs from (the directory holding ``devnet-deps/``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "devnet-deps").is_dir():
            return parent
    return here.parents[2]


def anvil_binary(root: Path | None = None) -> Path:
    """Path to the pinned anvil; a clear error when ``make install`` has not been run."""
    override = os.environ.get("DELEVER_ANVIL_BIN")
    path = Path(override) if override else (root or repo_root()) / ANVIL_RELATIVE_PATH
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise UserInputError(f"anvil not found at {path}: run `make install` first")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_for(options: AnvilOptions) -> int:
    """The requested port if it is free (else a clear error), or a free one."""
    if not options.port:
        return free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, options.port))
        except OSError:
            raise UserInputError(f"port {options.port} on {HOST} is already in use") from None
    return options.port


@dataclass(frozen=True, slots=True)
class AnvilOptions:
    port: int = 0  # 0: pick a free one
    chain_id: int = DEFAULT_CHAIN_ID
    block_time: float | None = None  # seconds between blocks; None: mine on every transaction
    no_mining: bool = False  # mine only on evm_mine
    slots_in_an_epoch: int = 1  # "finalized"/"safe" follow the head closely
    accounts: int = 10
    balance_eth: int = 10_000
    extra_args: tuple[str, ...] = ()

    def command(self, binary: Path, port: int) -> list[str]:
        cmd = [
            str(binary),
            "--host", HOST,
            "--port", str(port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--balance", str(self.balance_eth),
            "--mnemonic", DEFAULT_MNEMONIC,
            "--slots-in-an-epoch", str(self.slots_in_an_epoch),
        ]  # fmt: skip
        if self.no_mining:
            cmd.append("--no-mining")
        elif self.block_time is not None:
            cmd += ["--block-time", _format_seconds(self.block_time)]
        return cmd + list(self.extra_args)


def _format_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def rpc_call(url: str, method: str, params: list[Any] | None = None, *, timeout: float = 5.0) -> Any:
    """One JSON-RPC call with the standard library (no web3 import: fast for the CLI and probes)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback URL
        payload = json.loads(response.read())
    if "error" in payload:
        raise AnvilError(f"{method}: {payload['error'].get('message', payload['error'])}")
    return payload["result"]


def is_answering(url: str, *, timeout: float = 0.5) -> bool:
    try:
        rpc_call(url, "eth_chainId", timeout=timeout)
        return True
    except (OSError, urllib.error.URLError, AnvilError, ValueError):
        return False


def wait_until_answering(url: str, *, timeout: float = 20.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AnvilError(f"anvil exited with code {process.returncode} before answering on {url}")
        if is_answering(url, timeout=0.5):
            if process is not None and process.poll() is not None:  # another process answered there
                raise AnvilError(f"anvil exited with code {process.returncode}; {url} is someone else's")
            return
        time.sleep(0.02)
    raise AnvilError(f"anvil did not answer on {url} within {timeout:.0f} s")


@dataclass
class Anvil:
    """anvil as a child process. ``with Anvil() as node: node.rpc_url``; stopped on exit."""

    options: AnvilOptions = field(default_factory=AnvilOptions)
    startup_timeout: float = 20.0
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _log_path: Path | None = field(default=None, repr=False)

    @property
    def rpc_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def chain_id(self) -> int:
        return self.options.chain_id

    def start(self) -> Anvil:
        if self.process is not None:
            raise AnvilError("anvil already started")
        # The log only carries the port anvil bound (``--port 0``); it is removed on stop.
        fd, name = tempfile.mkstemp(prefix="anvil-", suffix=".log")
        os.close(fd)
        self._log_path = Path(name)
        try:
            self.process, self.port = _launch(
                self.options, log_path=self._log_path, timeout=self.startup_timeout, preexec_fn=_die_with_parent
            )
        except BaseException:
            self._log_path.unlink(missing_ok=True)
            raise
        return self

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        log_path, self._log_path = self._log_path, None
        if log_path is not None:
            log_path.unlink(missing_ok=True)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, so a killed test run leaves no anvil."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn_detached(options: AnvilOptions, *, log_path: Path, startup_timeout: float = 20.0) -> tuple[int, str]:
    """Start anvil in a new session that outlives this process; return (pid, rpc_url)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    process, port = _launch(options, log_path=log_path, timeout=startup_timeout, start_new_session=True, close_fds=True)
    return process.pid, f"http://{HOST}:{port}"


_LISTENING = re.compile(rb"Listening on [0-9.]+:(\d+)")


def _launch(
    options: AnvilOptions, *, log_path: Path, timeout: float, **popen: Any
) -> tuple[subprocess.Popen[bytes], int]:
    """Start anvil with its output appended to ``log_path``; return (process, port).

    Without a requested port anvil binds a free one itself (``--port 0``) and the port is read
    from its "Listening on" line: probing a free port first and handing it over leaves a window
    in which a parallel start takes it, and the loser would then talk to the winner's chain.
    """
    binary = anvil_binary()
    port = _port_for(options) if options.port else 0
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            options.command(binary, port), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, **popen
        )
    try:
        if not port:
            port = _bound_port(log_path, offset, process, timeout)
        wait_until_answering(f"http://{HOST}:{port}", timeout=timeout, process=process)
    except BaseException:
        terminate_pid(process.pid)
        process.wait(timeout=5)
        raise
    return process, port


def _bound_port(log_path: Path, offset: int, process: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_path, "rb") as log:
            log.seek(offset)
            found = _LISTENING.search(log.read())
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            raise AnvilError(f"anvil exited with code {process.returncode} before listening")
        time.sleep(0.02)
    raise AnvilError(f"anvil did not report a listening port within {timeout:.0f} s")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def terminate_pid(pid: int, *, timeout: float = 5.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; True when the process is gone."""
    if not pid_alive(pid):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    if _gone_within(pid, timeout):
        return True
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    return _gone_within(pid, timeout)


def _gone_within(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.02)
    return not pid_alive(pid)


# --- cheat codes over web3 (``w3.provider.make_request``) ---------------------------------------


def _request(w3: Any, method: str, params: list[Any]) -> Any:
    response = w3.provider.make_request(method, params)
    if "error" in response:
        raise AnvilError(f"{method}: {response['error'].get('message', response['error'])}")
    return response.get("result")


def snapshot(w3: Any) -> str:
    return str(_request(w3, "evm_snapshot", []))


def revert(w3: Any, snapshot_id: str) -> None:
    if not _request(w3, "evm_revert", [snapshot_id]):
        raise AnvilError(f"evm_revert to {snapshot_id} failed")


def mine(w3: Any, blocks: int = 1) -> None:
    _request(w3, "anvil_mine", [hex(blocks)])


def increase_time(w3: Any, seconds: int) -> None:
    _request(w3, "evm_increaseTime", [int(seconds)])


def set_storage_at(w3: Any, address: str, slot: int, value: int) -> None:
    _request(w3, "anvil_setStorageAt", [address, hex(slot), "0x" + (value % 2**256).to_bytes(32, "big").hex()])


def set_balance(w3: Any, address: str, wei: int) -> None:
    _request(w3, "anvil_setBalance", [address, hex(wei)])


def set_code(w3: Any, address: str, code_hex: str) -> None:
    _request(w3, "anvil_setCode", [address, code_hex if code_hex.startswith("0x") else "0x" + code_hex])

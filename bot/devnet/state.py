"""The devnet state file: what `devnet up` started and how to reach it.

JSON at ``$DELEVER_STATE_DIR/devnet.json`` (default ``.delever/devnet.json`` under the current
directory). ``read_state_data`` is the one reader: the config loader (``devnet_state =
"<path>"``), read-only commands without a config, the exchange emulator and `devnet status` all go
through it. It holds anvil's public test keys; they are still treated as secrets: registered for
redaction as the file is read, never logged, masked in ``repr()``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.redact import redact, register_secret

STATE_DIR_ENV = "DELEVER_STATE_DIR"
DEFAULT_STATE_DIR = Path(".delever")
STATE_FILE_NAME = "devnet.json"
ANVIL_LOG_NAME = "anvil.log"

SECRET_KEYS = ("wallet_private_key", "api_key", "api_secret")


class DamagedStateFile(ConfigError):
    """The state file exists but cannot be understood (truncated, not JSON, fields of the wrong
    shape): one line naming it. `devnet down` still stops what the devnet started
    (``bot.devnet.state_recovery``)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"devnet state file {path} {problem}: `delever devnet down` stops what it started")
        self.path = path
        self.problem = problem


def state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def state_path() -> Path:
    return state_dir() / STATE_FILE_NAME


@dataclass(frozen=True, slots=True)
class DevnetState:
    rpc_url: str
    chain_id: int
    pool_addresses_provider: str
    pool: str
    oracle: str
    data_provider: str
    multicall3: str
    wallet: str
    wallet_private_key: str = field(repr=False)
    tokens: dict[str, str]  # symbol -> address
    price_feeds: dict[str, str]  # symbol -> MockAggregator address
    pids: dict[str, int]  # name -> pid of every process `devnet up` started
    started_at: str  # ISO-8601 UTC
    # Filled by the exchange emulator when it runs; absent (None) otherwise.
    exchange_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    exchange_hot_wallet: str | None = None
    # Extra facts (not part of the shared contract): other contract addresses, the log path.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        return {**data, **extra}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DevnetState:
        known = {f.name for f in fields(cls)} - {"extra"}
        missing = {f.name for f in fields(cls) if f.name in known and f.name not in data and _required(f)}
        if missing:
            raise ValueError(f"devnet state file lacks {sorted(missing)}")
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["chain_id"] = int(kwargs["chain_id"])
        kwargs["pids"] = {str(k): int(v) for k, v in kwargs["pids"].items()}
        return cls(**kwargs, extra={k: v for k, v in data.items() if k not in known})

    def public_view(self) -> dict[str, Any]:
        """The state with secrets masked (for logs and `devnet status`)."""
        return dict(redact(self.to_json()))


def _required(f: Any) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def write_state(state: DevnetState, path: Path | None = None) -> Path:
    """Write atomically (temp file + rename), readable by the owner only (it holds keys)."""
    return write_json_atomic(path or state_path(), state.to_json())


def write_json_atomic(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_state_data(path: Path | None = None) -> dict[str, Any] | None:
    """The state file's JSON object, or None when there is no file. Its secrets are registered
    for redaction before anything can print them; a file that cannot be read, is not a regular
    file, is not JSON or not an object raises ``ConfigError`` in one line."""
    path = path or state_path()
    try:
        if path.exists() and not path.is_file():  # a FIFO would block the read
            raise ConfigError(f"devnet state file {path} is not a regular file")
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"devnet state file {path} cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DamagedStateFile(path, "is not UTF-8 text") from None
    for key in SECRET_KEYS:  # even from a damaged file: its secrets must not be printed
        for found in re.findall(rf'"{key}"\s*:\s*"([^"]+)"', raw):
            register_secret(found)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        lineno = getattr(exc, "lineno", "?")
        raise DamagedStateFile(path, f"is not valid JSON (line {lineno})") from None
    if not isinstance(data, dict):
        raise DamagedStateFile(path, "does not hold a JSON object")
    for key in SECRET_KEYS:
        if isinstance(data.get(key), str):
            register_secret(data[key])
    return data


def read_state(path: Path | None = None) -> DevnetState | None:
    """The state, or None when there is no state file; ``DamagedStateFile`` when its fields are
    missing or of the wrong shape."""
    path = path or state_path()
    data = read_state_data(path)
    if data is None:
        return None
    try:
        return DevnetState.from_json(data)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        problem = str(exc) if isinstance(exc, ValueError) and "lacks" in str(exc) else "has fields of the wrong shape"
        raise DamagedStateFile(path, problem.removeprefix("devnet state file ")) from None


def remove_state(path: Path | None = None) -> None:
    (path or state_path()).unlink(missing_ok=True)


def demo_record(
    *,
    rpc_url: str,
    market: dict[str, Any],  # ``Market`` as a dict (``dataclasses.asdict``)
    wallet: str,
    wallet_private_key: str,
    liquidity_provider: str,
    dex: dict[str, Any] | None,
    pids: dict[str, int],
    extra: dict[str, Any] | None = None,
) -> DevnetState:
    """The state-file record from plain values (what `devnet up` from the state cache has)."""
    reserves = market["reserves"]
    return DevnetState(
        rpc_url=rpc_url,
        chain_id=market["chain_id"],
        pool_addresses_provider=market["pool_addresses_provider"],
        pool=market["pool"],
        oracle=market["oracle"],
        data_provider=market["data_provider"],
        multicall3=market["multicall3"],
        wallet=wallet,
        wallet_private_key=wallet_private_key,
        tokens={r["symbol"]: r["asset"] for r in reserves},
        price_feeds={r["symbol"]: r["price_feed"] for r in reserves},
        pids=dict(pids),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        extra={
            "pool_configurator": market["pool_configurator"],
            "acl_manager": market["acl_manager"],
            "admin": market["admin"],
            "liquidity_provider": liquidity_provider,
            "decimals": {r["symbol"]: r["decimals"] for r in reserves},
            "a_tokens": {r["symbol"]: r["a_token"] for r in reserves},
            "variable_debt_tokens": {r["symbol"]: r["variable_debt_token"] for r in reserves},
            "deploy_block": market["deploy_block"],
            **({"dex": dex} if dex is not None else {}),
            **(extra or {}),
        },
    )

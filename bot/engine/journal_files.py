"""The journal's files on disk: permissions, WAL sanity, moving a journal aside, and the
per-wallet lock that any journal must hold to sign.

- Every journal file (db, ``-wal``, ``-shm``, ``.lock``) is created 0600: it holds positions
  and signed transactions. SQLite gives the WAL and shm files the main file's mode, so the main
  file is created 0600 before SQLite opens it.
- ``wal_damage``: SQLite silently ignores a WAL whose header or frames fail their checksums,
  which would turn a journal into an older (or empty) one without a word. A process killed
  mid-write leaves only a torn *tail* without a complete commit frame after it; a frame that
  fails its checksum and is followed by a complete commit frame of the same WAL generation
  means the file was damaged.
- ``move_aside``: ``run --new-journal`` renames ``<name>`` (and its WAL/shm) to
  ``<name>.<tag>.bak`` instead of deleting anything.
- ``WalletClaim``: one signing daemon per (chain id, wallet address), whatever its journal path
  or state directory: an ``flock`` on ``<dir>/<chain id>-<wallet>.lock`` in a per-user
  directory (``$XDG_STATE_HOME/delever/wallets``, else ``~/.local/state/delever/wallets``). It
  is deliberately not a config setting: two configs naming different directories would each get
  a lock of their own. Beside the lock, ``<chain id>-<wallet>.json`` records the chain (genesis
  hash) and the journal (resolved path, tag) that last signed for the wallet, so a journal that
  went missing is recognised at the next start instead of silently starting afresh.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import DeleverError

WAL_MAGIC_LE = 0x377F0682  # checksums over little-endian words
WAL_MAGIC_BE = 0x377F0683  # checksums over big-endian words
WAL_HEADER = 32
WAL_FRAME_HEADER = 24
WALLET_DIR_ENV = "XDG_STATE_HOME"


class WalletLocked(DeleverError):
    """Another delever process signs for the same wallet on the same chain."""


def sidecars(path: Path) -> list[Path]:
    """The SQLite files that go with a journal database (WAL and shared memory)."""
    return [path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def is_new(path: Path) -> bool:
    """True when ``path`` holds no journal yet (absent or empty): it gets a new one."""
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True


def make_private(path: Path) -> None:
    """Tighten a journal's files to mode 0600."""
    for file in (path, *sidecars(path)):
        try:
            os.chmod(file, 0o600)
        except FileNotFoundError:
            pass


def create_atomically(path: Path, build: Callable[[sqlite3.Connection], None]) -> None:
    """A new journal appears whole or not at all: ``build`` fills ``<name>.new`` (mode 0600),
    which is fsynced and renamed over ``path``. A reader (``status``, the console) opening the
    path meanwhile finds no journal, never a half-made one it would call damaged."""
    staging = path.with_name(path.name + ".new")
    for leftover in (staging, *sidecars(staging)):  # from a crash before an earlier rename
        leftover.unlink(missing_ok=True)
    os.close(os.open(str(staging), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    db = sqlite3.connect(str(staging), isolation_level=None)
    try:
        build(db)
    finally:
        db.close()
    fd = os.open(str(staging), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(staging, path)
    directory = os.open(str(path.parent), os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def wal_damage(wal: Path) -> str | None:
    """Why SQLite would silently drop committed frames of this WAL, or None when it would not."""
    try:
        data = wal.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) == 0:
        return None
    if len(data) < WAL_HEADER:
        return "its WAL header is truncated"
    magic, _version, page_size, _seq, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:WAL_HEADER])
    if magic not in (WAL_MAGIC_LE, WAL_MAGIC_BE) or page_size < 512 or page_size & (page_size - 1):
        return "its WAL header is not a WAL header"
    order = "<" if magic == WAL_MAGIC_LE else ">"
    s = _checksum(data[:24], (0, 0), order)
    if s != (c1, c2):
        return "its WAL header fails its checksum"
    frame_size = WAL_FRAME_HEADER + page_size
    offset, valid = WAL_HEADER, True
    while offset + frame_size <= len(data):
        _pgno, commit, f_salt1, f_salt2, f1, f2 = struct.unpack(">6I", data[offset : offset + WAL_FRAME_HEADER])
        if (f_salt1, f_salt2) != (salt1, salt2):
            break  # a frame of an earlier generation: where this WAL legitimately ends
        if valid:
            s = _checksum(data[offset : offset + 8], s, order)
            s = _checksum(data[offset + WAL_FRAME_HEADER : offset + frame_size], s, order)
            valid = s == (f1, f2)
        elif commit:
            return f"its WAL frame at byte {offset} commits a transaction that SQLite would drop"
        offset += frame_size
    return None


def _checksum(data: bytes, seed: tuple[int, int], order: str) -> tuple[int, int]:
    s0, s1 = seed
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def move_aside(path: Path, tag: str) -> Path:
    """Rename the journal at ``path`` (and its WAL/shm) to ``<name>.<tag>.bak`` (``.bak.2``… if
    taken). The caller holds the journal's lock and no connection to it."""
    target = path.with_name(f"{path.name}.{tag}.bak")
    n = 2
    while target.exists():
        target = path.with_name(f"{path.name}.{tag}.bak.{n}")
        n += 1
    for source, suffix in ((path, ""), *((s, s.name[len(path.name) :]) for s in sidecars(path))):
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    return target


def wallet_dir(env: dict[str, str] | None = None) -> Path:
    """The per-user directory of wallet locks and records (see the module docstring)."""
    env = dict(os.environ) if env is None else env
    base = env.get(WALLET_DIR_ENV) or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base).expanduser() / "delever" / "wallets"


@dataclass(frozen=True, slots=True)
class WalletRecord:
    """Which journal last signed for a wallet on a chain."""

    chain_id: int
    wallet: str
    genesis_hash: str
    journal: str  # resolved path
    tag: str


class WalletClaim:
    """An ``flock`` on ``<dir>/<chain id>-<wallet>.lock`` held until ``release``."""

    def __init__(self, directory: Path, *, chain_id: int, wallet: str, journal: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._stem = directory / f"{chain_id}-{wallet.lower()}"
        self.chain_id, self.wallet = chain_id, wallet
        lock_path = self._stem.with_suffix(".lock")
        fd = os.open(str(lock_path), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WalletLocked(
                f"wallet {wallet} on chain {chain_id} is in use by another delever process ({holder}; lock "
                f"{lock_path}): one daemon per wallet"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, journal {journal}\n".encode(), 0)
        self._fd: int | None = fd

    def record(self) -> WalletRecord | None:
        try:
            data: dict[str, Any] = json.loads(self._stem.with_suffix(".json").read_text())
            return WalletRecord(**data)
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def write_record(self, record: WalletRecord) -> None:
        path = self._stem.with_suffix(".json")
        tmp = path.with_suffix(".json.tmp")
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {
                    "chain_id": record.chain_id,
                    "wallet": record.wallet,
                    "genesis_hash": record.genesis_hash,
                    "journal": record.journal,
                    "tag": record.tag,
                },
                handle,
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

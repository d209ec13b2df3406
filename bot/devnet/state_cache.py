"""The demo market deployed once and kept as an anvil state, so `devnet up` loads it in a moment.

What is cached is everything `devnet up` deploys before the demo position: Aave v3 with its
reserves and liquidity, Multicall3, and Uniswap v3 with its pools at the requested depth. The
position itself (its size and HF are `up`'s options) is opened after the load, on a market with
no borrows yet, so no interest accrues while the cache waits.

Recognised or rebuilt, never trusted blindly: the file name is a hash of everything the deployment
depends on (the pinned npm packages, the deploy code under ``bot/devnet``, the adapter build, the
chain id and the DEX depth). Any change gives another name: the stale file is pruned, the state
rebuilt on the next `up` (or by `make install`, which builds the default ones).

Only the accounts (code, storage, balances, nonces) are kept, not the blocks: every `up` then
starts from a fresh genesis block of its own, at a timestamp no earlier `up` used
(``next_genesis_timestamp``), so two devnets loaded from one cache have different genesis
hashes, and a journal of an earlier devnet is recognised as another chain's.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.devnet import anvil
from bot.devnet.anvil import repo_root, rpc_call

CACHE_RELATIVE_DIR = Path("devnet-deps/state-cache")
# What the deployment depends on besides its parameters.
_INPUTS = ("devnet-deps/package-lock.json", "bot/adapters/chain/deleverage_adapter.json", "bot/adapters/chain/abis.py")
_CODE_DIR = Path("bot/devnet")
GENESIS_CLOCK_NAME = "genesis-clock"
FORMAT = 2  # bump when the layout of the cached files changes


@dataclass(frozen=True, slots=True)
class CachedMarket:
    """A cached deployment: its anvil state file and the facts it holds, as plain JSON (reading
    them needs no web3, which alone takes longer to import than the whole load)."""

    state_path: Path
    facts: dict[str, Any]

    @property
    def market(self) -> dict[str, Any]:
        """``bot.devnet.aave_market.Market`` as a dict (``deploy_block`` 0: the chain has no blocks)."""
        return dict(self.facts["market"])

    def reserve(self, symbol: str) -> dict[str, Any]:
        for reserve in self.facts["market"]["reserves"]:
            if reserve["symbol"] == symbol:
                return dict(reserve)
        raise KeyError(f"no reserve {symbol!r} in the cached market")

    def account(self, index: int) -> tuple[str, str]:
        """(address, private key) of anvil's default account ``index`` (the public test mnemonic)."""
        address, key = self.facts["accounts"][index]
        return str(address), str(key)

    def prices_usd(self) -> dict[str, Decimal]:
        return {symbol: Decimal(usd) for symbol, usd in self.facts["prices_usd"].items()}


def code_fingerprint(root: Path | None = None) -> str:
    """Hash of the pinned packages, the deploy code and the adapter build (not the parameters)."""
    root = root or repo_root()
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    paths = [root / p for p in _INPUTS] + sorted((root / _CODE_DIR).rglob("*.py"))
    for path in paths:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def cache_key(*, chain_id: int, dex_usd_within_1pct: Decimal, root: Path | None = None) -> str:
    depth = "nodex" if dex_usd_within_1pct <= 0 else f"dex{dex_usd_within_1pct.normalize():f}"
    return f"{code_fingerprint(root)}-{chain_id}-{depth}"


def cache_dir(root: Path | None = None) -> Path:
    return (root or repo_root()) / CACHE_RELATIVE_DIR


def lookup(key: str, root: Path | None = None) -> CachedMarket | None:
    """The cached deployment for ``key``, or None (missing, or unreadable: it will be rebuilt)."""
    directory = cache_dir(root)
    state_path, facts_path = directory / f"{key}.state.json", directory / f"{key}.facts.json"
    try:
        facts = json.loads(facts_path.read_text())
    except (OSError, ValueError):
        return None
    if facts.get("key") != key or not state_path.is_file():
        return None
    return CachedMarket(state_path, facts)


def store(
    rpc_url: str,
    key: str,
    *,
    market: Any,
    liquidity_provider: str,
    dex: Any,
    reserves: tuple[Any, ...] | None = None,
    root: Path | None = None,
) -> Path:
    """Dump the chain's accounts at ``rpc_url`` under ``key`` (atomically) and prune other keys' files."""
    from bot.devnet.aave_market import DEFAULT_RESERVES
    from bot.devnet.scenario import account_key

    reserves = reserves or DEFAULT_RESERVES
    directory = cache_dir(root)
    directory.mkdir(parents=True, exist_ok=True)
    raw = bytes.fromhex(str(rpc_call(rpc_url, "anvil_dumpState", timeout=60)).removeprefix("0x"))
    dumped = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    state_path = directory / f"{key}.state.json"
    # The block environment anvil requires, at number 0 and with no blocks: the loading anvil keeps
    # its own fresh genesis block (timestamped at its start) as the head.
    block = {**dumped["block"], "number": "0x0"}
    slim = {"block": block, "accounts": dumped["accounts"], "best_block_number": 0, "blocks": [], "transactions": []}
    _write_atomic(state_path, json.dumps(slim))
    facts = {
        "key": key,
        # No blocks are kept: the loaded chain starts at block 0.
        "market": asdict(replace(market, deploy_block=0)),
        "liquidity_provider": liquidity_provider,
        "dex": dex.to_json() if dex is not None else None,
        "prices_usd": {spec.symbol: str(spec.price_usd) for spec in reserves},
        "weth": [spec.symbol for spec in reserves if spec.is_weth],
        "accounts": [list(account_key(index)) for index in range(anvil.AnvilOptions().accounts)],
    }
    _write_atomic(directory / f"{key}.facts.json", json.dumps(facts, indent=1))
    fingerprint = key.split("-", 1)[0]
    for old in directory.iterdir():
        if not old.name.startswith(fingerprint) and old.name.endswith((".state.json", ".facts.json")):
            old.unlink(missing_ok=True)
    return state_path


def next_genesis_timestamp(root: Path | None = None) -> int:
    """A genesis timestamp no earlier `up` of this checkout used: now, or one second after the last.

    anvil's genesis hash depends on the genesis timestamp and nothing else that differs between
    two `up`s (a loaded state, a genesis file's extra data: neither changes it), and a journal
    knows its chain by that hash: two devnets started within one second must still differ.
    """
    directory = cache_dir(root)
    now = int(time.time())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / GENESIS_CLOCK_NAME, "a+") as clock:
            fcntl.flock(clock, fcntl.LOCK_EX)
            clock.seek(0)
            text = clock.read().strip()
            stamp = max(now, int(text) + 1) if text.isdigit() else now
            clock.seek(0)
            clock.truncate()
            clock.write(str(stamp))
            return stamp
    except OSError:  # a read-only checkout: at least a second apart
        return now


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def build(*, chain_id: int = anvil.DEFAULT_CHAIN_ID, dex_usd_within_1pct: Decimal, root: Path | None = None) -> str:
    """Make sure the cache for these parameters exists (deploy on a private anvil if not); its key."""
    key = cache_key(chain_id=chain_id, dex_usd_within_1pct=dex_usd_within_1pct, root=root)
    if lookup(key, root) is not None:
        return key
    from web3 import Web3

    from bot.devnet.dex.depth import DepthProfile
    from bot.devnet.local import deploy_market_base

    profile = DepthProfile(usd_within_1pct=dex_usd_within_1pct) if dex_usd_within_1pct > 0 else None
    with anvil.Anvil(anvil.AnvilOptions(chain_id=chain_id)) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))
        base = deploy_market_base(w3, dex=profile)
        store(
            node.rpc_url, key, market=base.market, liquidity_provider=base.liquidity_provider, dex=base.dex, root=root
        )
    return key


if __name__ == "__main__":  # `make install`: the default devnets, with and without the DEX
    from bot.devnet.launcher import UpOptions

    for depth in (UpOptions().dex_usd_within_1pct, Decimal(0)):
        sys.stdout.write(f"devnet state cache: {build(dex_usd_within_1pct=depth)}\n")

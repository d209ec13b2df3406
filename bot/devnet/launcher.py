"""`delever devnet up / down / status` as plain functions: processes, deployment, the state file.

``bring_up`` starts a detached anvil (it outlives the command), deploys the market, opens the demo
position, starts the exchange emulator through ``start_exchange`` (the hook below) and writes the
state file. ``bring_down`` stops every process the state file names, after checking that each pid
is still the process that was started (pids get reused), and removes the file.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.devnet import anvil, state
from bot.devnet.dex.depth import DepthProfile
from bot.devnet.state import DevnetState
from bot.errors import UserInputError

ANVIL = "anvil"
PENDING_FILE_NAME = "devnet.pending.json"


class DevnetAlreadyRunning(UserInputError):
    """`devnet up` while a devnet from the same state directory is alive."""


@dataclass(frozen=True, slots=True)
class ExchangeLaunch:
    """What the exchange emulator needs to know to start against this devnet."""

    rpc_url: str
    chain_id: int
    tokens: dict[str, str]  # symbol -> ERC-20 address on the devnet
    price_feeds: dict[str, str]  # symbol -> MockAggregator address (reference prices)
    prices_usd: dict[str, Decimal]  # symbol -> current oracle price
    wallet: str  # the demo wallet (deposits come from it)
    state_dir: Path  # where logs and files may go
    oracle: str = ""  # AaveOracle: the emulator's book follows it
    # An anvil account with ETH (any account may mint the test tokens), to fund a hot wallet.
    funder_private_key: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class ExchangeEndpoint:
    """What a started exchange emulator reports back; it becomes part of the state file."""

    url: str
    api_key: str
    api_secret: str
    hot_wallet: str | None = None
    pid: int | None = None  # a detached process `devnet down` must stop; None if none


ExchangeStarter = Callable[[ExchangeLaunch], ExchangeEndpoint | None]


def start_exchange(launch: ExchangeLaunch) -> ExchangeEndpoint | None:
    """HOOK — start the Binance-compatible exchange emulator for this devnet.

    Contract: start it detached (new session, log under ``launch.state_dir``), wait until it
    answers, return its URL, API key/secret, hot wallet and pid. Return None to run without it.
    ``bring_up`` stops anvil (and the returned pid) if anything after this fails.
    """
    from bot.devnet.exchange_launch import spawn_emulator

    facts = spawn_emulator(
        rpc_url=launch.rpc_url,
        chain_id=launch.chain_id,
        tokens=launch.tokens,
        oracle=launch.oracle,
        directory=launch.state_dir,
    )
    return ExchangeEndpoint(
        url=str(facts["exchange_url"]),
        api_key=str(facts["api_key"]),
        api_secret=str(facts["api_secret"]),
        hot_wallet=str(facts["exchange_hot_wallet"]),
        pid=int(facts["pid"]),
    )


def notify_exchange_price(devnet: DevnetState, symbol: str, usd: Decimal) -> None:
    """HOOK — tell a running exchange emulator that the oracle price of ``symbol`` moved.

    Called by `devnet set-price` after the on-chain feed moved. The emulator reads its reference
    price from the devnet's AaveOracle every block, so it follows without being told.
    """
    return None


def align_dex(devnet: DevnetState) -> list[Any]:
    """HOOK — after `devnet set-price`: arbitrage the devnet's Uniswap v3 pools to the oracle price
    (no-op on a devnet without a DEX). Returns the pool moves made."""
    facts = devnet.extra.get("dex")
    if not facts:
        return []
    from bot.devnet.dex.arbitrage import align_pools
    from bot.devnet.dex.facts import Dex

    return list(align_pools(devnet.rpc_url, devnet.oracle, Dex.from_json(facts)))


def _dex_profile(options: UpOptions) -> DepthProfile | None:
    if options.dex_usd_within_1pct <= 0:
        return None
    return DepthProfile(usd_within_1pct=options.dex_usd_within_1pct)


@dataclass(frozen=True, slots=True)
class UpOptions:
    collateral: Decimal = Decimal(100)
    target_hf: Decimal = Decimal("1.45")
    collateral_symbol: str = "WETH"
    debt_symbol: str = "USDT"
    port: int = 0
    chain_id: int = anvil.DEFAULT_CHAIN_ID
    wallet_index: int = 2
    # Deploy on automine (fast), then produce a block every ``block_time`` seconds so that
    # confirmations accrue while nothing is sent, as on a real chain. 0 keeps automine.
    block_time: int = 1  # whole seconds (anvil takes an integer)
    # Uniswap v3 WETH/stablecoin pools with this much USD within 1 % per pair; 0: no DEX.
    dex_usd_within_1pct: Decimal = Decimal(3_000_000)


@contextmanager
def _state_lock(directory: Path) -> Iterator[None]:
    """One `devnet up`/`down` at a time per state directory."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "devnet.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def running_state(path: Path | None = None) -> DevnetState | None:
    """The state when its anvil is alive (and still the process that was started), else None."""
    current = state.read_state(path)
    if current is None:
        return None
    return current if _owned_alive(current, ANVIL) else None


def bring_up(options: UpOptions, *, exchange_starter: ExchangeStarter = start_exchange) -> DevnetState:
    """Start a detached anvil, deploy, open the demo position, start the exchange, write the state.

    Until the state file is written, the pids started so far sit in ``devnet.pending.json``: if
    this process is killed half-way, the next `up` or `down` stops them.
    """
    directory = state.state_dir()
    with _state_lock(directory):
        _clean_pending(directory)
        existing = state.read_state()
        if existing is not None:
            if _owned_alive(existing, ANVIL):
                raise DevnetAlreadyRunning(
                    f"a devnet is already running at {existing.rpc_url} (pid {existing.pids.get(ANVIL)}); "
                    "run `delever devnet down` first"
                )
            _stop_all(existing)  # stale: whatever is left of it
            state.remove_state()
        anvil_options = anvil.AnvilOptions(port=options.port, chain_id=options.chain_id)
        pid, rpc_url = anvil.spawn_detached(anvil_options, log_path=directory / state.ANVIL_LOG_NAME)
        pids = {ANVIL: pid}
        _write_pending(directory, pids)
        try:
            devnet = _deploy_and_open(rpc_url, options, pids, exchange_starter, directory)
            state.write_state(devnet)
        except BaseException:
            for started in pids.values():
                anvil.terminate_pid(started)
            raise
        finally:
            (directory / PENDING_FILE_NAME).unlink(missing_ok=True)
        return devnet


def _write_pending(directory: Path, pids: dict[str, int]) -> None:
    ticks = {name: _start_ticks(pid) for name, pid in pids.items()}
    state.write_json_atomic(directory / PENDING_FILE_NAME, {"pids": pids, "process_start_ticks": ticks})


def _clean_pending(directory: Path) -> list[str]:
    """Stop what an interrupted `devnet up` left behind (only processes it recorded)."""
    path = directory / PENDING_FILE_NAME
    try:
        pending = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except ValueError:
        path.unlink(missing_ok=True)
        return []
    stopped = []
    for name, pid in pending.get("pids", {}).items():
        recorded = pending.get("process_start_ticks", {}).get(name)
        if anvil.pid_alive(pid) and recorded is not None and recorded == _start_ticks(pid):
            anvil.terminate_pid(pid)
            stopped.append(name)
    path.unlink(missing_ok=True)
    return stopped


def _deploy_and_open(
    rpc_url: str, options: UpOptions, pids: dict[str, int], exchange_starter: ExchangeStarter, directory: Path
) -> DevnetState:
    from web3 import Web3

    from bot.devnet import scenario
    from bot.devnet.local import DemoOptions, deploy_demo, devnet_state

    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    demo_options = DemoOptions(
        collateral=options.collateral,
        target_hf=options.target_hf,
        collateral_symbol=options.collateral_symbol,
        debt_symbol=options.debt_symbol,
        wallet_index=options.wallet_index,
        dex=_dex_profile(options),
    )
    demo = deploy_demo(w3, rpc_url, demo_options)
    if options.block_time > 0:
        anvil.rpc_call(rpc_url, "evm_setIntervalMining", [options.block_time])
    _funder, funder_key = scenario.account_key(scenario.ADMIN_INDEX)
    endpoint = exchange_starter(
        ExchangeLaunch(
            rpc_url=rpc_url,
            chain_id=demo.market.chain_id,
            tokens=demo.market.tokens,
            price_feeds=demo.market.price_feeds,
            prices_usd={s.symbol: s.price_usd for s in demo_options.reserves},
            wallet=demo.wallet,
            state_dir=directory,
            oracle=demo.market.oracle,
            funder_private_key=funder_key,
        )
    )
    if endpoint is not None and endpoint.pid is not None:
        pids["exchange"] = endpoint.pid
        _write_pending(directory, pids)
    devnet = devnet_state(
        demo,
        pids=pids,
        extra={
            "process_start_ticks": {name: _start_ticks(pid) for name, pid in pids.items()},
            "anvil_log": str(directory / state.ANVIL_LOG_NAME),
            # Which chain this is (a journal binds to it; `devnet down` moves that chain's journals aside).
            "genesis_hash": "0x" + bytes(w3.eth.get_block(0)["hash"]).hex(),
        },
    )
    return with_exchange(devnet, endpoint) if endpoint is not None else devnet


def bring_down() -> list[str]:
    """Stop everything the state file names and remove it; idempotent. Returns what was stopped."""
    directory = state.state_dir()
    with _state_lock(directory):
        stopped = _clean_pending(directory)
        try:
            existing = state.read_state()
        except state.DamagedStateFile as damaged:
            from bot.devnet.state_recovery import stop_from_damaged

            return stopped + stop_from_damaged(damaged)
        if existing is None:
            return stopped
        stopped += _stop_all(existing)
        state.remove_state()
        return stopped


def _stop_all(devnet: DevnetState) -> list[str]:
    stopped = []
    for name in sorted(devnet.pids, key=lambda n: n == ANVIL):  # anvil last: others may still use it
        if _owned_alive(devnet, name):
            if not anvil.terminate_pid(devnet.pids[name]):
                raise RuntimeError(f"{name} (pid {devnet.pids[name]}) did not stop")
            stopped.append(name)
    return stopped


def _owned_alive(devnet: DevnetState, name: str) -> bool:
    """Alive and still the process `devnet up` started (same start time), not a reused pid."""
    pid = devnet.pids.get(name)
    if pid is None or not anvil.pid_alive(pid):
        return False
    recorded = devnet.extra.get("process_start_ticks", {}).get(name)
    return recorded is None or recorded == _start_ticks(pid)


def _start_ticks(pid: int) -> int | None:
    """Process start time in clock ticks since boot (/proc/<pid>/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[-1].split()[19])


def with_exchange(devnet: DevnetState, endpoint: ExchangeEndpoint) -> DevnetState:
    """The state with an exchange emulator's facts added (for a starter run outside ``bring_up``)."""
    pids = dict(devnet.pids)
    if endpoint.pid is not None:
        pids["exchange"] = endpoint.pid
    return replace(
        devnet,
        exchange_url=endpoint.url,
        api_key=endpoint.api_key,
        api_secret=endpoint.api_secret,
        exchange_hot_wallet=endpoint.hot_wallet,
        pids=pids,
    )

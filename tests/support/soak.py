"""The soak driver: the daemon (a real process) on a devnet for minutes or an hour under a seeded
random-walk oracle price, with faults drawn at random from the fault suites' catalogue and
restarts, then the fault suites' invariants, HF at every block and the daemon's memory.

The world is the fault suites' rig (``faults_helpers.Rig``: anvil with the demo deployment
`devnet up` makes, the exchange emulator in-process so the invariants can read its orders),
with the emulator's book following the Aave oracle (as under `devnet up`) and the daemon's RPC
behind ``bot.devnet.fault_proxy``. The walk moves the WETH oracle like `devnet set-price`
(``scenario.set_price``). To keep the daemon busy, whenever HF drifts high the position is
re-levered: account 8 borrows USDT on the wallet's behalf (Aave credit delegation, granted
once before the run), so the wallet's debt grows while its nonce and USDT balance stay the
daemon's alone.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from web3 import Web3

from bot.devnet import artifacts, quick, scenario
from bot.devnet.aave_market import Deployer
from bot.devnet.exchange import CoinConfig, EmulatorConfig, start_emulator
from bot.devnet.fault_proxy import FaultProxy, RpcFault
from bot.devnet.local import DemoOptions
from bot.domain.wadray import MAX_UINT256, WAD
from bot.engine.journal import BatchStatus, ControlState
from tests.support.devnet import start_devnet
from tests.support.e2e import HOT_WALLET_INDEX, spend_the_borrowed_usdt
from tests.support.faults_helpers import WITHDRAW_FEE_USDT, Rig
from tests.support.unwind_harness import HfSampler

D = Decimal
DURATION_ENV, SEED_ENV, ARTEFACTS_ENV = "DELEVER_SOAK_S", "DELEVER_SOAK_SEED", "DELEVER_SOAK_ARTEFACTS"
ROOT = Path(__file__).resolve().parents[2]
DELEGATE_INDEX = 8  # borrows on the wallet's behalf to re-lever it
START_PRICE = D(1700)
TRIGGER, TARGET, FLOOR = D("1.5"), D("1.6"), D("1.10")  # the rig's config (tests/support/e2e.py)
SHOCK_BPS = 300
RELEVER_ABOVE, RELEVER_TO = D("1.56"), D("1.52")  # a 1.3 % fall from 1.52 crosses the trigger
PRICE_BAND = (D(900), D(2600))

ORDER, WITHDRAW = "POST /api/v3/order", "POST /sapi/v1/capital/withdraw/apply"
# name -> (route, spec): the exchange emulator's fault routes, as the fault suites use them
EXCHANGE_FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "ex_order_503": (ORDER, {"kind": "status", "status": 503}),
    "ex_order_lost_504": (ORDER, {"kind": "lost", "how": "504"}),
    "ex_order_lost_drop": (ORDER, {"kind": "lost", "how": "drop"}),
    "ex_order_429_418": (ORDER, {"kind": "rate_limit", "times": 1, "ban_times": 1, "retry_after": 2}),
    "ex_order_partial": (ORDER, {"kind": "partial", "fraction": "0.4"}),
    "ex_order_delay_3s": (ORDER, {"kind": "delay", "seconds": 3}),
    "ex_withdraw_lost_504": (WITHDRAW, {"kind": "lost", "how": "504"}),
    "ex_withdraw_500": (WITHDRAW, {"kind": "status", "status": 500}),
    "ex_depth_delay_6s": ("GET /api/v3/depth", {"kind": "delay", "seconds": 6}),
    "ex_lookup_503": ("GET /api/v3/order", {"kind": "status", "status": 503, "times": 2}),
}
# A keyed exchange write gets one re-send after a failure that its lookup proves did nothing;
# a second failure of the same key is the executor's NeedsReview by design. So a write route is
# not faulted again within this many seconds of its last fault (one failure per key).
WRITE_ROUTES = (ORDER, WITHDRAW)
WRITE_FAULT_SPACING_S = 90.0
# name -> (JSON-RPC method, spec): the fault proxy in front of the daemon's RPC
RPC_FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "rpc_503": ("*", {"kind": "status", "status": 503, "times": 2}),
    "rpc_garbage": ("*", {"kind": "garbage", "times": 1}),
    "rpc_delay_3s": ("*", {"kind": "delay", "seconds": 3}),
    "rpc_send_lost": ("eth_sendRawTransaction", {"kind": "lost"}),
    "rpc_send_503": ("eth_sendRawTransaction", {"kind": "status", "status": 503}),
}
PROCESS_FAULTS = ("kill9", "sigterm", "crash_at")
CRASH_POINTS = (
    "after_act:withdraw",
    "after_act:deposit",
    "after_act:sell",
    "after_act:withdraw_quote",
    "after_act:repay",
    "after_intent:verify",
    "before_close",
)


def soak_seconds(default: float = 600) -> float:
    return float(os.environ.get(DURATION_ENV, default))


# The suite's seed is fixed so that a red run replays as it happened; "random" draws a new one
# (printed) for exploring by hand.
SUITE_SEED = 20261203


def soak_seed() -> int:
    chosen = os.environ.get(SEED_ENV) or str(SUITE_SEED)
    return random.SystemRandom().randrange(10**9) if chosen == "random" else int(chosen)


@contextmanager
def soak_rig(tmp: Path) -> Iterator[tuple[Rig, FaultProxy]]:
    """The fault suites' rig on a fresh devnet (100 WETH at HF ≈ 1.7 at $2,000), the WETH oracle
    at $1,700, the emulator following the oracle, the daemon's RPC behind a fault proxy."""
    with start_devnet(DemoOptions(collateral=D(100), target_hf=D("1.7"))) as devnet:
        spend_the_borrowed_usdt(devnet)
        market, w3 = devnet.market, devnet.w3
        delegate = scenario.accounts(w3)[DELEGATE_INDEX]
        debt_token = w3.eth.contract(address=market.reserve("USDT").variable_debt_token, abi=_APPROVE_DELEGATION)
        Deployer(w3, devnet.wallet).call("delegate", debt_token.functions.approveDelegation(delegate, MAX_UINT256))
        scenario.set_price(w3, market, "WETH", START_PRICE)
        _, hot_key = scenario.account_key(HOT_WALLET_INDEX)
        coins = {
            "ETH": CoinConfig("ETH", None, 18, D("0.0008"), D("0.0016")),
            "USDT": CoinConfig(
                "USDT", market.tokens["USDT"], 6, WITHDRAW_FEE_USDT, D(10), withdraw_multiple=D("0.000001")
            ),
        }
        handle = start_emulator(
            EmulatorConfig(
                rpc_url=devnet.node.rpc_url,
                hot_wallet_key=hot_key,
                coins=coins,
                oracle_feeds={"ETH": market.reserve("WETH").price_feed},
                deposit_confirmations=1,
                withdrawal_delay_s=0.2,
                poll_interval_s=0.1,
            )
        )
        rig = Rig(devnet, handle, tmp)
        try:
            with FaultProxy(rig.url) as proxy:
                # The shock stays the configured 3 % (``SHOCK_BPS``): the walk compresses minutes of a
                # crash into seconds (σ ≈ 3 % per 1m candle), so a σ-sized shock over the planner's
                # 670 s round trip blocks every withdrawal by the floor once ten candles exist.
                rig.extra_env = {"DELEVER_CHAIN__RPC_URL": proxy.url, "DELEVER_EXCHANGE__CANDLES_LIMIT": "0"}
                rig.start_block = quick.block_number(rig.url)
                yield rig, proxy
        finally:
            rig.cleanup()
            handle.stop()


def keep_artefacts(rig: Rig, seed: int, report: dict[str, Any] | None = None) -> Path:
    """Copy what a failed soak leaves (the journal, consistent even mid-WAL; every daemon's log;
    the journal's last events as text; the report) to ``$DELEVER_SOAK_ARTEFACTS`` or
    ``.delever/soak/<seed>-<UTC time>/`` under the repository, out of pytest's rotating tmp."""
    base = Path(os.environ.get(ARTEFACTS_ENV) or ROOT / ".delever" / "soak")
    target = base / f"{seed}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
    target.mkdir(parents=True, exist_ok=True)
    for log in sorted(rig.tmp.glob("daemon-*.log")):
        shutil.copy(log, target / log.name)
    if rig.journal_path.exists():
        source = sqlite3.connect(f"{rig.journal_path.resolve().as_uri()}?mode=ro", uri=True)
        copy = sqlite3.connect(target / "journal.sqlite")
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        (target / "journal-events.txt").write_text(journal_events(rig, limit=None))
    if report is not None:
        (target / "report.json").write_text(json.dumps(report, default=str, indent=1))
    return target


def journal_events(rig: Rig, limit: int | None = 60) -> str:
    """The journal's events (the last ``limit``; all with None), one line each."""
    try:
        with rig.journal() as j:
            events = j.events()
    except Exception as e:  # noqa: BLE001 - a diagnostic only
        return f"(journal unreadable: {e})"
    shown = events if limit is None else events[-limit:]
    return "\n".join(
        f"{ts:.1f} {batch or '-'} {step or '-'} {kind} {detail or ''}" for ts, batch, step, kind, detail in shown
    )


class RssSampler(threading.Thread):
    """VmRSS (kB, from /proc) of the daemon process now running, every ``every`` s, per pid."""

    def __init__(self, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.every, self.pid = every, 0
        self.samples: dict[int, list[tuple[float, int]]] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every):
            pid = self.pid
            kb = _vm_rss_kb(pid) if pid else None
            if kb is not None:
                self.samples.setdefault(pid, []).append((time.monotonic(), kb))

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def _vm_rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Process:
    proc: subprocess.Popen
    generation: int
    log: Path
    crash_at: str | None
    started: float
    expected_exit: bool = False


@dataclass
class Soak:
    """Drives one soak run over ``rig``: call ``run()``, then ``wind_down()``, then ``report()``."""

    rig: Rig
    proxy: FaultProxy
    seed: int
    duration_s: float
    price_every_s: float = 2.5
    fault_every_s: tuple[float, float] = (6.0, 14.0)
    process_fault_every_s: tuple[float, float] = (45.0, 90.0)
    process_faults_until: float = 0.55  # the last part of the run has no restarts: one long-lived process
    rng: random.Random = field(init=False)
    price: Decimal = START_PRICE
    daemon: Process | None = None
    generations: list[Process] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    rpc_armed: list[tuple[str, RpcFault]] = field(default_factory=list)
    exits: list[tuple[int, int | None, str]] = field(default_factory=list)  # generation, code, why
    unexpected: list[tuple[int, int | None, str]] = field(default_factory=list)
    control: list[tuple[float, str, str | None, list[str]]] = field(default_factory=list)
    prices: list[tuple[int, Decimal]] = field(default_factory=list)  # (block, oracle price) after each move
    relevers: int = 0
    sampler: HfSampler | None = None
    rss: RssSampler = field(default_factory=RssSampler)
    recent: list[tuple[float, str]] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0
    wind_down_result: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # ---- the daemon ------------------------------------------------------------------------
    def start_daemon(self, crash_at: str | None = None) -> Process:
        cmd, env = self.rig.daemon_command()
        if crash_at:
            env["DELEVER_CRASH_AT"] = crash_at
        generation = len(self.generations)
        log_path = self.rig.tmp / f"daemon-{generation}.log"
        log = open(log_path, "w")  # noqa: SIM115 - closed by rig.cleanup()
        proc = subprocess.Popen(
            cmd, cwd=self.rig.tmp, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        self.rig.spawned.append((proc, log))
        self.daemon = Process(proc, generation, log_path, crash_at, time.monotonic())
        self.generations.append(self.daemon)
        self.rss.pid = proc.pid
        return self.daemon

    def stop_daemon(self, how: str, timeout: float = 60) -> int | None:
        """SIGKILL or SIGTERM the running daemon; its exit code (bounded wait)."""
        d = self.daemon
        if d is None or d.proc.poll() is not None:
            return None if d is None else d.proc.returncode
        d.expected_exit = True
        d.proc.send_signal(signal.SIGKILL if how == "kill9" else signal.SIGTERM)
        try:
            code = d.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.unexpected.append((d.generation, None, f"{how}: still running after {timeout:.0f} s, killed"))
            d.proc.kill()
            code = d.proc.wait(10)
        self.exits.append((d.generation, code, how))
        if how == "sigterm" and code != 0:
            self.unexpected.append((d.generation, code, f"SIGTERM ended with exit {code}: {self._tail(d)}"))
        return code

    def _watch_daemon(self) -> None:
        """Restart a daemon that exited on its own (a crash point: expected; anything else: noted)."""
        d = self.daemon
        if d is None or d.proc.poll() is None or d.expected_exit:
            return
        code = d.proc.returncode
        if d.crash_at and code == 137:
            self.exits.append((d.generation, code, f"crash_at {d.crash_at}"))
            self.faults[f"crash_at:{d.crash_at}"] += 1
        else:
            self.exits.append((d.generation, code, "exited on its own"))
            self.unexpected.append((d.generation, code, self._tail(d)))
        self.start_daemon()

    def _tail(self, d: Process, lines: int = 12) -> str:
        text = d.log.read_text(errors="replace") if d.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # ---- the market ------------------------------------------------------------------------
    def hf(self) -> Decimal:
        return (
            D(quick.account_data(self.rig.url, self.rig.devnet.market.pool, self.rig.devnet.wallet).health_factor_wad)
            / WAD
        )

    def step_price(self) -> None:
        """One step of the walk: a slight downward drift, ±1.2 % at most (inside the 3 % shock);
        only up while HF is below 1.3 (the daemon is behind: the walk alone never takes HF to the
        floor)."""
        move = D(str(round(max(-0.012, min(0.012, self.rng.gauss(-0.001, 0.006))), 5)))
        if move < 0 and self.hf() < D("1.3"):
            move = -move
        price = (self.price * (1 + move)).quantize(D("0.01"))
        lo, hi = PRICE_BAND
        if not lo <= price <= hi:
            price = (self.price * (1 - move)).quantize(D("0.01"))
        self.set_price(price)

    def set_price(self, price: Decimal) -> None:
        scenario.set_price(self.rig.devnet.w3, self.rig.devnet.market, "WETH", price)
        self.price = price
        self.prices.append((quick.block_number(self.rig.url), price))

    def relever(self) -> bool:
        """Borrow on the wallet's behalf back to HF ≈ 1.52 when HF is high and no batch is open."""
        if self.hf() <= RELEVER_ABOVE or self._open_batches():
            return False
        w3, market, wallet = self.rig.devnet.w3, self.rig.devnet.market, self.rig.devnet.wallet
        position = scenario.read_position(w3, market, wallet)
        amount = scenario.borrow_for_target_hf(position, "USDT", target_hf_wad=int(RELEVER_TO * WAD))
        if amount <= 0:
            return False
        pool = w3.eth.contract(address=Web3.to_checksum_address(market.pool), abi=artifacts.abi("Pool"))
        delegate = scenario.accounts(w3)[DELEGATE_INDEX]
        asset = market.reserve("USDT").asset
        Deployer(w3, delegate).call("relever", pool.functions.borrow(asset, amount, 2, 0, wallet))
        self.relevers += 1
        return True

    def _open_batches(self) -> bool:
        if not self.rig.journal_path.exists():
            return False
        with self.rig.journal() as j:
            return bool(j.batches(BatchStatus.OPEN))

    # ---- faults ----------------------------------------------------------------------------
    def inject_fault(self) -> str | None:
        """Arm one fault on the RPC or the exchange, unless one on that route is still armed."""
        kind = self.rng.choice([*EXCHANGE_FAULTS, *RPC_FAULTS])
        if kind in RPC_FAULTS:
            method, spec = RPC_FAULTS[kind]
            if any(f.method == method and not f.spent for _, f in self.rpc_armed):
                return None
            self.rpc_armed.append((kind, self.proxy.add(method, **spec)))
        else:
            route, spec = EXCHANGE_FAULTS[kind]
            if any(f["route"] == route for f in self.rig.admin("GET", "/faults")):
                return None
            if route in WRITE_ROUTES and self._faulted_within(route, WRITE_FAULT_SPACING_S):
                return None
            self.rig.add_fault(route=route, **spec)
        self.faults[f"armed:{kind}"] += 1
        self.recent.append((time.monotonic(), kind))
        return kind

    def _faulted_within(self, route: str, seconds: float) -> bool:
        method, path = route.split(" ", 1)
        now = time.time()
        return any(
            r["fault"] and r["method"] == method and r["path"] == path and now - r["time"] < seconds
            for r in self.rig.admin("GET", "/requests")
        )

    def process_fault(self) -> str:
        kind = self.rng.choice(PROCESS_FAULTS)
        self.faults[kind] += 1
        self.recent.append((time.monotonic(), kind))
        if kind == "crash_at":
            self.stop_daemon("sigterm")
            self.start_daemon(crash_at=self.rng.choice(CRASH_POINTS))
        else:
            self.stop_daemon(kind)
            self.start_daemon()
        return kind

    def _check_control(self) -> None:
        if not self.rig.journal_path.exists():
            return
        with self.rig.journal() as j:
            state, reason = j.control()
        last = self.control[-1][1] if self.control else ControlState.NORMAL.value
        if state.value != last:
            recent = [k for t, k in self.recent if t > time.monotonic() - 60]
            self.control.append((time.monotonic() - self.started_at, state.value, reason, recent))

    # ---- the run ---------------------------------------------------------------------------
    def run(self) -> None:
        self.started_at = time.monotonic()
        self.sampler = HfSampler(
            self.rig.url, self.rig.devnet.market.pool, self.rig.devnet.wallet, self.rig.start_block
        )
        self.sampler.start()
        self.rss.start()
        self.start_daemon()
        end = self.started_at + self.duration_s
        process_end = self.started_at + self.duration_s * self.process_faults_until
        next_price = self.started_at
        next_fault = self.started_at + self.rng.uniform(*self.fault_every_s)
        next_process = self.started_at + self.rng.uniform(*self.process_fault_every_s)
        next_control = self.started_at
        while (now := time.monotonic()) < end:
            self._watch_daemon()
            if now >= next_price:
                self.step_price()
                self.relever()
                next_price = now + self.price_every_s
            if now >= next_fault:
                self.inject_fault()
                next_fault = now + self.rng.uniform(*self.fault_every_s)
            if now >= next_process and now < process_end:
                self.process_fault()
                next_process = now + self.rng.uniform(*self.process_fault_every_s)
            if now >= next_control:
                self._check_control()
                next_control = now + 2
            time.sleep(0.2)

    def wind_down(self, timeout: float = 180) -> None:
        """Faults off; one last shock below the trigger (within 3 %); wait until the daemon has
        unwound it and no batch is open; then a clean stop. ``rig.hf_start`` = HF after the shock."""
        self.rig.admin("DELETE", "/faults")
        self.proxy.clear()
        self._watch_daemon()
        deadline = time.monotonic() + timeout
        while self.hf() >= TRIGGER * D("0.99") and time.monotonic() < deadline:
            self.set_price((self.price * D("0.98")).quantize(D("0.01")))
            time.sleep(0.5)
        self.rig.hf_start = int(self.hf() * WAD)
        shocked_at, settled = time.monotonic(), False
        while time.monotonic() < deadline:
            self._watch_daemon()
            if self.hf() >= TRIGGER and not self._open_batches():
                settled = True
                break
            time.sleep(0.5)
        self.wind_down_result = {
            "settled": settled,  # HF back above the trigger and no batch open, within the bound
            "hf_after_shock": str((D(self.rig.hf_start) / WAD).quantize(D("0.0001"))),
            "hf_end": str(self.hf().quantize(D("0.0001"))),
            "open_batches": self._open_batches(),
            "waited_s": round(time.monotonic() - shocked_at, 1),
            "bound_s": timeout,
            "last_blocked_alert": self.last_log_line("blocked below the policy's trigger"),
        }
        self._check_control()
        self.ended_at = time.monotonic()
        self.stop_daemon("sigterm")
        self.rss.stop()
        if self.sampler is not None:
            self.sampler.stop()

    # ---- what happened ---------------------------------------------------------------------
    def last_log_line(self, needle: str) -> str | None:
        """The last line of the daemons' logs containing ``needle`` (newest process first)."""
        for d in reversed(self.generations):
            text = d.log.read_text(errors="replace") if d.log.exists() else ""
            found = [line for line in text.splitlines() if needle in line]
            if found:
                return found[-1][:600]
        return None

    def fired(self) -> Counter[str]:
        """Faults that actually hit a request (the proxy's count; the emulator's request log)."""
        fired: Counter[str] = Counter()
        for kind, fault in self.rpc_armed:
            fired[kind] += fault.fired
        for record in self.rig.admin("GET", "/requests"):
            if record["fault"]:
                fired[f"ex {record['method']} {record['path']} {record['fault']}"] += 1
        return fired

    def rss_report(self, warmup_s: float = 20.0) -> list[dict[str, Any]]:
        """Per daemon process: RSS (MB) after warm-up, at the end, the max, and growth; lifetime s."""
        rows = []
        for pid, samples in self.rss.samples.items():
            settled = [kb for t, kb in samples if t - samples[0][0] >= warmup_s] or [samples[-1][1]]  # warm-up only
            rows.append(
                {
                    "pid": pid,
                    "lived_s": round(samples[-1][0] - samples[0][0], 1),
                    "start_mb": round(settled[0] / 1024, 1),
                    "end_mb": round(settled[-1] / 1024, 1),
                    "max_mb": round(max(kb for _, kb in samples) / 1024, 1),
                    "growth_mb": round((settled[-1] - settled[0]) / 1024, 1),
                }
            )
        return rows

    def min_hf(self, exempt: set[int] | None = None) -> tuple[int, Decimal]:
        assert self.sampler is not None
        blocks = {b: hf for b, hf in self.sampler.hf.items() if b not in (exempt or set())}
        block = min(blocks, key=lambda b: blocks[b])
        return block, D(blocks[block]) / WAD

    def blocks_after_a_large_shock(self, withdraw_blocks: list[int]) -> set[int]:
        """Blocks where the oracle stands more than the shock (3 %) below its price at the last
        withdraw before them: the planner's floor only covers a shock up to that size."""
        exempt = set()
        assert self.sampler is not None
        price_at = _step_lookup(self.prices)
        for block in self.sampler.hf:
            before = [w for w in withdraw_blocks if w <= block]
            if not before:
                continue
            at_withdraw, now = price_at(before[-1]), price_at(block)
            if at_withdraw and now and now < at_withdraw * (1 - D(SHOCK_BPS) / 10_000):
                exempt.add(block)
        return exempt


def _step_lookup(points: list[tuple[int, Decimal]]):
    def at(block: int) -> Decimal | None:
        found = None
        for b, price in points:
            if b > block:
                break
            found = price
        return found

    return at


_APPROVE_DELEGATION = [
    {
        "inputs": [{"type": "address"}, {"type": "uint256"}],
        "name": "approveDelegation",
        "outputs": [],
        "stateMutability": "nonpayable",
        "type": "function",
    },
]

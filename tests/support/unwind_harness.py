"""A real `delever devnet up` (anvil, a block a second, + Aave v3 + the exchange emulator
following the Aave oracle) and a real `delever run` daemon on `config/devnet.toml`, with a
sampler that reads the wallet's HF at every block while the daemon runs.

Used by the unwind acceptance tests and the daemon benchmarks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.clock import ManualClock
from bot.devnet import quick, wallet_ops
from bot.devnet.anvil import rpc_call
from bot.devnet.state import read_state, read_state_data
from bot.domain.wadray import WAD
from bot.engine.journal import BatchRow, BatchStatus, Journal, StepRow
from tests.support.devnet import CONFIG, cli_env, devnet_down, devnet_up, run_cli

D = Decimal
SINK_INDEX = 8  # where the demo wallet's borrowed USDT goes (account 9 is the emulator's hot wallet)


def delever(tmp: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_cli(tmp / ".delever", *args, cwd=tmp, timeout=timeout)


class HfSampler(threading.Thread):
    """Reads getUserAccountData at EVERY block number (a pinned eth_call per block) as the head moves."""

    def __init__(self, rpc_url: str, pool: str, wallet: str, start_block: int) -> None:
        super().__init__(daemon=True)
        self.rpc_url, self.pool, self.wallet = rpc_url, pool, wallet
        self.next_block = start_block
        self.hf: dict[int, int] = {}
        self.seen_at: dict[int, float] = {}
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                head = quick.block_number(self.rpc_url)
                while self.next_block <= head:
                    b = self.next_block
                    self.hf[b] = quick.account_data(self.rpc_url, self.pool, self.wallet, hex(b)).health_factor_wad
                    self.seen_at[b] = time.time()  # wall clock, comparable with the journal's times
                    self.next_block += 1
            except Exception as e:  # noqa: BLE001 - recorded, asserted on by the test
                self.errors.append(f"{type(e).__name__}: {e}")
            self._halt.wait(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


@dataclass
class Devnet:
    tmp: Path
    state: dict[str, Any]
    daemon: subprocess.Popen | None = None
    log_path: Path | None = None
    sampler: HfSampler | None = None
    marks: dict[str, float] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.tmp / ".delever"

    @property
    def rpc(self) -> str:
        return str(self.state["rpc_url"])

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite"

    # ---- set-up ---------------------------------------------------------------------------
    @classmethod
    def up(cls, tmp: Path, *, collateral: str = "100", hf: str = "1.45", keep_usdt: Decimal = D(0)) -> Devnet:
        devnet_up(tmp / ".delever", "--collateral", collateral, "--hf", hf, cwd=tmp)
        state = read_state_data(tmp / ".delever" / "devnet.json")
        assert state is not None
        devnet = cls(tmp, state)
        devnet.spend_borrowed_usdt(keep=keep_usdt)
        return devnet

    def down(self) -> None:
        try:
            self.stop_daemon(timeout=60)
        finally:
            if self.sampler is not None:
                self.sampler.stop()
            devnet_down(self.state_dir, cwd=self.tmp)

    def spend_borrowed_usdt(self, *, keep: Decimal = D(0)) -> None:
        """The demo wallet still holds what it borrowed: move it away (`devnet send USDT all`), so
        HF can only be restored by selling collateral (otherwise the first batch is, rightly, an
        idle repay). ``keep``: USDT left in the wallet (a buffer the bot may spend and refill)."""
        state = read_state(self.state_dir / "devnet.json")
        assert state is not None
        balance = wallet_ops.token_balance(state.rpc_url, state.tokens["USDT"], state.wallet)
        if balance:
            sink = str(rpc_call(state.rpc_url, "eth_accounts")[SINK_INDEX])
            wallet_ops.send(state, "USDT", D(balance).scaleb(-6) - keep if keep else None, sink)

    def hf_wad(self, block: str = "latest") -> int:
        return quick.account_data(self.rpc, self.state["pool"], self.state["wallet"], block).health_factor_wad

    def price_for_hf(self, target: Decimal) -> Decimal:
        """The WETH price (USD) at which the demo position's HF is ``target`` (HF is linear in it)."""
        now = D(quick.latest_answer(self.rpc, self.state["price_feeds"]["WETH"])) / D(10**8)
        return (now * target / (D(self.hf_wad()) / D(WAD))).quantize(D("0.01"))

    # ---- the daemon -----------------------------------------------------------------------
    def start_daemon(
        self,
        *,
        wait_for_tick: bool = True,
        timeout: float = 90,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.log_path = self.tmp / "daemon.log"
        log = open(self.log_path, "w")  # noqa: SIM115 - owned by the child until it exits
        self.marks["daemon_start"] = time.monotonic()
        self.daemon = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "--config", str(CONFIG), "run", *args],
            cwd=self.tmp,
            env={**cli_env(self.state_dir), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        if wait_for_tick:
            self.wait_for(lambda: "tick:" in self.log(), timeout, "the daemon's first tick")
            self.marks["daemon_first_tick"] = time.monotonic()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop_daemon(self, timeout: float = 60) -> int | None:
        if self.daemon is None:
            return None
        if self.daemon.poll() is None:
            (self.state_dir / "STOP").touch()  # the kill switch: the daemon stops within seconds, its batch resumable
            try:
                self.daemon.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(timeout=10)
        (self.state_dir / "STOP").unlink(missing_ok=True)
        return self.daemon.returncode

    def start_sampler(self) -> HfSampler:
        self.sampler = HfSampler(self.rpc, self.state["pool"], self.state["wallet"], quick.block_number(self.rpc))
        self.sampler.start()
        return self.sampler

    def crash_to(self, hf: Decimal) -> dict[str, Any]:
        price = self.price_for_hf(hf)
        self.marks["crash"] = time.monotonic()
        done = delever(self.tmp, "devnet", "set-price", "WETH", str(price), "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    def wait_for(self, condition, timeout: float, what: str, poll: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.daemon is not None and self.daemon.poll() is not None:
                raise AssertionError(
                    f"the daemon exited ({self.daemon.returncode}) waiting for {what}:\n{self.log()[-4000:]}"
                )
            time.sleep(poll)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}:\n{self.log()[-4000:]}")

    # ---- the journal ----------------------------------------------------------------------
    def journal(self) -> tuple[list[BatchRow], dict[str, list[StepRow]]]:
        if not self.journal_path.exists():
            return [], {}
        with Journal(self.journal_path, clock=ManualClock(), lock=False) as journal:
            batches = journal.batches()
            return batches, {b.id: journal.steps(b.id) for b in batches}

    def wait_until_settled(self, *, target_wad: int, timeout: float, quiet_s: float = 4.0) -> None:
        """Until no batch is open, HF is at the target, and no new batch starts for ``quiet_s``."""
        deadline = time.monotonic() + timeout
        while True:
            self.wait_for(lambda: self._settled(target_wad), max(1.0, deadline - time.monotonic()), "HF at the target")
            count = len(self.journal()[0])
            time.sleep(quiet_s)
            if len(self.journal()[0]) == count and self._settled(target_wad):
                return

    def _settled(self, target_wad: int) -> bool:
        batches, _ = self.journal()
        return bool(batches) and all(b.status is not BatchStatus.OPEN for b in batches) and self.hf_wad() >= target_wad

    # ---- the exchange -----------------------------------------------------------------------
    def venue_client(self):
        from bot.adapters.venue.client import build_binance_client

        return build_binance_client(
            api_key=self.state["api_key"],
            api_secret=self.state["api_secret"],
            api_url=self.state["exchange_url"],
            enable_rate_limit=False,
        )


def batch_report(batches: list[BatchRow], steps: dict[str, list[StepRow]]) -> list[dict[str, Any]]:
    """Per batch: size, sale, HF before/after, wall time and the per-step split (journal times)."""
    rows = []
    for b in batches:
        by = {s.step: s for s in steps[b.id]}
        withdraw = by.get("withdraw")
        sell = by.get("sell")
        verify = by.get("verify")
        size = D(int(withdraw.intent["amount"])).scaleb(-18) if withdraw and "amount" in withdraw.intent else D(0)
        rows.append(
            {
                "batch": b.id,
                "status": b.status.value,
                "withdraw_weth": str(size.quantize(D("0.0001"))),
                "sold_eth": sell.outcome["filled"] if sell and sell.outcome else "0",
                "avg_price": (
                    str((D(sell.outcome["gross_quote"]) / D(sell.outcome["filled"])).quantize(D("0.01")))
                    if sell and sell.outcome and D(sell.outcome["filled"])
                    else None
                ),
                "floor_price": sell.intent.get("floor_price") if sell else None,
                "hf_before": _hf(verify.outcome["hf_before_wad"]) if verify and verify.outcome else None,
                "hf_after": _hf(verify.outcome["hf_after_wad"]) if verify and verify.outcome else None,
                "withdraw_block": withdraw.outcome.get("block") if withdraw and withdraw.outcome else None,
                "wall_s": round(b.updated_at - b.created_at, 2),
                "steps_s": {
                    s.step: round(s.updated_at - s.created_at, 2)
                    for s in steps[b.id]
                    if s.intent.get("skipped") is None
                },
            }
        )
    return rows


def _hf(wad: str | int) -> str:
    return str((D(int(wad)) / D(WAD)).quantize(D("0.0001")))


def assert_no_fill_below_the_floor(devnet: Devnet, batches: list[BatchRow], steps: dict[str, list[StepRow]]) -> int:
    """Every fill in the exchange's trade log belongs to a journalled sell and is at or above
    that sell's floor price. Returns the number of fills checked."""
    client = devnet.venue_client()
    client.load_markets()
    floor_of_order: dict[str, Decimal] = {}
    for b in batches:
        sell = next((s for s in steps[b.id] if s.step == "sell"), None)
        if sell is None or not sell.outcome:
            continue
        floor = D(sell.intent["floor_price"])
        for cid in sell.outcome["client_order_ids"]:
            order = client.fetch_order(None, "ETH/USDT", {"clientOrderId": cid})
            floor_of_order[str(order["id"])] = floor
    trades = client.fetch_my_trades("ETH/USDT", None, 1000)
    assert trades, "no fills on the exchange"
    for t in trades:
        assert str(t["order"]) in floor_of_order, f"a fill of an order the journal does not know: {t['order']}"
        price = D(str(t["info"].get("price") or t["price"]))
        assert price >= floor_of_order[str(t["order"])], (price, floor_of_order[str(t["order"])])
    return len(trades)

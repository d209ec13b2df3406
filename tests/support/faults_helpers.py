"""Shared rig for the fault suites: one devnet per module (reverted per test with
``evm_snapshot``/``evm_revert``), a fresh exchange emulator per test, the daemon as a real
subprocess, and the invariants every faulted run must end with.

The position opens at HF ≈ 1.7, then the oracle (and the exchange) drop ETH to $1,700: HF falls
below the policy's 1.5 trigger and the daemon unwinds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.venue import client_order_id
from bot.clock import ManualClock
from bot.devnet import quick, scenario
from bot.devnet.exchange import CoinConfig, EmulatorConfig, start_emulator
from bot.devnet.exchange.chain import ERC20_ABI
from bot.domain.position import to_units
from bot.domain.wadray import MAX_UINT256
from bot.engine.journal import BatchStatus, Journal, JournalCorrupt, StepStatus
from tests.support.e2e import E2E, HOT_WALLET_INDEX, SharedDevnet

D = Decimal
DROP_PRICE = D(1700)
WITHDRAW_FEE_USDT = D(1)
SELECTORS = {  # 4-byte selectors, to find our calls inside raw transactions
    "withdraw": "69328dec",  # Pool.withdraw(address,uint256,address)
    "repay": "573ade81",  # Pool.repay(address,uint256,uint256,address)
    "approve": "095ea7b3",
    "unwrap": "2e1a7d4d",  # WETH9.withdraw(uint256)
}
FULL_BATCH = (
    "withdraw",
    "unwrap",
    "deposit",
    "await_deposit",
    "sell",
    "withdraw_quote",
    "await_quote",
    "repay",
    "verify",
)


@dataclass
class Rig(E2E):
    """One test's world: the shared devnet (reverted), its own emulator and state dir."""

    start_block: int = 0
    hf_start: int = 0
    extra_env: dict[str, str] | None = None
    toml_overrides: dict[str, str] | None = None  # text replacements in the config file
    spawned: list[tuple[subprocess.Popen, Any]] = field(default_factory=list)

    def toml(self) -> str:
        text = super().toml()
        for old, new in (self.toml_overrides or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        return text

    @property
    def url(self) -> str:
        return self.devnet.node.rpc_url

    @property
    def journal_path(self) -> Path:
        return self.tmp / "journal.sqlite"

    # -- the daemon ------------------------------------------------------------------------------
    def daemon_command(self, *args: str) -> tuple[list[str], dict[str, str]]:
        config = self.tmp / "devnet.toml"
        config.write_text(self.toml())
        env = {k: v for k, v in os.environ.items() if not k.startswith("DELEVER_")}
        env.update(self.env())
        env["DELEVER_STATE_DIR"] = str(self.tmp / "state")
        env.update(self.extra_env or {})
        return [sys.executable, "-m", "bot.cli", "--config", str(config), "run", *args], env

    def run(
        self, *args: str, crash: str | None = None, env: dict[str, str] | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess:
        cmd, full_env = self.daemon_command(*args)
        full_env.update(env or {})
        if crash:
            full_env["DELEVER_CRASH_AT"] = crash
        return subprocess.run(cmd, cwd=self.tmp, env=full_env, capture_output=True, text=True, timeout=timeout)

    def spawn(self, *args: str, crash: str | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
        cmd, full_env = self.daemon_command(*args)
        full_env.update(env or {})
        if crash:
            full_env["DELEVER_CRASH_AT"] = crash
        log = open(self.tmp / "daemon.log", "w")  # noqa: SIM115 - closed by cleanup()
        proc = subprocess.Popen(cmd, cwd=self.tmp, env=full_env, stdout=log, stderr=subprocess.STDOUT, text=True)
        self.spawned.append((proc, log))
        return proc

    def cleanup(self) -> None:
        """Kill what this test spawned and still runs (by pid), close the logs."""
        for proc, log in self.spawned:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            log.close()

    def log_text(self) -> str:
        path = self.tmp / "daemon.log"
        return path.read_text() if path.exists() else ""

    # -- the emulator's admin API (HTTP, as an operator or another process would use it) ---------
    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.exchange.url}/_admin{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def add_fault(self, **spec: Any) -> Any:
        return self.admin("POST", "/faults", spec)

    def requests(self, path: str, method: str | None = None) -> list[dict[str, Any]]:
        query = f"?path={path}" + (f"&method={method}" if method else "")
        return self.admin("GET", f"/requests{query}")

    # -- the journal -------------------------------------------------------------------------------
    def journal(self) -> Journal:
        return Journal(self.journal_path, clock=ManualClock(), lock=False)

    def batch_ids(self) -> list[str]:
        if not self.journal_path.exists():
            return []
        with self.journal() as j:
            return [b.id for b in j.batches()]

    def wait_for(self, predicate, *, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + timeout
        unreadable: JournalCorrupt | None = None
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except JournalCorrupt as exc:
                # Read between the daemon's first write of a new journal file and its schema's
                # commit: not yet readable. A journal that stays so fails below, with the reason.
                unreadable = exc
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"the daemon exited ({proc.returncode}) before {what}:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)
        last = f" (the journal was last unreadable: {unreadable})" if unreadable else ""
        raise AssertionError(f"timed out waiting for {what}{last}:\n{self.log_text()[-3000:]}")


@pytest.fixture
def rig(shared_devnet: SharedDevnet, tmp_path: Path) -> Iterator[Rig]:
    shared_devnet.reset()
    devnet = shared_devnet.devnet
    scenario.set_price(devnet.w3, devnet.market, "WETH", DROP_PRICE)
    _, hot_key = scenario.account_key(HOT_WALLET_INDEX)
    coins = {
        "ETH": CoinConfig("ETH", None, 18, D("0.0008"), D("0.0016")),
        "USDT": CoinConfig(
            "USDT", devnet.market.tokens["USDT"], 6, WITHDRAW_FEE_USDT, D(10), withdraw_multiple=D("0.000001")
        ),
    }
    handle = start_emulator(
        EmulatorConfig(
            rpc_url=devnet.node.rpc_url,
            hot_wallet_key=hot_key,
            coins=coins,
            prices={"ETHUSDT": DROP_PRICE, "BTCUSDT": D(60000)},
            deposit_confirmations=1,
            withdrawal_delay_s=0.2,
            poll_interval_s=0.1,
        )
    )
    rig = Rig(devnet, handle, tmp_path)
    rig.start_block = quick.block_number(rig.url)
    rig.hf_start = hf(rig)
    assert rig.hf_start < 15 * 10**17, "the price drop must take HF below the 1.5 trigger"
    try:
        yield rig
    finally:
        rig.cleanup()
        handle.stop()


def hf(rig: Rig) -> int:
    return quick.account_data(rig.url, rig.devnet.market.pool, rig.devnet.wallet).health_factor_wad


# ---- invariants ----------------------------------------------------------------------------------


def assert_invariants(rig: Rig, *, batches: int | None = 1) -> list[str]:
    """Everything a faulted run must end with; returns the batch ids."""
    ids = assert_batches_done(rig, batches)
    assert_one_order_per_client_id(rig)
    assert_one_withdrawal_per_id(rig)
    assert_one_tx_per_nonce_and_key(rig)
    assert_books_balance(rig, ids)
    assert_no_sale_below_floor(rig, ids)
    assert hf(rig) > rig.hf_start, "HF did not rise"
    return ids


def assert_batches_done(rig: Rig, batches: int | None) -> list[str]:
    with rig.journal() as j:
        rows = j.batches()
        if batches is not None:
            assert len(rows) == batches, [(b.id, b.status) for b in rows]
        for batch in rows:
            steps = {r.step: r.status for r in j.steps(batch.id)}
            assert batch.status is BatchStatus.DONE, (batch.id, steps)
            assert all(s in (StepStatus.OK, StepStatus.SKIPPED) for s in steps.values()), steps
        full = rows[0]
        steps = {r.step: r.status for r in j.steps(full.id)}
        for step in FULL_BATCH:
            assert steps[step] is StepStatus.OK, (step, steps)
        assert j.integrity_check() == "ok"
        return [b.id for b in rows]


def assert_one_order_per_client_id(rig: Rig) -> None:
    """Exactly one effective order per client order id, on the exchange itself."""
    with rig.exchange.lock:
        orders = list(rig.exchange.account().orders.values())
    counts = Counter(o.client_order_id for o in orders)
    assert orders, "no order reached the exchange"
    assert all(n == 1 for n in counts.values()), counts
    accepted = [r for r in rig.requests("/api/v3/order", "POST") if r["status"] == 200 or r["fault"] == "lost"]
    assert Counter(r["params"]["newClientOrderId"] for r in accepted) == counts  # and the request log agrees


def assert_one_withdrawal_per_id(rig: Rig) -> None:
    withdrawals = rig.exchange.state()["withdrawals"]
    assert withdrawals, "no withdrawal was made"
    counts = Counter(w.get("withdrawOrderId") for w in withdrawals)
    assert None not in counts and all(n == 1 for n in counts.values()), counts
    assert all(w["status"] == 6 for w in withdrawals), withdrawals  # all paid on chain


def wallet_txs(rig: Rig) -> list[dict[str, Any]]:
    """Every transaction the wallet got mined since the test began (the canonical chain)."""
    w3, wallet = rig.devnet.w3, rig.devnet.wallet
    found = []
    for number in range(rig.start_block + 1, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == wallet:
                found.append(tx)
    return found


def assert_one_tx_per_nonce_and_key(rig: Rig) -> None:
    """One mined tx per (sender, nonce) and per idempotency key, and no call mined twice."""
    mined = wallet_txs(rig)
    nonces = Counter(int(tx["nonce"]) for tx in mined)
    assert all(n == 1 for n in nonces.values()), nonces
    calls = Counter((tx["to"], bytes(tx["input"]).hex(), int(tx["value"])) for tx in mined)
    assert all(n == 1 for n in calls.values()), "the same call was mined twice"
    with sqlite3.connect(rig.journal_path) as db:
        records = db.execute("SELECT key, nonce, status, tx_hash FROM chain_tx").fetchall()
    assert all(status == "OK" for _, _, status, _ in records), records
    assert Counter(nonce for _, nonce, _, _ in records) == nonces  # one key per nonce, each mined
    assert {h.lower() for *_, h in records} == {"0x" + bytes(tx["hash"]).hex().removeprefix("0x") for tx in mined}


def assert_books_balance(rig: Rig, batch_ids: list[str]) -> None:
    """Collateral withdrawn = sold + still on the exchange; USDT repaid = proceeds − trading
    fees − withdrawal fee (the wallet held no USDT before). Over several batches: an IOC that
    filled nothing leaves its ETH to a later (sweep) batch, and each withdrawal also sweeps the
    sub-unit USDT dust the earlier ones left."""
    withdrawn = filled = dust = Decimal(0)
    with rig.journal() as j:
        for batch_id in batch_ids:
            w = j.step(batch_id, "withdraw")
            if w.status is StepStatus.OK:
                withdrawn += Decimal(int(w.intent["amount"])).scaleb(-18)
                assert D(j.step(batch_id, "await_deposit").outcome["amount"]) == Decimal(
                    int(w.intent["amount"])
                ).scaleb(-18)
            sell = j.step(batch_id, "sell")
            if sell.status is StepStatus.OK:
                filled_here = D(sell.outcome["filled"])
                filled += filled_here
                net = D(sell.outcome["gross_quote"]) - D(sell.outcome["fee_quote"])
                assert D(sell.outcome["net_quote"]) == net
                quote = j.step(batch_id, "withdraw_quote")
                if quote.status is not StepStatus.OK:  # an IOC that filled nothing: the next batch sells it
                    assert filled_here == 0 and quote.status is StepStatus.SKIPPED, (batch_id, quote)
                    continue
                # Everything sold comes back, but for the sub-unit dust USDT cannot carry on chain;
                # the next batch sweeps the dust left by the earlier ones along with its own.
                amount = D(quote.intent["amount"])
                assert amount == (dust + net).quantize(D("0.000001"), rounding=ROUND_DOWN)
                dust += net - amount
                landed = j.step(batch_id, "await_quote").outcome
                assert int(landed["arrived_units"]) == to_units(amount - WITHDRAW_FEE_USDT, 6)
                repay = j.step(batch_id, "repay").intent
                assert int(repay["amount"]) in (int(landed["arrived_units"]), MAX_UINT256)
                assert int(repay["wallet_balance"]) == int(landed["arrived_units"])
    balances = rig.exchange.balances()
    left = D(balances.get("ETH", {}).get("free", "0"))
    assert withdrawn == filled + left
    assert D(balances.get("USDT", {}).get("free", "0")) == dust
    assert D(balances.get("USDT", {}).get("locked", "0")) == 0 and D(balances.get("ETH", {}).get("locked", "0")) == 0
    usdt = rig.devnet.w3.eth.contract(address=rig.devnet.market.tokens["USDT"], abi=ERC20_ABI)
    assert usdt.functions.balanceOf(rig.devnet.wallet).call() == 0  # all of it went to the repay


def assert_no_sale_below_floor(rig: Rig, batch_ids: list[str]) -> None:
    """Every order is an IOC sell limited at its batch's floor; every trade at or above it."""
    with rig.journal() as j:
        floors = {
            batch_id: D(j.step(batch_id, "sell").intent["floor_price"])
            for batch_id in batch_ids
            if j.step(batch_id, "sell").status is StepStatus.OK
        }
    batch_of = {client_order_id(f"{b}:sell", n): b for b in floors for n in range(20)}
    with rig.exchange.lock:
        account = rig.exchange.account()
        orders = {o.order_id: o for o in account.orders.values()}
        trades = list(account.trades)
    for order in orders.values():
        assert order.client_order_id in batch_of, f"an order no batch placed: {order.client_order_id}"
        assert (order.side, order.type, order.time_in_force) == ("SELL", "LIMIT", "IOC")
        assert order.price >= floors[batch_of[order.client_order_id]], (order.price, floors)
    assert trades
    for trade in trades:
        order = orders[trade.order_id]
        assert trade.price >= order.price >= floors[batch_of[order.client_order_id]], (trade.price, order.price)


def steps_of(rig: Rig, batch_id: str) -> dict[str, StepStatus]:
    with rig.journal() as j:
        return {r.step: r.status for r in j.steps(batch_id)}


def events_text(rig: Rig) -> str:
    with rig.journal() as j:
        return j.dump_text()

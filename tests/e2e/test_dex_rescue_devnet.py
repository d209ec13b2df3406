"""The DEX route rescues a position the CEX path cannot: `delever run` on the devnet (anvil +
Aave v3 + Uniswap v3 + the project's deleverage adapter + the exchange emulator).

The price drops to put HF at 1.02, where no withdrawal keeps the floor at the shocked price and
the wallet holds no stablecoins; the daemon (``dex.route = "auto"``) restores the target through
atomic deleverages, and HF never goes below where it stood when each batch started — at every
block. The same with the exchange answering 503 to everything. One devnet for the module,
reverted per test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.devnet import anvil, quick, scenario
from bot.devnet.dex.adapter import deploy_adapter
from bot.devnet.dex.arbitrage import align_pools
from bot.devnet.dex.depth import DepthProfile
from bot.devnet.exchange import CoinConfig, EmulatorConfig, start_emulator
from bot.devnet.local import DemoOptions
from bot.engine.journal import BatchStatus, Journal, JournalCorrupt
from tests.support.devnet import start_devnet
from tests.support.e2e import E2E, HOT_WALLET_INDEX, spend_the_borrowed_usdt

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]
D = Decimal
START_HF = D("1.45")
PRICE = D(2000)
RESCUE_HF = D("1.02")
TARGET_HF = D("1.5")
INTEREST = D("1e-9")


@pytest.fixture(scope="module")
def dex_world():
    with start_devnet(DemoOptions(collateral=D(100), target_hf=START_HF, dex=DepthProfile())) as devnet:
        spend_the_borrowed_usdt(devnet)
        dex = devnet.deployed.dex
        assert dex is not None
        adapter = deploy_adapter(devnet.w3, owner=devnet.wallet, pool=devnet.market.pool, router=dex.router)
        yield devnet, dex, adapter, [anvil.rpc_call(devnet.rpc_url, "evm_snapshot")]


@pytest.fixture
def rescue(dex_world, tmp_path: Path):
    devnet, dex, adapter, snapshot = dex_world
    assert anvil.rpc_call(devnet.rpc_url, "evm_revert", [snapshot[0]]) is True
    snapshot[0] = anvil.rpc_call(devnet.rpc_url, "evm_snapshot")  # a revert consumes its snapshot
    hot_wallet, hot_key = scenario.account_key(HOT_WALLET_INDEX)
    coins = {
        "ETH": CoinConfig("ETH", None, 18, D("0.0008"), D("0.0016")),
        "USDT": CoinConfig("USDT", devnet.market.tokens["USDT"], 6, D(1), D(10), withdraw_multiple=D("0.000001")),
    }
    drop = (PRICE * RESCUE_HF / _hf(devnet)).quantize(D("0.01"))
    handle = start_emulator(
        EmulatorConfig(
            rpc_url=devnet.node.rpc_url,
            hot_wallet_key=hot_key,
            coins=coins,
            prices={"ETHUSDT": drop},
            deposit_confirmations=1,
            withdrawal_delay_s=0.2,
            poll_interval_s=0.1,
        )
    )
    world = E2E(devnet, handle, tmp_path)
    toml = world.toml().replace(
        "params = { trigger_hf = 1.5, target_hf = 1.6 }", f"params = {{ trigger_hf = 1.3, target_hf = {TARGET_HF} }}"
    )
    toml = toml.replace("max_batch_usd = 20000", "max_batch_usd = 500000")
    toml += (
        f'[engine]\nhold_to_target = true\npoll_interval_s = 0.2\nmax_retries = 2\nbackoff_s = 0.2\n[dex]\nroute = "auto"\n'
        f'adapter_address = "{adapter}"\nquoter_address = "{dex.quoter}"\nswap_router = "{dex.router}"\n'
    )
    (tmp_path / "devnet.toml").write_text(toml)
    try:
        yield world, dex, drop, adapter
    finally:
        handle.stop()


def _hf(devnet, block: str = "latest") -> D:
    wad = quick.account_data(devnet.rpc_url, devnet.market.pool, devnet.wallet, block).health_factor_wad
    return D(wad) / D(10**18)


def _spawn(world: E2E) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEVER_")}
    env.update(world.env())
    env["DELEVER_STATE_DIR"] = str(world.tmp / "state")
    log = open(world.tmp / "daemon.log", "w")  # noqa: SIM115 - the daemon's, closed with it
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(world.tmp / "devnet.toml"), "run"],
        cwd=world.tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _drop_price(world: E2E, dex, price: D) -> int:
    """The oracle to ``price`` and the pools arbitraged to it; the block the drop landed in."""
    devnet = world.devnet
    scenario.set_price(devnet.w3, devnet.market, "WETH", price)
    align_pools(devnet.rpc_url, devnet.market.oracle, dex)
    return quick.block_number(devnet.rpc_url)


def _approve_a_weth(world: E2E, adapter: str) -> None:
    devnet = world.devnet
    a_weth = devnet.token(devnet.market.reserve("WETH").a_token)
    tx = a_weth.functions.approve(adapter, 2**256 - 1).transact({"from": devnet.wallet})
    devnet.w3.eth.wait_for_transaction_receipt(tx)


def _wait_restored(world: E2E, proc: subprocess.Popen, timeout: float = 150) -> int:
    """The first block with HF at the target; returns once the daemon closed its batches too."""
    deadline = time.monotonic() + timeout
    restored: int | None = None
    while time.monotonic() < deadline:
        if restored is None and _hf(world.devnet) >= TARGET_HF:
            restored = _first_block_at_target(world)
        if restored is not None and _all_closed(world):
            return restored
        assert proc.poll() is None, (world.tmp / "daemon.log").read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError("HF not restored:\n" + (world.tmp / "daemon.log").read_text()[-3000:])


def _first_block_at_target(world: E2E) -> int:
    head = quick.block_number(world.devnet.rpc_url)
    while head > 0 and _hf(world.devnet, hex(head - 1)) >= TARGET_HF:
        head -= 1
    return head


def _all_closed(world: E2E) -> bool:
    path = world.tmp / "journal.sqlite"
    if not path.exists():
        return False
    try:
        with Journal(path, clock=ManualClock(), lock=False) as journal:
            return bool(journal.batches()) and not journal.open_batches()
    except JournalCorrupt:  # read between the file's first write and its schema's commit
        return False


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def _assert_rescued(world: E2E, trigger: int, restored: int) -> list[str]:
    devnet = world.devnet
    hfs = [_hf(devnet, hex(b)) for b in range(trigger, restored + 1)]
    assert hfs[0] <= RESCUE_HF + D("0.001"), hfs[0]
    # HF only rises, but for the debt's interest between blocks (≈ 1e-11 a block here).
    assert all(later >= earlier - INTEREST for earlier, later in zip(hfs, hfs[1:], strict=False)), hfs
    assert min(hfs) > 1  # never liquidatable
    with Journal(world.tmp / "journal.sqlite", clock=ManualClock(), lock=False) as journal:
        batches = journal.batches()
        assert batches and all(b.status is BatchStatus.DONE for b in batches), [journal.steps(b.id) for b in batches]
        routes = [b.spec.get("route") for b in batches]
        steps = {r.step for b in batches for r in journal.steps(b.id)}
    assert set(routes) == {"dex"} and steps == {"atomic_deleverage", "verify"}
    return routes


@pytest.mark.parametrize("standing_approval", [False, True], ids=["approve-per-batch", "standing-approval"])
def test_a_position_at_hf_1_02_is_restored_through_the_dex(rescue, standing_approval):
    world, dex, drop, adapter = rescue
    if standing_approval:  # the owner approved its aWETH to the adapter once: one transaction per batch
        _approve_a_weth(world, adapter)
        drop -= D("0.02")  # not the other test's transactions again (anvil's revert keeps their hashes)
    trigger = _drop_price(world, dex, drop)
    plan = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(world.tmp / "devnet.toml"), "plan", "--json"],
        cwd=world.tmp,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("DELEVER_")}, **world.env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plan.returncode == 0, plan.stderr
    first = json.loads(plan.stdout)["batches"][0]
    assert first["route"] == "dex"
    assert first["route_reason"].startswith("dex: CEX cannot withdraw at HF 1.02"), first["route_reason"]
    proc = _spawn(world)
    try:
        restored = _wait_restored(world, proc)
    finally:
        _stop(proc)
    routes = _assert_rescued(world, trigger, restored)
    print(f"\nDEX rescue: {len(routes)} batch(es), {restored - trigger} block(s) from the trigger to HF restored")
    # The first transaction after the trigger restores HF (an approval before it when none stands).
    assert restored - trigger == (1 if standing_approval else 2)


def test_the_dex_rescues_while_the_exchange_answers_503_to_everything(rescue):
    world, dex, drop, adapter = rescue
    proc = _spawn(world)
    try:
        time.sleep(3)
        # The next book read goes unanswered, and from then on every route answers 503.
        world.exchange.add_fault("GET /api/v3/depth", "outage", seconds=600)
        # A cent lower than the first test: after anvil's revert an identical signed transaction
        # would meet the reverted one's hash.
        trigger = _drop_price(world, dex, drop - D("0.01"))
        restored = _wait_restored(world, proc)
    finally:
        _stop(proc)
    routes = _assert_rescued(world, trigger, restored)
    print(f"\nDEX rescue, exchange down: {len(routes)} batch(es), {restored - trigger} block(s) to HF restored")


def test_a_dry_run_simulates_the_dex_rescue_and_sends_nothing(rescue):
    world, dex, drop, _ = rescue
    config = world.tmp / "devnet.toml"
    config.write_text(config.read_text().replace('mode = "testnet"', 'mode = "dry-run"', 1))
    _drop_price(world, dex, drop - D("0.03"))  # a price of its own (anvil's revert keeps hashes)
    devnet = world.devnet
    hf, nonce = _hf(devnet), devnet.w3.eth.get_transaction_count(devnet.wallet)
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "run", "--once"],
        cwd=world.tmp,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("DELEVER_")}, **world.env()},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (_hf(devnet), devnet.w3.eth.get_transaction_count(devnet.wallet)) == (hf, nonce)  # nothing sent
    (path,) = world.tmp.glob("*.dry-run.sqlite")
    with Journal(path, clock=ManualClock(), lock=False) as journal:
        (batch,) = journal.batches()
        steps = [(r.step, r.status.value) for r in journal.steps(batch.id)]
        verdict = journal.step(batch.id, "verify")
    assert batch.spec.get("route") == "dex" and batch.status is BatchStatus.DONE
    assert steps == [("atomic_deleverage", "OK"), ("verify", "OK")]
    assert verdict is not None and int(verdict.outcome["hf_after_wad"]) > int(verdict.outcome["hf_before_wad"])

"""`delever run` on the devnet: real anvil + Aave v3 + the exchange emulator through ccxt.

One batch end to end (withdraw → unwrap → deposit → sell → withdraw USDT → repay → verify),
then the same with the daemon killed (exit 137) right after the sell and restarted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.venue import client_order_id
from bot.clock import ManualClock
from bot.devnet import quick
from bot.engine.journal import BatchStatus, Journal, StepStatus

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]


def _delever(e2e, *args: str, crash: str | None = None, dry_run: bool = False) -> subprocess.CompletedProcess:
    config = e2e.tmp / "devnet.toml"
    toml = e2e.toml()
    if dry_run:
        toml = toml.replace('mode = "testnet"', 'mode = "dry-run"').replace('key_source = "env"', 'key_source = "none"')
    config.write_text(toml)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEVER_")}
    env.update({k: v for k, v in e2e.env().items() if not (dry_run and "PRIVATE_KEY" in k)})
    if crash:
        env["DELEVER_CRASH_AT"] = crash
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "run", *args],
        cwd=e2e.tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _hf(e2e) -> int:
    return quick.account_data(e2e.devnet.node.rpc_url, e2e.devnet.market.pool, e2e.devnet.wallet).health_factor_wad


def _orders_per_client_id(e2e, key: str) -> dict[str, int]:
    ids = {client_order_id(key, n) for n in range(50)}
    with e2e.exchange.lock:
        found = [o.client_order_id for o in e2e.exchange.account().orders.values() if o.client_order_id in ids]
    return {cid: found.count(cid) for cid in set(found)}


def _assert_one_done_batch(e2e) -> str:
    with Journal(e2e.tmp / "journal.sqlite", clock=ManualClock(), lock=False) as journal:
        (batch,) = journal.batches()
        assert batch.status is BatchStatus.DONE, journal.steps(batch.id)
        steps = {r.step: r.status for r in journal.steps(batch.id)}
        assert all(s in (StepStatus.OK, StepStatus.SKIPPED) for s in steps.values()), steps
        for step in (
            "withdraw",
            "unwrap",
            "deposit",
            "await_deposit",
            "sell",
            "withdraw_quote",
            "await_quote",
            "repay",
            "verify",
        ):
            assert steps[step] is StepStatus.OK, (step, steps)
        assert journal.integrity_check() == "ok"
        return batch.id


def test_run_once_on_the_devnet_completes_one_batch(e2e):
    hf_before = _hf(e2e)
    done = _delever(e2e, "--once")
    assert done.returncode == 0, done.stderr[-3000:]
    batch_id = _assert_one_done_batch(e2e)
    assert _hf(e2e) > hf_before
    orders = _orders_per_client_id(e2e, f"{batch_id}:sell")
    assert orders and all(n == 1 for n in orders.values())
    _assert_books_balance(e2e, batch_id)
    assert e2e.devnet.demo.wallet_private_key[2:] not in done.stderr + done.stdout


KILL_POINTS = [
    "after_act:sell",
    pytest.param("after_act:withdraw", marks=pytest.mark.slow),
    pytest.param("after_act:deposit", marks=pytest.mark.slow),
    pytest.param("after_intent:await_deposit", marks=pytest.mark.slow),
    pytest.param("after_act:withdraw_quote", marks=pytest.mark.slow),
    pytest.param("before_act:repay", marks=pytest.mark.slow),
]


def _assert_books_balance(e2e, batch_id: str) -> None:
    from decimal import Decimal

    from bot.adapters.venue import CcxtVenue

    with Journal(e2e.tmp / "journal.sqlite", clock=ManualClock(), lock=False) as journal:
        withdrawn = Decimal(int(journal.step(batch_id, "withdraw").intent["amount"])).scaleb(-18)
        credited = Decimal(journal.step(batch_id, "await_deposit").outcome["amount"])
        filled = Decimal(journal.step(batch_id, "sell").outcome["filled"])
    venue = CcxtVenue.connect(
        api_key=e2e.exchange.api_key, api_secret=e2e.exchange.api_secret, api_url=e2e.exchange.url
    )
    left = venue.balances().get("ETH", Decimal(0))
    assert credited == withdrawn  # no deposit fee on the emulator
    assert withdrawn == filled + left  # collateral withdrawn = sold + still on the exchange
    assert venue.balances().get("USDT", Decimal(0)) == 0  # every USDT came back


@pytest.mark.parametrize("point", KILL_POINTS)
def test_run_killed_at_a_step_resumes_and_completes_once(e2e, point):
    hf_before = _hf(e2e)
    first = _delever(e2e, "--once", crash=point)
    assert first.returncode == 137, first.stderr[-3000:]
    second = _delever(e2e, "--once")
    assert second.returncode == 0, second.stderr[-3000:]
    batch_id = _assert_one_done_batch(e2e)
    assert _hf(e2e) > hf_before
    orders = _orders_per_client_id(e2e, f"{batch_id}:sell")
    assert orders and all(n == 1 for n in orders.values())
    _assert_books_balance(e2e, batch_id)


def test_run_dry_run_on_the_devnet_simulates_a_batch_and_sends_nothing(e2e):
    hf_before = _hf(e2e)
    block_before = quick.block_number(e2e.devnet.node.rpc_url)
    done = _delever(e2e, "--once", dry_run=True)
    assert done.returncode == 0, done.stderr[-3000:]
    with Journal(e2e.tmp / "journal.dry-run.sqlite", clock=ManualClock(), lock=False) as journal:
        (batch,) = journal.batches()
        assert batch.status is BatchStatus.DONE
        sell = journal.step(batch.id, "sell").outcome
        assert sell and float(sell["filled"]) > 0  # filled from the emulator's real book
    assert not (e2e.tmp / "journal.sqlite").exists()
    assert _hf(e2e) == hf_before  # nothing moved on chain
    assert quick.block_number(e2e.devnet.node.rpc_url) == block_before  # nothing was sent
    with e2e.exchange.lock:
        assert not e2e.exchange.account().orders  # and no order reached the exchange

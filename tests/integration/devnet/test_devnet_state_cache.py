"""`devnet up` loads the market from the state cache, and every `up` is still a chain of its own."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from bot.clock import ManualClock
from bot.devnet import anvil, launcher, quick, state, state_cache
from bot.devnet.launcher import ExchangeEndpoint, ExchangeLaunch, UpOptions
from bot.engine.journal import Journal, JournalOfAnotherChain

pytestmark = pytest.mark.integration


@pytest.fixture()
def state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path))
    yield tmp_path
    leftover = state.read_state()
    launcher.bring_down()
    if leftover is not None:
        for pid in leftover.pids.values():
            anvil.terminate_pid(pid)


def _fake_exchange(launch: ExchangeLaunch) -> ExchangeEndpoint:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    return ExchangeEndpoint("http://127.0.0.1:1/", "key", "secret", "0x" + "99" * 20, child.pid)


def test_two_ups_from_the_cache_are_two_chains_and_the_first_ones_journal_is_refused(state_dir) -> None:
    options = UpOptions(collateral=Decimal(7), target_hf=Decimal("1.7"), dex_usd_within_1pct=Decimal(0))
    state_cache.build(dex_usd_within_1pct=Decimal(0))  # what `make install` leaves
    first = launcher.bring_up(options, exchange_starter=_fake_exchange)
    journal_path = state_dir / "journal.sqlite"
    with Journal(journal_path, clock=ManualClock()) as journal:
        journal.bind(mode="testnet", chain_id=first.chain_id, genesis_hash=first.extra["genesis_hash"])
    launcher.bring_down()

    second = launcher.bring_up(options, exchange_starter=_fake_exchange)

    assert first.extra["deploy_block"] == second.extra["deploy_block"] == 0  # loaded, not deployed
    assert (first.pool, first.tokens, first.wallet) == (second.pool, second.tokens, second.wallet)
    assert first.extra["genesis_hash"] != second.extra["genesis_hash"]
    hf = quick.account_data(second.rpc_url, second.pool, second.wallet).health_factor
    assert hf is not None and abs(hf - Decimal("1.7")) < Decimal("1e-6")
    with Journal(journal_path, clock=ManualClock()) as journal, pytest.raises(JournalOfAnotherChain):
        journal.bind(mode="testnet", chain_id=second.chain_id, genesis_hash=second.extra["genesis_hash"])


def test_an_up_with_the_cache_missing_deploys_and_leaves_the_cache_for_the_next(state_dir, monkeypatch) -> None:
    cache = state_dir / "cache-root"
    monkeypatch.setattr(state_cache, "cache_dir", lambda root=None: cache)
    options = UpOptions(collateral=Decimal(3), target_hf=Decimal("2"), dex_usd_within_1pct=Decimal(0))
    key = state_cache.cache_key(chain_id=options.chain_id, dex_usd_within_1pct=Decimal(0))

    deployed = launcher.bring_up(options, exchange_starter=_fake_exchange)
    launcher.bring_down()
    loaded = launcher.bring_up(options, exchange_starter=_fake_exchange)

    assert deployed.extra["deploy_block"] > 0 and loaded.extra["deploy_block"] == 0
    assert sorted(p.name for p in cache.glob("*.json")) == [f"{key}.facts.json", f"{key}.state.json"]
    assert loaded.pool == deployed.pool and loaded.extra["genesis_hash"] != deployed.extra["genesis_hash"]
    hf = quick.account_data(loaded.rpc_url, loaded.pool, loaded.wallet).health_factor
    assert hf is not None and abs(hf - Decimal("2")) < Decimal("1e-6")

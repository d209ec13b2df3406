"""bring_up / bring_down with the exchange-emulator hook: the contract an emulator plugs into."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest

from bot.devnet import anvil, launcher, quick, state
from bot.devnet.launcher import ExchangeEndpoint, ExchangeLaunch, UpOptions

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


def test_bring_up_records_what_the_exchange_starter_returns_and_down_stops_it(state_dir) -> None:
    launches: list[ExchangeLaunch] = []
    children: list[subprocess.Popen[bytes]] = []

    def fake_exchange(launch: ExchangeLaunch) -> ExchangeEndpoint:
        launches.append(launch)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
        children.append(child)
        return ExchangeEndpoint("http://127.0.0.1:1/", "key-123", "secret-456", "0x" + "99" * 20, child.pid)

    devnet = launcher.bring_up(
        UpOptions(collateral=Decimal(5), target_hf=Decimal("1.8")), exchange_starter=fake_exchange
    )

    launch = launches[0]
    assert launch.rpc_url == devnet.rpc_url and launch.tokens == devnet.tokens
    assert launch.prices_usd["WETH"] == Decimal(2000) and launch.state_dir == state_dir
    assert launch.funder_private_key.startswith("0x") and launch.funder_private_key not in repr(launch)
    saved = state.read_state()
    assert saved == devnet
    assert (saved.exchange_url, saved.api_key, saved.api_secret) == ("http://127.0.0.1:1/", "key-123", "secret-456")
    assert saved.exchange_hot_wallet == "0x" + "99" * 20
    assert set(saved.pids) == {"anvil", "exchange"}
    hf = quick.account_data(devnet.rpc_url, devnet.pool, devnet.wallet).health_factor
    assert abs(hf - Decimal("1.8")) < Decimal("1e-9")

    assert sorted(launcher.bring_down()) == ["anvil", "exchange"]
    assert children[0].wait(timeout=5) is not None
    assert not anvil.pid_alive(devnet.pids["anvil"])
    assert state.read_state() is None


def test_bring_up_failing_after_anvil_started_leaves_nothing_running(state_dir) -> None:
    started: list[int] = []

    def broken_exchange(launch: ExchangeLaunch) -> ExchangeEndpoint:
        started.append(int(anvil.rpc_call(launch.rpc_url, "eth_chainId"), 16))
        raise RuntimeError("emulator failed to start")

    with pytest.raises(RuntimeError, match="emulator failed"):
        launcher.bring_up(UpOptions(), exchange_starter=broken_exchange)
    assert started == [31337]
    assert state.read_state() is None
    assert launcher.running_state() is None


def test_bring_up_over_a_stale_state_file_starts_fresh(state_dir) -> None:
    first = launcher.bring_up(UpOptions())
    anvil.terminate_pid(first.pids["anvil"])  # anvil died behind our back
    second = launcher.bring_up(UpOptions())
    assert second.pids["anvil"] != first.pids["anvil"]
    assert anvil.is_answering(second.rpc_url)


def test_down_stops_what_an_interrupted_up_left_behind(state_dir) -> None:
    script = (
        "import os, signal\n"
        "from decimal import Decimal\n"
        "from bot.devnet import launcher\n"
        "def die(launch):\n"
        "    print(launch.rpc_url, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "launcher.bring_up(launcher.UpOptions(), exchange_starter=die)\n"
    )
    env = {**os.environ, "DELEVER_STATE_DIR": str(state_dir)}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert killed.returncode == -9
    url = killed.stdout.strip()
    assert anvil.is_answering(url)  # the detached anvil survived its parent…
    assert (state_dir / launcher.PENDING_FILE_NAME).exists()
    assert launcher.bring_down() == ["anvil"]  # …and `down` finds it through the pending file
    assert not anvil.is_answering(url)
    assert not (state_dir / launcher.PENDING_FILE_NAME).exists()

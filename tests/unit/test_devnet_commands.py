"""`devnet` command parsing, anvil options and the launcher's process bookkeeping (no chain)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.devnet_cmd import parse_duration, parse_positive_decimal
from bot.devnet import anvil, launcher, state
from bot.errors import UserInputError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("90", 90), ("15m", 900), ("2h", 7200), ("30d", 2_592_000), ("1w", 604_800), (" 3H ", 10_800)],
)
def test_parse_duration_accepts_units(text, seconds) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "-5s", "3x", "1.5h", "h", "2 days"])
def test_parse_duration_rejects_bad_input(text) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_positive_decimal_keeps_exact_decimal_and_rejects_others() -> None:
    assert parse_positive_decimal("1380.12345678", "USD") == Decimal("1380.12345678")
    for bad in ("0", "-1", "abc", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            parse_positive_decimal(bad, "USD")


def test_anvil_options_command_binds_loopback_with_requested_flags(tmp_path) -> None:
    cmd = anvil.AnvilOptions(chain_id=1337, block_time=2).command(tmp_path / "anvil", 9999)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--port") + 1] == "9999"
    assert cmd[cmd.index("--chain-id") + 1] == "1337"
    assert cmd[cmd.index("--block-time") + 1] == "2"
    assert cmd[cmd.index("--slots-in-an-epoch") + 1] == "1"
    assert "--no-mining" in anvil.AnvilOptions(no_mining=True).command(tmp_path / "anvil", 1)


def test_anvil_binary_missing_says_to_run_make_install(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DELEVER_ANVIL_BIN", str(tmp_path / "missing-anvil"))
    with pytest.raises(UserInputError, match="make install"):
        anvil.anvil_binary()


def test_anvil_binary_is_found_in_the_checkout() -> None:
    assert anvil.anvil_binary().name == "anvil"


def _stale_state(pid: int, ticks: int | None) -> state.DevnetState:
    return state.DevnetState(
        rpc_url="http://127.0.0.1:1", chain_id=31337, pool_addresses_provider="0x0", pool="0x0", oracle="0x0",
        data_provider="0x0", multicall3="0x0", wallet="0x0", wallet_private_key="0x0", tokens={}, price_feeds={},
        pids={"anvil": pid}, started_at="2026-01-01T00:00:00+00:00", extra={"process_start_ticks": {"anvil": ticks}},
    )  # fmt: skip


@pytest.fixture()
def sleeper():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_bring_down_never_kills_a_reused_pid(monkeypatch, tmp_path, sleeper) -> None:
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path))
    wrong_ticks = launcher._start_ticks(sleeper.pid) + 1
    state.write_state(_stale_state(sleeper.pid, wrong_ticks))
    assert launcher.running_state() is None
    assert launcher.bring_down() == []
    assert sleeper.poll() is None  # still alive: not ours
    assert state.read_state() is None


def test_bring_down_stops_the_recorded_process_and_is_idempotent(monkeypatch, tmp_path, sleeper) -> None:
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path))
    state.write_state(_stale_state(sleeper.pid, launcher._start_ticks(sleeper.pid)))
    assert launcher.running_state() is not None
    assert launcher.bring_down() == ["anvil"]
    assert sleeper.wait(timeout=5) is not None
    assert launcher.bring_down() == []


def test_cli_devnet_down_and_status_without_a_devnet(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(app, ["devnet", "down", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == {
        "stopped": [],
        "journals_moved": {},
        "journals_in_use": [],
    }
    result = runner.invoke(app, ["devnet", "status", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["running"] is False


@pytest.mark.parametrize(
    "args",
    [
        ["devnet", "advance", "soon"],
        ["devnet", "set-price", "WETH", "-3"],
        ["devnet", "set-price", "WETH", "cheap"],
        ["devnet", "up", "--hf", "0.9"],
        ["devnet", "up", "--collateral", "lots"],
        ["devnet", "up", "--dex-depth", "-1"],
        ["devnet", "up", "--dex-depth", "deep"],
    ],
)
def test_cli_devnet_bad_arguments_exit_2_before_touching_anything(monkeypatch, tmp_path, args) -> None:
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [["devnet", "set-price", "WETH", "2000"], ["devnet", "send", "USDT", "all"], ["devnet", "advance", "1h"]],
)
def test_cli_devnet_commands_without_a_devnet_are_a_user_mistake(monkeypatch, tmp_path, args) -> None:
    # The same exit code as `status` or `plan` without a config: the user skipped `devnet up`.
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "no devnet is running (start one with `delever devnet up`)" in result.stderr


def test_quick_selectors_match_their_signatures() -> None:
    from eth_utils import keccak

    from bot.devnet import quick

    assert "0x" + keccak(text="getUserAccountData(address)")[:4].hex() == quick.GET_USER_ACCOUNT_DATA
    assert "0x" + keccak(text="latestAnswer()")[:4].hex() == quick.LATEST_ANSWER


def test_quick_address_word_pads_and_rejects_non_addresses() -> None:
    from bot.devnet import quick

    assert quick._address_word("0x" + "Ab" * 20) == "0" * 24 + "ab" * 20
    with pytest.raises(ValueError):
        quick._address_word("0x1234")

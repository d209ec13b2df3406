"""The console's wiring: the [console] section (loopback unless a token and TLS are set, the
token from the environment only), ``delever console``'s one-line refusals, and the two controls
built by the composition root (the kill-switch file, clear-halt refused while a daemon runs)."""

from __future__ import annotations

import socket

import pytest

from bot.clock import ManualClock
from bot.compose.console import STOP_ASKED, console_config, console_source
from bot.console.source import ControlRefused
from bot.engine.guards import KillSwitch
from bot.engine.journal import ControlState, Journal
from bot.errors import ConfigError
from tests.support import compose_kit
from tests.support.cli_runs import assert_one_line_refusal, run_delever
from tests.support.settings_support import DRY_RUN_TOML, write


@pytest.fixture
def config(tmp_path, monkeypatch):
    for name in ("DELEVER_CONFIG", "DELEVER_CONSOLE__TOKEN", "DELEVER_CONSOLE__HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path / "state"))

    def make(extra: str = "") -> str:
        return str(write(tmp_path / "config.toml", DRY_RUN_TOML + extra))

    return make


def test_console_refuses_a_non_loopback_host_without_token_and_tls(config):
    run = run_delever("--config", config('[console]\nhost = "0.0.0.0"\n'), "console")
    assert_one_line_refusal(run, 2, contains="console.host: 0.0.0.0 is not a loopback address")


def test_console_host_flag_is_checked_like_the_section(config):
    run = run_delever("--config", config(), "console", "--host", "10.0.0.5")
    assert_one_line_refusal(run, 2, contains="needs DELEVER_CONSOLE__TOKEN and console.tls_certfile")


def test_console_token_comes_from_the_environment_only(config):
    run = run_delever("--config", config('[console]\ntoken = "0123456789abcdef0123"\n'), "console")
    assert_one_line_refusal(run, 2, contains="set DELEVER_CONSOLE__TOKEN")


def test_console_refuses_a_port_in_use_in_one_line(config):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        run = run_delever("--config", config(), "console", "--port", str(port))
    assert_one_line_refusal(run, 2, contains=f"cannot listen on 127.0.0.1:{port}")


def test_off_loopback_with_token_and_tls_is_allowed(tmp_path):
    s = compose_kit.settings(
        tmp_path,
        console={"token": "t" * 32, "tls_certfile": tmp_path / "c.pem", "tls_keyfile": tmp_path / "k.pem"},
    )
    assert console_config(s, host="0.0.0.0", port=9000).host == "0.0.0.0"
    with pytest.raises(ConfigError, match="console.host"):
        console_config(compose_kit.settings(tmp_path), host="0.0.0.0")


def test_stop_beside_the_daemon_writes_the_kill_switch_file_it_watches(tmp_path):
    s = compose_kit.settings(tmp_path)
    message = console_source(s).stop()
    switch = KillSwitch(tmp_path / "STOP")
    assert switch.tripped and (tmp_path / "STOP").read_text().strip() == STOP_ASKED
    assert "remove it to run again" in message


def test_stop_inside_the_daemon_trips_its_kill_switch(tmp_path):
    switch = KillSwitch(None)
    console_source(compose_kit.settings(tmp_path), stop=switch.trip).stop()
    assert (switch.tripped, switch.reason) == (True, STOP_ASKED)
    assert not (tmp_path / "STOP").exists()


def test_clear_halt_is_refused_while_a_daemon_holds_the_journal(tmp_path):
    s = compose_kit.settings(tmp_path)
    with Journal(tmp_path / "journal.sqlite", clock=ManualClock()) as journal:
        journal.bind(mode="testnet", chain_id=31337)
        journal.set_control(ControlState.HALTED, "verify failed")
        with pytest.raises(ControlRefused, match="stop it, then clear the halt"):
            console_source(s).clear_halt()


def test_thresholds_are_the_policys_lines_and_the_limits(tmp_path):
    t = console_source(compose_kit.settings(tmp_path)).thresholds
    assert (str(t.hf_trigger), str(t.hf_target), str(t.hf_floor), t.mode) == ("1.4", "1.5", "1.10", "testnet")

"""Where `config check` says each secret came from, and metrics kept on this machine unless asked."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from structlog.testing import capture_logs

from bot.errors import ConfigError
from bot.redact import clear_secrets
from bot.settings import load_settings
from tests.support.cli_runs import run_delever
from tests.support.settings_support import DRY_RUN_TOML, KEY_B, write, write_state

DEVNET_TOML = """
mode = "testnet"
devnet_state = ".delever/devnet.json"
[chain]
rounding = "v3.0"
[wallet]
key_source = "env"
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.upper().startswith("DELEVER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
    clear_secrets()


def test_config_check_says_devnet_secrets_came_from_the_state_file(tmp_path):
    state = write_state(tmp_path / ".delever")
    config = write(tmp_path / "devnet.toml", DEVNET_TOML)
    run = run_delever("--config", str(config), "config", "check", "--no-unlock")
    assert run.code == 0, run.err
    assert f'private_key = "********"  # secret, from the devnet state file {state}' in run.out
    assert f'api_secret = "********"  # secret, from the devnet state file {state}' in run.out
    assert "telegram_token = (not set)  # secret, from DELEVER_NOTIFY__TELEGRAM_TOKEN" in run.out


def test_config_check_says_an_environment_secret_came_from_its_variable(tmp_path, monkeypatch):
    write_state(tmp_path / ".delever")
    config = write(tmp_path / "devnet.toml", DEVNET_TOML)
    monkeypatch.setenv("DELEVER_WALLET__PRIVATE_KEY", KEY_B)
    run = run_delever("--config", str(config), "config", "check", "--json", "--no-unlock")
    assert run.code == 0, run.err
    import json

    sources = json.loads(run.out)["secret_sources"]
    assert sources["wallet.private_key"] == "DELEVER_WALLET__PRIVATE_KEY"
    assert sources["exchange.api_key"] == f"the devnet state file {tmp_path / '.delever' / 'devnet.json'}"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "metrics.example.org", "::"])
def test_metrics_off_loopback_needs_allow_remote(tmp_path, host):
    config = write(tmp_path / "c.toml", DRY_RUN_TOML + f'[metrics]\nhost = "{host}"\n')
    with pytest.raises(ConfigError, match="metrics.host: is not a loopback address: set metrics.allow_remote = true"):
        load_settings(config, env={})
    allowed = write(tmp_path / "ok.toml", DRY_RUN_TOML + f'[metrics]\nhost = "{host}"\nallow_remote = true\n')
    assert load_settings(allowed, env={}).metrics.host == host


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "localhost", "::1"])
def test_metrics_on_loopback_needs_nothing(tmp_path, host):
    config = write(tmp_path / "c.toml", DRY_RUN_TOML + f'[metrics]\nhost = "{host}"\n')
    assert load_settings(config, env={}).metrics.allow_remote is False


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_runtime_warns_when_it_serves_metrics_off_loopback(host, warned):
    from bot.compose.daemon import Runtime

    served: list[tuple[int, str]] = []
    runtime = Runtime(
        mode="dry-run",
        journal=SimpleNamespace(close=lambda: None),
        executor=None,
        controller=SimpleNamespace(run=lambda once: 0),
        metrics=SimpleNamespace(serve=lambda port, h: served.append((port, h))),
        notifier=SimpleNamespace(flush=lambda timeout: None),
        kill_switch=None,
        metrics_port=9108,
        metrics_host=host,
    )  # type: ignore[arg-type]
    with capture_logs() as logs:
        assert runtime.run(once=True) == 0
    assert served == [(9108, host)]
    warnings = [e for e in logs if e["event"] == "metrics_served_off_loopback"]
    assert warnings == (
        [{"event": "metrics_served_off_loopback", "host": host, "port": 9108, "log_level": "warning"}] if warned else []
    )

"""The [engine] section, the new notify and exchange keys, and how build_runtime wires them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.redact import clear_secrets
from bot.settings import Settings, load_settings
from tests.support.settings_support import DRY_RUN_TOML, REPO, write, write_state


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    yield
    clear_secrets()


def load(tmp_path: Path, text: str, **env: str) -> Settings:
    return load_settings(write(tmp_path / "c.toml", text), env=env)


def error_of(tmp_path: Path, text: str, **env: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, **env)
    return str(info.value)


def test_engine_settings_defaults_watch_every_block(tmp_path):
    s = load(tmp_path, DRY_RUN_TOML)
    e = s.engine
    assert e.tick_interval_s is None and e.max_tick_gap_s == 60.0
    assert (e.poll_interval_s, e.transfer_timeout_s, e.max_consecutive_failures) == (None, 10800.0, 3)
    assert e.kill_switch_path is None and e.unwrap_native is None and e.repay_idle is True and e.hold_to_target is False
    assert (e.reconcile_grace_s, e.max_retries, e.backoff_s, e.sweep_min_usd) == (2.0, 8, 1.0, Decimal("10"))
    assert s.chain.poll_interval_s == 2.0
    assert s.exchange.recv_window_ms == 10_000
    assert s.notify.telegram_api_url == "https://api.telegram.org"
    assert (s.notify.min_alert_level, s.notify.on_batches) == ("warning", True)


def test_engine_settings_from_file_and_environment(tmp_path):
    text = DRY_RUN_TOML + (
        "[engine]\ntick_interval_s = 4\nmax_consecutive_failures = 5\nunwrap_native = false\n"
        'kill_switch_path = ".delever/HALT"\n'
        '[notify]\ntelegram_api_url = "http://127.0.0.1:9/tg"\n[exchange]\nrecv_window_ms = 5000\n'
    )
    s = load(tmp_path, text, DELEVER_ENGINE__TRANSFER_TIMEOUT_S="900", DELEVER_STATE_DIR=str(tmp_path / "state"))
    assert s.engine.tick_interval_s == 4.0 and s.engine.max_consecutive_failures == 5
    assert s.engine.unwrap_native is False and s.engine.transfer_timeout_s == 900.0
    assert s.engine.kill_switch_path == tmp_path / "state" / "HALT"  # .delever/ follows DELEVER_STATE_DIR
    assert s.notify.telegram_api_url == "http://127.0.0.1:9/tg"
    assert s.exchange.recv_window_ms == 5000


def test_engine_settings_relative_kill_switch_is_absolute(tmp_path):
    s = load(tmp_path, DRY_RUN_TOML + '[engine]\nkill_switch_path = "run/STOP"\n')
    assert s.engine.kill_switch_path == tmp_path / "run" / "STOP"


@pytest.mark.parametrize(
    ("snippet", "path"),
    [
        ("[engine]\nmax_consecutive_failures = 0\n", "engine.max_consecutive_failures"),
        ("[engine]\ntransfer_timeout_s = 1\n", "engine.transfer_timeout_s"),
        ("[engine]\npoll_interval_s = 0\n", "engine.poll_interval_s"),
        ("[engine]\ntick_interval_s = -1\n", "engine.tick_interval_s"),
        ("[engine]\nmax_retries = 51\n", "engine.max_retries"),
        ("[engine]\nsweep_min_usd = 0\n", "engine.sweep_min_usd"),
        ("[engine]\npoll_interval = 1\n", "engine.poll_interval"),  # unknown key
        ('[notify]\ntelegram_api_url = "ftp://x"\n', "notify.telegram_api_url"),
        ('[notify]\nmin_alert_level = "debug"\n', "notify.min_alert_level"),
        ("[exchange]\nrecv_window_ms = 60001\n", "exchange.recv_window_ms"),
    ],
)
def test_engine_settings_out_of_range_names_the_key(tmp_path, snippet, path):
    assert path in error_of(tmp_path, DRY_RUN_TOML + snippet)


def test_engine_settings_unknown_env_key_is_refused(tmp_path):
    assert "engine" in error_of(tmp_path, DRY_RUN_TOML, DELEVER_ENGINE__NOPE="1")


def test_devnet_example_sets_devnet_timings(tmp_path):
    write_state(tmp_path / ".delever")
    s = load_settings(REPO / "config" / "devnet.toml", env={})
    assert s.chain.poll_interval_s == 0.2 and s.engine.tick_interval_s is None
    assert s.engine.poll_interval_s == 0.5 and s.engine.transfer_timeout_s == 600
    assert s.exchange.recv_window_ms == 5000


# ---- build_runtime wiring ----------------------------------------------------------------------


def _build(tmp_path: Path, *, head=None, **engine):
    from bot.compose.daemon import build_runtime
    from tests.support.compose_kit import fake_adapters, settings
    from tests.support.fakes import make_world

    config = settings(
        tmp_path,
        chain={
            "rpc_url": "http://127.0.0.1:8545",
            "chain_id": 31337,
            "pool_addresses_provider": "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e",
            "poll_interval_s": 0.25,
        },
        notify={"telegram_api_url": "http://127.0.0.1:9/tg", "min_alert_level": "critical", "on_batches": False},
        engine=engine,
    )
    world = make_world()
    return build_runtime(config, live_flag=False, clock=world.clock, adapters=fake_adapters(world, head=head))


def test_build_runtime_wires_the_engine_settings(tmp_path):
    runtime = _build(
        tmp_path,
        head=lambda: 7,
        poll_interval_s=0.5,
        transfer_timeout_s=600,
        max_consecutive_failures=4,
        kill_switch_path=str(tmp_path / "K"),
        unwrap_native=True,
        repay_idle=False,
        sweep_min_usd=25,
        reconcile_grace_s=0.5,
        max_retries=3,
        backoff_s=0.1,
        max_tick_gap_s=30,
    )
    try:
        ex, ctl = runtime.executor.config, runtime.controller.config
        assert (ex.poll_interval_s, ex.transfer_timeout_s, ex.unwrap_native, ex.repay_idle) == (0.5, 600, True, False)
        assert (ex.reconcile_grace_s, ex.max_retries, ex.backoff_s) == (0.5, 3, 0.1)
        assert ctl.max_consecutive_failures == 4 and ctl.sweep_min_usd == Decimal(25)
        assert ctl.watch_blocks and ctl.head_poll_s == 0.25 and ctl.max_tick_gap_s == 30
        assert runtime.controller.watching_blocks
        assert runtime.kill_switch.path == tmp_path / "K"
        notify = runtime.notifier.config
        assert notify.telegram_api_url == "http://127.0.0.1:9/tg"
        assert (notify.min_alert_level, notify.on_batches) == ("critical", False)
    finally:
        runtime.journal.close()


def test_build_runtime_executor_waits_default_to_the_head_poll_interval(tmp_path):
    runtime = _build(tmp_path, head=lambda: 7)
    try:
        assert runtime.executor.config.poll_interval_s == 0.25  # chain.poll_interval_s
    finally:
        runtime.journal.close()


def test_build_runtime_tick_interval_turns_block_watching_off(tmp_path):
    runtime = _build(tmp_path, head=lambda: 7, tick_interval_s=4)
    try:
        cfg = runtime.controller.config
        assert not cfg.watch_blocks and cfg.interval_s == 4.0
        assert not runtime.controller.watching_blocks
    finally:
        runtime.journal.close()


def test_build_runtime_without_a_head_source_ticks_on_the_head_poll_interval(tmp_path):
    runtime = _build(tmp_path, head=None)
    try:
        assert not runtime.controller.watching_blocks and runtime.controller.config.interval_s == 0.25
    finally:
        runtime.journal.close()

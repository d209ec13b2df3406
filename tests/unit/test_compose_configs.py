"""``bot.compose.configs``: settings sections → the engine's configs, every default the schema's."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from bot.compose import configs
from bot.domain import decimal_to_wad
from bot.engine.controller import ControllerConfig
from bot.engine.executor_config import ExecutorConfig
from bot.engine.plan_types import PlanLimits
from bot.errors import ConfigError
from bot.settings import BacktestSettings, EngineConfig, ExchangeConfig, LimitsConfig, PolicyConfig, override_limits
from tests.support.compose_kit import CANARY_TG_TOKEN, WALLET, settings

D = Decimal


def test_plan_limits_from_the_schema_defaults() -> None:
    limits = configs.plan_limits(LimitsConfig())
    assert (limits.hf_floor, limits.max_slippage_bps, limits.price_shock_bps) == (D("1.10"), 100, 300)
    assert (limits.max_batch_usd, limits.max_daily_usd, limits.min_batch_usd) == (D(100_000), D(1_000_000), D(100))
    assert configs.DEFAULT_SHOCK_BPS == 300 == configs.shock_bps(LimitsConfig())


def test_engine_configs_take_no_default_for_a_schema_key() -> None:
    schema_owned = {
        PlanLimits: {
            "hf_floor",
            "max_slippage_bps",
            "price_shock_bps",
            "max_batch_usd",
            "max_daily_usd",
            "min_batch_usd",
        },
        ExecutorConfig: {
            "max_slippage_bps",
            "hf_floor_wad",
            "shock_bps",
            "max_oracle_divergence_bps",
            "unwrap_native",
            "repay_idle",
            "poll_interval_s",
            "transfer_timeout_s",
            "reconcile_grace_s",
            "max_retries",
            "backoff_s",
        },
        ControllerConfig: {
            "interval_s",
            "watch_blocks",
            "head_poll_s",
            "max_tick_gap_s",
            "cooldown_s",
            "max_consecutive_failures",
            "max_daily_usd",
            "max_oracle_divergence_bps",
            "sweep_min_usd",
        },
    }
    for cls, names in schema_owned.items():
        defaulted = {f.name for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
        assert names <= {f.name for f in dataclasses.fields(cls)} and not names & defaulted, cls.__name__


def test_executor_config_from_the_schema_defaults() -> None:
    cfg = configs.executor_config(
        exchange=ExchangeConfig(), limits=LimitsConfig(), engine=EngineConfig(), wallet=WALLET, chain_poll_s=2.0
    )
    assert (cfg.market, cfg.base_coin, cfg.quote_coin, cfg.network) == ("ETH/USDT", "ETH", "USDT", "ERC20")
    assert cfg.withdrawal_allowlist == (WALLET,)  # an empty allowlist (dry-run) pays only the wallet
    assert (cfg.max_slippage_bps, cfg.hf_floor_wad, cfg.shock_bps) == (100, decimal_to_wad("1.10"), 300)
    assert (cfg.poll_interval_s, cfg.transfer_timeout_s, cfg.max_retries, cfg.backoff_s) == (2.0, 10_800.0, 8, 1.0)
    assert (cfg.unwrap_native, cfg.repay_idle, cfg.reconcile_grace_s) == (None, True, 2.0)


def test_controller_config_acts_on_blocks_unless_a_tick_interval_is_set() -> None:
    kw = dict(exchange=ExchangeConfig(), limits=LimitsConfig(), collateral="WETH", debt="USDT", chain_poll_s=2.0)
    on_blocks = configs.controller_config(engine=EngineConfig(), has_head=True, **kw)
    assert (on_blocks.watch_blocks, on_blocks.interval_s, on_blocks.head_poll_s) == (True, 2.0, 2.0)
    assert (on_blocks.cooldown_s, on_blocks.max_daily_usd, on_blocks.sweep_min_usd) == (300.0, D(1_000_000), D(10))
    timed = configs.controller_config(engine=EngineConfig(tick_interval_s=4), has_head=True, **kw)
    assert (timed.watch_blocks, timed.interval_s) == (False, 4.0)
    headless = configs.controller_config(engine=EngineConfig(), has_head=False, **kw)
    assert (headless.watch_blocks, headless.interval_s) == (False, 2.0)


def test_the_backtest_and_the_daemon_get_the_same_limits(tmp_path: Path) -> None:
    daemon = settings(tmp_path)
    backtest = BacktestSettings(limits=daemon.limits)
    assert configs.plan_limits(backtest.limits) == configs.plan_limits(daemon.limits)


def test_journal_path_of_a_dry_run_is_its_own_file(tmp_path: Path) -> None:
    assert configs.journal_path(settings(tmp_path)) == tmp_path / "journal.sqlite"
    assert configs.journal_path(settings(tmp_path, mode="dry-run")) == tmp_path / "journal.dry-run.sqlite"
    odd = settings(tmp_path, mode="dry-run", journal={"path": tmp_path / "state" / "j"})
    assert configs.journal_path(odd) == tmp_path / "state" / "j.dry-run.sqlite"


def test_kill_switch_next_to_the_journal_unless_configured(tmp_path: Path) -> None:
    assert configs.kill_switch_path(settings(tmp_path, mode="dry-run")) == tmp_path / "STOP"
    chosen = settings(tmp_path, engine={"kill_switch_path": tmp_path / "halt-now"})
    assert configs.kill_switch_path(chosen) == tmp_path / "halt-now"


def test_notifier_config_unwraps_the_secrets_it_needs(tmp_path: Path) -> None:
    notify = settings(
        tmp_path,
        notify={
            "webhook_url": "https://hooks.example/abc",
            "telegram_token": CANARY_TG_TOKEN,
            "telegram_chat_id": 42,
            "min_alert_level": "critical",
        },
    ).notify
    cfg = configs.notifier_config(notify)
    assert cfg.webhook_urls == ("https://hooks.example/abc",) and cfg.telegram_token == CANARY_TG_TOKEN
    assert (cfg.telegram_chat_id, cfg.min_alert_level, cfg.on_batches) == ("42", "critical", True)
    assert configs.notifier_config(settings(tmp_path).notify).webhook_urls == ()


def test_policy_with_a_command_line_choice() -> None:
    section = PolicyConfig(name="threshold", params={"trigger_hf": D("1.3"), "target_hf": D("1.6")})
    assert configs.policy(section).params.trigger_hf == D("1.3")
    same = configs.policy_with(section, params={"target_hf": "1.8"})
    assert (same.params.trigger_hf, same.params.target_hf) == (D("1.3"), D("1.8"))
    other = configs.policy_with(section, name="none")
    assert other.name == "none"
    with pytest.raises(ConfigError):
        configs.policy_with(section, name="ladder", params={"trigger_hf": "1.3"})  # not a ladder parameter


def test_override_limits_checks_the_whole_section_and_names_the_flag() -> None:
    assert override_limits(LimitsConfig(), {"max_slippage_bps": 2000}).max_slippage_bps == 2000
    with pytest.raises(ConfigError, match=r"^config: limits\.max_slippage_bps: must be at most 2000 \(from --cap\)$"):
        override_limits(LimitsConfig(), {"max_slippage_bps": 5000}, origins={"max_slippage_bps": "--cap"})
    with pytest.raises(ConfigError, match=r"limits\.max_batch_usd: must not exceed max_daily_usd"):
        override_limits(LimitsConfig(), {"max_daily_usd": D(50_000)})

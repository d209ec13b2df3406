"""Settings sections → the engine's typed configs. Pure: no I/O, no defaults of its own.

Both the daemon (``Settings``) and the backtest (``BacktestSettings``) pass their sections
here, so a limit means the same thing in every mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.domain.position import decimal_to_wad
from bot.engine.controller import ControllerConfig
from bot.engine.executor_config import ExecutorConfig
from bot.engine.notify import NotifyConfig as NotifierConfig
from bot.engine.plan_types import PlanLimits
from bot.settings import BacktestSettings, Settings
from bot.settings.sections import ChainConfig, EngineConfig, ExchangeConfig, LimitsConfig, NotifyConfig, PolicyConfig
from strategies import LoadedPolicy, load_policy

# The schema's default, named for callers that show it (the schema owns the value).
DEFAULT_SHOCK_BPS: int = LimitsConfig.model_fields["price_shock_bps"].default


def shock_bps(limits: LimitsConfig) -> int:
    """The least in-transit price shock the sell floor must survive (the planner sizes δ from
    recent volatility above it)."""
    return limits.price_shock_bps


def plan_limits(limits: LimitsConfig) -> PlanLimits:
    return PlanLimits(
        hf_floor=limits.hf_floor,
        max_slippage_bps=limits.max_slippage_bps,
        price_shock_bps=shock_bps(limits),
        max_batch_usd=limits.max_batch_usd,
        max_daily_usd=limits.max_daily_usd,
        min_batch_usd=limits.min_batch_usd,
        buffer_usd=limits.buffer_usd,
        emergency_hf_floor=limits.emergency_hf_floor,
        emergency_after_s=limits.emergency_after_s,
    )


def poll_interval_s(engine: EngineConfig, *, chain_poll_s: float) -> float:
    return engine.poll_interval_s if engine.poll_interval_s is not None else chain_poll_s


def executor_config(
    *, exchange: ExchangeConfig, limits: LimitsConfig, engine: EngineConfig, wallet: str, chain_poll_s: float
) -> ExecutorConfig:
    return ExecutorConfig(
        market=exchange.symbol,
        base_coin=exchange.base,
        quote_coin=exchange.quote,
        network=exchange.deposit_network,
        wallet=wallet,
        withdrawal_allowlist=tuple(str(a) for a in exchange.withdrawal_allowlist) or (wallet,),
        max_slippage_bps=limits.max_slippage_bps,
        hf_floor_wad=decimal_to_wad(limits.hf_floor),
        emergency_hf_floor_wad=decimal_to_wad(min(limits.emergency_hf_floor, limits.hf_floor)),
        shock_bps=shock_bps(limits),
        max_oracle_divergence_bps=limits.max_oracle_divergence_bps,
        unwrap_native=engine.unwrap_native,
        repay_idle=engine.repay_idle,
        poll_interval_s=poll_interval_s(engine, chain_poll_s=chain_poll_s),
        transfer_timeout_s=engine.transfer_timeout_s,
        reconcile_grace_s=engine.reconcile_grace_s,
        max_retries=engine.max_retries,
        backoff_s=engine.backoff_s,
        reconcile_timeout_s=exchange.reconcile_timeout_s,
    )


def controller_config(
    *,
    exchange: ExchangeConfig,
    limits: LimitsConfig,
    engine: EngineConfig,
    collateral: str,
    debt: str,
    chain_poll_s: float,
    has_head: bool,
) -> ControllerConfig:
    """When the controller acts: on each new block (the head polled every ``chain_poll_s``),
    or every ``engine.tick_interval_s`` when set; without a head source, every ``chain_poll_s``."""
    interval = engine.tick_interval_s
    return ControllerConfig(
        collateral=collateral,
        debt=debt,
        market=exchange.symbol,
        base_coin=exchange.base,
        quote_coin=exchange.quote,
        interval_s=interval if interval is not None else chain_poll_s,
        watch_blocks=interval is None and has_head,
        head_poll_s=chain_poll_s,
        max_tick_gap_s=engine.max_tick_gap_s,
        cooldown_s=limits.cooldown_s,
        max_consecutive_failures=engine.max_consecutive_failures,
        max_daily_usd=limits.max_daily_usd,
        max_oracle_divergence_bps=limits.max_oracle_divergence_bps,
        sweep_min_usd=engine.sweep_min_usd,
        candles_timeframe=exchange.candles_timeframe,
        candles_limit=exchange.candles_limit,
        max_in_flight=engine.max_in_flight,
    )


def policy(section: PolicyConfig) -> LoadedPolicy:
    return load_policy(section.name, dict(section.params))


def policy_with(
    section: PolicyConfig, *, name: str | None = None, params: Mapping[str, Any] | None = None
) -> LoadedPolicy:
    """The configured policy with a command line's choice on top: another ``name`` starts from
    its own defaults; the same (or no) name keeps the configured params under ``params``."""
    if name and name != section.name:
        return load_policy(name, dict(params or {}))
    return load_policy(section.name, {**section.params, **(params or {})})


def journal_path(settings: Settings) -> Path:
    """The journal the daemon of ``settings`` uses. A dry-run keeps its own file next to the
    configured one (``*.dry-run.sqlite``), so a simulation can never resume, or be resumed by,
    a batch that moved real funds."""
    path = settings.journal.path
    if settings.mode == "dry-run":
        path = path.with_name(f"{path.stem}.dry-run{path.suffix or '.sqlite'}")
    return path


def kill_switch_path(settings: Settings) -> Path:
    """``engine.kill_switch_path``, or ``STOP`` next to the journal (``touch .delever/STOP``)."""
    configured = settings.engine.kill_switch_path
    return configured if configured is not None else journal_path(settings).with_name("STOP")


def notifier_config(notify: NotifyConfig) -> NotifierConfig:
    webhook = notify.webhook_url.get_secret_value() if notify.webhook_url is not None else None
    return NotifierConfig(
        webhook_urls=(webhook,) if webhook else (),
        telegram_api_url=str(notify.telegram_api_url),
        telegram_token=notify.telegram_token.get_secret_value() if notify.telegram_token is not None else None,
        telegram_chat_id=notify.telegram_chat_id,
        on_batches=notify.on_batches,
        min_alert_level=notify.min_alert_level,
        repeat_after_s=notify.repeat_after_s,
    )


@dataclass(frozen=True, slots=True)
class SimulatedEngine:
    """The daemon's configs for a backtest's controller and executor."""

    executor: ExecutorConfig
    controller: ControllerConfig
    limits: PlanLimits
    hold_to_target: bool


def simulated_engine(
    settings: BacktestSettings, *, symbol: str, collateral: str, debt: str, wallet: str
) -> SimulatedEngine:
    """The engine configs a backtest runs with: the settings' limits, engine and exchange
    sections, on the candles' market (``symbol``) and the simulated wallet. The executor
    polls at the schema's chain poll interval unless ``engine.poll_interval_s`` is set; the
    allowlist is the simulated wallet (a backtest sends nothing anywhere else)."""
    # The simulated lending brings the candles' own bars as price history: no klines are read.
    exchange = settings.exchange.model_copy(update={"symbol": symbol, "withdrawal_allowlist": (), "candles_limit": 0})
    chain_poll_s = ChainConfig.model_fields["poll_interval_s"].default
    limits, engine = settings.limits, settings.engine
    return SimulatedEngine(
        executor=executor_config(
            exchange=exchange, limits=limits, engine=engine, wallet=wallet, chain_poll_s=chain_poll_s
        ),
        controller=controller_config(
            exchange=exchange,
            limits=limits,
            engine=engine,
            collateral=collateral,
            debt=debt,
            chain_poll_s=chain_poll_s,
            has_head=False,
        ),
        limits=plan_limits(limits),
        hold_to_target=engine.hold_to_target,
    )


__all__ = [
    "DEFAULT_SHOCK_BPS",
    "SimulatedEngine",
    "controller_config",
    "executor_config",
    "journal_path",
    "kill_switch_path",
    "notifier_config",
    "plan_limits",
    "policy",
    "policy_with",
    "poll_interval_s",
    "shock_bps",
    "simulated_engine",
]

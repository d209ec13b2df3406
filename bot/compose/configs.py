"""Settings sections → the engine's typed configs. Pure: no I/O, no defaults of its own.

Both the daemon (``Settings``) and the backtest (``BacktestSettings``) pass their sections
here, so a limit means the same thing in every mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.position import decimal_to_wad
from bot.engine.controller import ControllerConfig
from bot.engine.plan_types import PlanLimits
from bot.engine.executor_config import ExecutorConfig
from bot.settings import BacktestSettings
from bot.settings.sections import ChainConfig, EngineConfig, ExchangeConfig, LimitsConfig, PolicyConfig
from strategies import LoadedPolicy, load_policy

# The least in-transit shock when ``limits.price_shock_bps`` is unset (the planner sizes δ
# from volatility above it).
DEFAULT_SHOCK_BPS = 300


def shock_bps(limits: LimitsConfig) -> int:
    return limits.price_shock_bps if limits.price_shock_bps is not None else DEFAULT_SHOCK_BPS


def plan_limits(limits: LimitsConfig) -> PlanLimits:
    return PlanLimits(
        hf_floor=limits.hf_floor,
        max_slippage_bps=limits.max_slippage_bps,
        price_shock_bps=shock_bps(limits),
        max_batch_usd=limits.max_batch_usd,
        max_daily_usd=limits.max_daily_usd,
        min_batch_usd=limits.min_batch_usd,
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
        shock_bps=shock_bps(limits),
        max_oracle_divergence_bps=limits.max_oracle_divergence_bps,
        unwrap_native=engine.unwrap_native,
        repay_idle=engine.repay_idle,
        poll_interval_s=poll_interval_s(engine, chain_poll_s=chain_poll_s),
        transfer_timeout_s=engine.transfer_timeout_s,
        reconcile_grace_s=engine.reconcile_grace_s,
        max_retries=engine.max_retries,
        backoff_s=engine.backoff_s,
    )


def controller_config(
    *, exchange: ExchangeConfig, limits: LimitsConfig, engine: EngineConfig, collateral: str, debt: str,
    chain_poll_s: float, has_head: bool,
) -> ControllerConfig:
    """When the controller acts: on each new block (the head polled every ``chain_poll_s``),
    or every ``engine.tick_interval_s`` when set; without a head source, every ``chain_poll_s``."""
    interval = engine.tick_interval_s
    return ControllerConfig(
        collateral=collateral, debt=debt, market=exchange.symbol, base_coin=exchange.base, quote_coin=exchange.quote,
        interval_s=interval if interval is not None else chain_poll_s,
        watch_blocks=interval is None and has_head,
        head_poll_s=chain_poll_s,
        max_tick_gap_s=engine.max_tick_gap_s,
        cooldown_s=limits.cooldown_s,
        max_consecutive_failures=engine.max_consecutive_failures,
        max_daily_usd=limits.max_daily_usd,
        max_oracle_divergence_bps=limits.max_oracle_divergence_bps,
        sweep_min_usd=engine.sweep_min_usd,
    )


def policy(section: PolicyConfig) -> LoadedPolicy:
    return load_policy(section.name, dict(section.params))


@dataclass(frozen=True, slots=True)
class SimulatedEngine:
    """The daemon's configs for a backtest's controller and executor."""

    executor: ExecutorConfig
    controller: ControllerConfig
    limits: PlanLimits
    hold_to_target: bool


def simulated_engine(settings: BacktestSettings, *, symbol: str, collateral: str, debt: str,
                     wallet: str) -> SimulatedEngine:
    """The engine configs a backtest runs with: the settings' limits, engine and exchange
    sections, on the candles' market (``symbol``) and the simulated wallet. The executor
    polls at the schema's chain poll interval unless ``engine.poll_interval_s`` is set; the
    allowlist is the simulated wallet (a backtest sends nothing anywhere else)."""
    exchange = settings.exchange.model_copy(update={"symbol": symbol, "withdrawal_allowlist": ()})
    chain_poll_s = ChainConfig.model_fields["poll_interval_s"].default
    limits, engine = settings.limits, settings.engine
    return SimulatedEngine(
        executor=executor_config(exchange=exchange, limits=limits, engine=engine, wallet=wallet,
                                 chain_poll_s=chain_poll_s),
        controller=controller_config(exchange=exchange, limits=limits, engine=engine, collateral=collateral, debt=debt,
                                     chain_poll_s=chain_poll_s, has_head=False),
        limits=plan_limits(limits),
        hold_to_target=engine.hold_to_target,
    )


__all__ = ["DEFAULT_SHOCK_BPS", "SimulatedEngine", "controller_config", "executor_config", "plan_limits", "policy",
           "poll_interval_s", "shock_bps", "simulated_engine"]

"""One backtest scenario: candles, a starting position, settings routed to their owners, and
the policy under test run side by side with the baselines.

``--set key=value`` keys go to the first owner that knows them: the market model
(``MarketParams``), the simulation (``SimParams``), the planner (limits, costs, shock), then the
policy's own ``Params``. The baselines take ``trigger_hf``/``target_hf`` from the same values,
else from the policy's params, so they fire where the policy does.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bot.backtest.baselines import BASELINES, make_baseline
from bot.backtest.data import Candles
from bot.backtest.lending import weth_usdt_position
from bot.backtest.market import MarketParams
from bot.backtest.metrics import summarise
from bot.backtest.policies import COST_KEYS, LIMIT_KEYS, PLANNER_MARKET_KEYS, PolicyDecider, planner_inputs
from bot.backtest.runner import Decider, Runner, RunResult, SimParams
from bot.domain.position import Position, Rounding, to_units
from bot.errors import ConfigError, UserInputError
from strategies import load_policy

MARKET_KEYS = {f.name for f in dataclasses.fields(MarketParams)}
SIM_KEYS = {f.name for f in dataclasses.fields(SimParams)}
PLANNER_KEYS = LIMIT_KEYS | COST_KEYS | PLANNER_MARKET_KEYS


@dataclass(frozen=True)
class Settings:
    market: MarketParams
    sim: SimParams
    planner: dict[str, Any]
    policy: dict[str, Any]
    baseline: dict[str, str]


def split_settings(values: dict[str, Any]) -> Settings:
    market, sim, planner, policy = {}, {}, {}, {}
    for key, value in values.items():
        if key in MARKET_KEYS:
            market[key] = value
        elif key in SIM_KEYS:
            sim[key] = value
        elif key in PLANNER_KEYS:
            planner[key] = value
        else:
            policy[key] = value
    try:
        mp = dataclasses.replace(MarketParams(), **{k: _typed(MarketParams, k, v) for k, v in market.items()})
        sp = dataclasses.replace(SimParams(), **{k: _typed(SimParams, k, v) for k, v in sim.items()})
    except (ValueError, InvalidOperation, TypeError) as exc:
        raise ConfigError(f"--set: {exc}") from None
    baseline = {k: str(v) for k, v in values.items() if k in ("trigger_hf", "target_hf")}
    return Settings(mp, sp, planner, policy, baseline)


def _typed(cls: type, key: str, value: Any) -> Any:
    current = getattr(cls(), key)
    text = str(value)
    try:
        if isinstance(current, Rounding):
            return Rounding(text)
        if isinstance(current, bool):
            return text.lower() in ("1", "true", "yes")
        if isinstance(current, int):
            return int(Decimal(text))
        if isinstance(current, float):
            return float(Decimal(text))
        if isinstance(current, Decimal):
            return Decimal(text)
    except (ValueError, InvalidOperation):
        raise ConfigError(f"--set {key}: {text!r} is not a valid value") from None
    return text


def make_deciders(policy_name: str, settings: Settings, *, record: bool = False,
                  baselines: tuple[str, ...] = BASELINES) -> list[Decider]:
    policy = load_policy(policy_name, settings.policy)
    limits, costs, market = planner_inputs(settings.planner, settings.sim, settings.market.refill_half_life_s)
    deciders: list[Decider] = [PolicyDecider(policy, limits, costs, market, record=record)]
    base = dict(settings.baseline)
    params = policy.params_dict()
    for key in ("trigger_hf", "target_hf"):
        if key not in base and params.get(key) is not None:
            base[key] = str(params[key])
    base.setdefault("trigger_hf", "1.4")
    base.setdefault("target_hf", "1.6")
    for name in baselines:
        if name == "do-nothing" and policy.name == "none":
            continue
        deciders.append(make_baseline(name, base))
    return deciders


def load_position(path: str) -> dict[str, Any]:
    """A richer starting position: JSON or TOML with ``collateral`` (WETH) and ``debt`` (USDT),
    optional ``liquidation_threshold_bps``, ``liquidation_bonus_bps``, ``ltv_bps``."""
    p = Path(path)
    try:
        text = p.read_text()
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise UserInputError(f"cannot read position file {p}: {exc}") from None
    if not isinstance(data, dict) or "collateral" not in data or "debt" not in data:
        raise UserInputError(f"position file {p}: needs 'collateral' (WETH) and 'debt' (USDT)")
    return data


def position_from(data: dict[str, Any], sim: SimParams, price_base: int) -> Position:
    try:
        return weth_usdt_position(
            collateral_units=to_units(Decimal(str(data["collateral"])), 18),
            debt_units=to_units(Decimal(str(data["debt"])), 6),
            weth_price_base=price_base,
            liquidation_threshold_bps=int(data.get("liquidation_threshold_bps", sim.liquidation_threshold_bps)),
            ltv_bps=int(data.get("ltv_bps", 8_050)),
            liquidation_bonus_bps=int(data.get("liquidation_bonus_bps", sim.liquidation_bonus_bps)),
            rounding=sim.rounding,
        )
    except (InvalidOperation, ValueError) as exc:
        raise UserInputError(f"position file: {exc}") from None


@dataclass
class Outcome:
    results: list[RunResult]
    summaries: list[dict[str, Any]] = field(default_factory=list)
    deciders: list[Decider] = field(default_factory=list)


def run_scenario(candles: Candles, policy_name: str, values: dict[str, Any], *, collateral: Decimal,
                 start_hf: Decimal, position: dict[str, Any] | None = None, record: bool = False,
                 baselines: tuple[str, ...] = BASELINES) -> Outcome:
    settings = split_settings(values)
    results = []
    deciders = make_deciders(policy_name, settings, record=record, baselines=baselines)
    for decider in deciders:
        start = None
        if position is not None:
            start = position_from(position, settings.sim, int(round(float(candles.open[0]) * 1e8)))
        runner = Runner(candles, decider, collateral=collateral, start_hf=start_hf, market=settings.market,
                        sim=settings.sim, position=start)
        results.append(runner.run())
    return Outcome(results, [summarise(r) for r in results], deciders)

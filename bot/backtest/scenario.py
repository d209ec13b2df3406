"""One backtest scenario: candles, a starting position, the settings routed to their owners,
and the policy under test run through the daemon's engine beside the reference strategies.

Settings come from the config file's ``[limits]``, ``[policy]``, ``[engine]`` and
``[exchange]`` sections (``bot.settings.load_backtest_settings``; without a file, the schema's
defaults). ``--set key=value`` keys then go to the first owner that knows them: the market
model (``MarketParams``), the simulation (``SimParams``), ``[limits]``, ``[engine]``, the
planner's cost and market assumptions, then the policy's own ``Params``. The baselines take
``trigger_hf``/``target_hf`` from the same values, else from the policy's params, so they
fire where the policy does.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.backtest.adapters import WALLET_ADDRESS, to_base
from bot.backtest.baselines import BASELINES, DoNothing, Hindsight, OneShot, SellAll
from bot.backtest.data import Candles, iso
from bot.backtest.dex import DexParams
from bot.backtest.engine import EngineActor
from bot.backtest.market import MarketParams
from bot.backtest.metrics import HF as HF_PLACES
from bot.backtest.metrics import q, summarise, with_sold_vs_hindsight
from bot.backtest.pair import Pair, pair_of_file
from bot.backtest.pair import pair as pair_named
from bot.backtest.policies import planner_inputs, wake_of
from bot.backtest.runner import Actor, Runner, RunResult, SimParams, opening_position
from bot.compose.configs import simulated_engine
from bot.compose.shock_history import shock_table
from bot.domain.position import Position, Reserve, from_units, health_factor_wad, to_units
from bot.domain.wadray import MAX_UINT256, WAD
from bot.engine.controller import PolicyError, policy_plan_fn
from bot.errors import ConfigError, DeleverError, UserInputError
from bot.settings import BacktestSettings, load_backtest_settings
from bot.settings.errors import config_error
from bot.settings.sections import DexConfig, EngineConfig, LimitsConfig
from bot.settings.simulation import (
    DexModelConfig,
    MarketModelConfig,
    PlannerAssumptions,
    PositionFile,
    SimulationConfig,
)
from strategies import LoadedPolicy, load_policy

MARKET_KEYS = set(MarketModelConfig.model_fields)
SIM_KEYS = set(SimulationConfig.model_fields)
LIMIT_KEYS = set(LimitsConfig.model_fields)
ENGINE_KEYS = set(EngineConfig.model_fields) - {"kill_switch_path"}
PLANNER_KEYS = set(PlannerAssumptions.model_fields)
DEX_KEYS = set(DexModelConfig.model_fields)
ROUTE_KEYS = {"route"}  # the [dex] section's route: auto, cex or dex

# Where each ``--set`` key goes, in the order a key is looked up (the policy's params come last).
KEY_OWNERS = (
    ("market model", MARKET_KEYS),
    ("simulation", SIM_KEYS),
    ("limits", LIMIT_KEYS),
    ("engine", ENGINE_KEYS),
    ("planner", PLANNER_KEYS),
    ("dex model", DEX_KEYS),
    ("dex", ROUTE_KEYS),
)


# The baselines' trigger and target when neither the policy nor [baseline] names them.
BASELINE_TRIGGER_HF = "1.4"
BASELINE_TARGET_HF = "1.6"


@dataclass(frozen=True)
class ScenarioSettings:
    config: BacktestSettings  # the file's sections with the --set limits and engine values applied
    market: MarketParams
    sim: SimParams
    planner: dict[str, Any]
    policy: dict[str, Any]
    baseline: dict[str, str]
    dex: DexParams = DexParams()


def split_settings(values: dict[str, Any], config: BacktestSettings | None = None) -> ScenarioSettings:
    """Route each ``--set`` value to its owner and validate it there (the schema's bounds)."""
    config = config or load_backtest_settings(None)
    routed: dict[str, dict[str, Any]] = {owner: {} for owner, _ in KEY_OWNERS}
    policy: dict[str, Any] = {}
    for key, value in values.items():
        owner = next((name for name, keys in KEY_OWNERS if key in keys), None)
        (routed[owner] if owner else policy)[key] = value
    mp = MarketParams.from_config(_section(MarketModelConfig, {}, routed["market model"]))
    sp = SimParams.from_config(_section(SimulationConfig, {}, routed["simulation"]))
    planner = _section(PlannerAssumptions, {}, routed["planner"]).model_dump(exclude_none=True)
    limits, engine = routed["limits"], routed["engine"]
    if limits or engine:
        config = config.model_copy(
            update={
                "limits": _section(LimitsConfig, config.limits.model_dump(), limits),
                "engine": _section(EngineConfig, config.engine.model_dump(), engine),
            }
        )
    if routed["dex"]:
        config = config.model_copy(update={"dex": _section(DexConfig, config.dex.model_dump(), routed["dex"])})
    baseline = {k: str(v) for k, v in values.items() if k in ("trigger_hf", "target_hf")}
    dex = DexParams.from_config(_section(DexModelConfig, {}, routed["dex model"]))
    return ScenarioSettings(config, mp, sp, planner, policy, baseline, dex)


def _section(model: Any, current: dict[str, Any], updates: dict[str, Any]) -> Any:
    """A settings section with ``--set`` values, validated by the schema (one line naming the key)."""
    try:
        return model.model_validate({**current, **{k: _plain(v) for k, v in updates.items()}})
    except ValidationError as exc:
        raise ConfigError("--set " + str(config_error(exc)).removeprefix("config: ")) from None


def _plain(value: Any) -> Any:
    return None if str(value).lower() in ("none", "null") else value


def _plain_decimal(value: Decimal) -> str:
    """Without trailing zeros or an exponent: 1000.000000 → "1000", 1644.78000000 → "1644.78"."""
    return format(value.normalize(), "f")


def valid_keys(policy: LoadedPolicy | None) -> str:
    """Every key ``--set`` accepts, by owner (for the unknown-key error)."""
    groups = []
    if policy is not None:
        groups.append((f"policy {policy.name}", set(policy.params_dict())))
    groups += list(KEY_OWNERS)
    return "; ".join(f"{name}: {', '.join(sorted(keys)) or 'none'}" for name, keys in groups)


def policy_for(policy_name: str | None, settings: ScenarioSettings) -> LoadedPolicy:
    """``--policy`` (or the config's ``policy.name``) with the config's params when the names
    match, then the ``--set`` policy params."""
    section = settings.config.policy
    name = policy_name or section.name
    params = dict(section.params) if name == section.name else {}
    unknown = sorted(set(settings.policy) - set(load_policy(name, params).params_dict()))
    if unknown:
        valid = valid_keys(load_policy(name, params))
        raise ConfigError(f"--set {unknown[0]}: unknown key (valid keys: {valid})")
    return load_policy(name, {**params, **settings.policy})


def make_actors(
    policy_name: str | None,
    settings: ScenarioSettings,
    pair: Pair,
    *,
    record: bool = False,
    baselines: tuple[str, ...] = BASELINES,
    plan_batches: int | None = None,
) -> list[Actor]:
    """``plan_batches``: plan at most this many batches a tick (None: the whole unwind). The
    controller executes only a plan's first batch and plans again next tick, and the first
    batch does not depend on the later ones: 1 gives the same run for a fraction of the work
    (the stress lab), though the plans it records are cut short."""
    policy = policy_for(policy_name, settings)
    engine = simulated_engine(
        settings.config, symbol=pair.symbol, collateral=pair.collateral, debt=pair.debt, wallet=WALLET_ADDRESS
    )
    limits = engine.limits if plan_batches is None else dataclasses.replace(engine.limits, max_batches=plan_batches)
    costs, model = planner_inputs(
        settings.planner,
        settings.sim,
        settings.market.refill_half_life_s,
        shock_table=shock_table(settings.config.limits.shock_quantile),
    )
    wake_hf, gate = wake_of(policy)

    def plan_fn(venue: Any, dex: Any) -> Any:
        return policy_plan_fn(
            policy,
            limits=limits,
            venue=venue,
            market=pair.symbol,
            costs=costs,
            model=model,
            hold_to_target=engine.hold_to_target,
            dex=dex,
            route=settings.config.dex.route,
        )

    actors: list[Actor] = [EngineActor(policy.name, engine, plan_fn, wake_hf=wake_hf, gate=gate, record=record)]
    base = dict(settings.baseline)
    params = policy.params_dict()
    for key in ("trigger_hf", "target_hf"):
        if key not in base and params.get(key) is not None:
            base[key] = str(params[key])
    base.setdefault("trigger_hf", BASELINE_TRIGGER_HF)
    base.setdefault("target_hf", BASELINE_TARGET_HF)
    for name in baselines:
        if name == "do-nothing" and wake_hf == 0:
            continue  # the policy under test already never acts
        actors.append(make_baseline(name, base, settings, pair))
    return actors


def make_baseline(name: str, params: dict[str, str], settings: ScenarioSettings, pair: Pair) -> Actor:
    trigger = Decimal(params.get("trigger_hf", "1.25"))
    if name == "do-nothing":
        return DoNothing()
    if name == "sell-all":
        lot = to_units(pair.rules(Decimal(0)).step_size, pair.collateral_decimals)
        return SellAll(
            settings.config,
            symbol=pair.symbol,
            collateral=pair.collateral,
            debt=pair.debt,
            lot_units=lot,
            wallet=WALLET_ADDRESS,
            trigger_hf=trigger,
        )
    if name == "one-shot":
        return OneShot(
            trigger_hf=trigger,
            target_hf=Decimal(params.get("target_hf", "1.5")),
            slippage_bps=settings.dex.one_shot_slippage_bps,
            service_fee_bps=settings.dex.one_shot_service_fee_bps,
        )
    if name == "hindsight":
        return Hindsight()
    raise KeyError(name)


def load_position(path: str) -> dict[str, Any]:
    """A richer starting position: JSON or TOML with ``collateral`` and ``debt`` (whole coins of
    the pair's reserves), optional ``liquidation_threshold_bps``, ``liquidation_bonus_bps``,
    ``ltv_bps`` (``bot.settings.simulation.PositionFile``)."""
    p = Path(path)
    try:
        text = p.read_text()
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text, parse_float=Decimal)
    except (OSError, ValueError, RecursionError) as exc:
        raise UserInputError(f"cannot read position file {p}: {type(exc).__name__}") from None
    if not isinstance(data, dict) or "collateral" not in data or "debt" not in data:
        raise UserInputError(f"position file {p}: needs 'collateral' and 'debt'")
    try:
        checked = PositionFile.model_validate({k: str(v) if isinstance(v, float) else v for k, v in data.items()})
    except ValidationError as exc:
        raise UserInputError(f"position file {p}: " + str(config_error(exc)).removeprefix("config: ")) from None
    return {k: str(v) for k, v in checked.model_dump(exclude_none=True).items()}


def position_from(data: dict[str, Any], sim: SimParams, price_base: int, pair: Pair) -> Position:
    def opt(key: str, fallback: int | None) -> int | None:
        return int(data[key]) if key in data else fallback

    return pair.position(
        collateral_units=to_units(Decimal(str(data["collateral"])), pair.collateral_decimals),
        debt_units=to_units(Decimal(str(data["debt"])), pair.debt_decimals),
        price_base=price_base,
        rounding=sim.rounding,
        liquidation_threshold_bps=opt("liquidation_threshold_bps", sim.liquidation_threshold_bps),
        liquidation_bonus_bps=opt("liquidation_bonus_bps", sim.liquidation_bonus_bps),
        ltv_bps=opt("ltv_bps", None),
    )


def start_position(
    candles: Candles,
    settings: ScenarioSettings,
    pair: Pair,
    *,
    collateral: Decimal,
    start_hf: Decimal,
    position: dict[str, Any] | None,
) -> Position:
    """The position every actor starts from, at the first open; one that liquidators could
    take at once (HF < 1) is refused: a backtest of it measures only the first bar."""
    if position is None:
        start = opening_position(candles, collateral=collateral, start_hf=start_hf, sim=settings.sim, pair=pair)
    else:
        start = position_from(position, settings.sim, to_base(float(candles.open[0])), pair)
    hf = health_factor_wad(start)
    if hf < WAD:
        price = _plain_decimal(from_units(start.reserve(pair.collateral).price, 8))
        raise UserInputError(
            f"the starting position has HF {Decimal(hf) / WAD:.4f} < 1 at the first open ({price} {pair.quote}): "
            "it would be liquidated at once; lower the debt or add collateral"
        )
    return start


# The USD limits the scenario sizes from the position when the user names neither.
POSITION_SIZED_LIMITS = (("max_batch_usd", "position_batch_share"), ("max_daily_usd", "position_daily_share"))


def position_sized_limits(
    settings: ScenarioSettings, values: dict[str, Any], config: BacktestSettings | None, collateral: Reserve
) -> ScenarioSettings:
    """``max_batch_usd`` and ``max_daily_usd`` that the config file and ``--set`` leave unset:
    the simulation's share of the collateral value at the first open, or the schema's default
    when that is larger. A fund caps its batches by its book: the default $1M a day would take
    a month to unwind a $30M position, and the backtest would measure the cap, not the bot."""
    given = set(values) | (config.limits.model_fields_set if config is not None else set())
    value_usd = from_units(collateral.collateral, collateral.decimals) * from_units(collateral.price, 8)
    limits = settings.config.limits
    update = {}
    for key, share in POSITION_SIZED_LIMITS:
        if key not in given:
            sized = (value_usd * getattr(settings.sim, share)).quantize(Decimal(1), rounding=ROUND_DOWN)
            update[key] = max(getattr(limits, key), sized)
    if not update:
        return settings
    limits = limits.model_copy(update=update)
    return dataclasses.replace(settings, config=settings.config.model_copy(update={"limits": limits}))


def market_pair(candles: Candles, config: BacktestSettings) -> Pair:
    """The candles' pair (from their file's name), else the config's ``exchange.symbol``."""
    return pair_of_file(candles.source) or pair_named(config.exchange.symbol)


class PolicyFailed(DeleverError):
    """The policy under test raised (or returned something invalid) in ``decide()``: the run
    is void, never read as "the policy did nothing"."""


@dataclass
class Outcome:
    results: list[RunResult]
    summaries: list[dict[str, Any]] = field(default_factory=list)
    actors: list[Actor] = field(default_factory=list)
    settings: ScenarioSettings | None = None
    inputs: dict[str, Any] = field(default_factory=dict)


def prepare(
    candles: Candles,
    policy_name: str | None,
    values: dict[str, Any],
    *,
    collateral: Decimal,
    start_hf: Decimal,
    position: dict[str, Any] | None = None,
    record: bool = False,
    baselines: tuple[str, ...] = BASELINES,
    config: BacktestSettings | None = None,
    pair: Pair | None = None,
    plan_batches: int | None = None,
) -> tuple[ScenarioSettings, Pair, Position, list[Actor], dict[str, Any]]:
    """Everything a run needs, validated: the routed settings, the pair, the start position,
    the actors and the inputs as reported (a bad value is a one-line ``UserInputError``)."""
    settings = split_settings(values, config)
    pair = pair or market_pair(candles, settings.config)
    start = start_position(candles, settings, pair, collateral=collateral, start_hf=start_hf, position=position)
    settings = position_sized_limits(settings, values, config, start.reserve(pair.collateral))
    actors = make_actors(policy_name, settings, pair, record=record, baselines=baselines, plan_batches=plan_batches)
    return settings, pair, start, actors, describe_inputs(policy_for(policy_name, settings), settings, pair, start)


def run_scenario(
    candles: Candles,
    policy_name: str | None,
    values: dict[str, Any],
    *,
    collateral: Decimal,
    start_hf: Decimal,
    position: dict[str, Any] | None = None,
    record: bool = False,
    baselines: tuple[str, ...] = BASELINES,
    config: BacktestSettings | None = None,
    pair: Pair | None = None,
    plan_batches: int | None = None,
) -> Outcome:
    settings, pair, start, actors, inputs = prepare(
        candles,
        policy_name,
        values,
        collateral=collateral,
        start_hf=start_hf,
        position=position,
        record=record,
        baselines=baselines,
        config=config,
        pair=pair,
        plan_batches=plan_batches,
    )
    results = []
    for actor in actors:
        runner = Runner(
            candles,
            actor,
            collateral=collateral,
            start_hf=start_hf,
            market=settings.market,
            sim=settings.sim,
            position=start,
            pair=pair,
            dex=settings.dex,
            price_history=settings.config.exchange.candles_limit > 0,  # candles off: no σ, as in the daemon
        )
        try:
            results.append(runner.run())
        except PolicyError as exc:
            when = iso(int(runner.world.now))
            raise PolicyFailed(
                str(exc).replace(f"policy {actor.name}:", f"policy {actor.name} failed at {when}:", 1)
            ) from None
    return Outcome(results, with_sold_vs_hindsight([summarise(r) for r in results]), actors, settings, inputs)


def describe_inputs(policy: LoadedPolicy, settings: ScenarioSettings, pair: Pair, start: Position) -> dict[str, Any]:
    """What the run assumed, for the JSON, the table and the report (strings at fixed precision)."""
    coll, debt = start.reserve(pair.collateral), start.reserve(pair.debt)
    hf = health_factor_wad(start)
    engine = settings.config.engine.model_dump(mode="json", exclude={"kill_switch_path"})
    market = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in dataclasses.asdict(settings.market).items()}
    sim = {
        k: (v.value if isinstance(v, Enum) else str(v) if isinstance(v, Decimal) else v)
        for k, v in dataclasses.asdict(settings.sim).items()
    }
    return {
        "pair": pair.symbol,
        "position": {
            "collateral": _plain_decimal(from_units(coll.collateral, coll.decimals)),
            "collateral_reserve": pair.collateral,
            "debt": _plain_decimal(from_units(debt.debt, debt.decimals)),
            "debt_reserve": pair.debt,
            "price": _plain_decimal(from_units(coll.price, 8)),
            "health_factor": None if hf == MAX_UINT256 else q(Decimal(hf) / WAD, HF_PLACES),
            "liquidation_threshold_bps": coll.liquidation_threshold_bps,
            "liquidation_bonus_bps": coll.liquidation_bonus_bps,
        },
        "policy": {"name": policy.name, "params": policy.params_dict()},
        "limits": settings.config.limits.model_dump(mode="json"),
        "engine": {k: engine[k] for k in ("hold_to_target", "repay_idle", "sweep_min_usd", "poll_interval_s")},
        "market_model": market,
        "simulation": sim,
        "planner": {k: str(v) for k, v in settings.planner.items()},
        "dex": {
            "route": settings.config.dex.route,
            **{k: str(v) if isinstance(v, Decimal) else v for k, v in dataclasses.asdict(settings.dex).items()},
        },
    }

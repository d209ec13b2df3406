"""`delever plan`: the dry-run deleveraging plan from the live state or a saved snapshot.

    delever plan [--json] [--target-hf X] [--snapshot FILE] [--save FILE] [--policy NAME] [--set k=v]
                 [--no-book]

Nothing is signed. The live state comes from ``bot.compose.live.acquire_snapshot`` (one chain read
plus the exchange's book, balances and rules); an unreachable exchange is an error (exit 1)
unless ``--no-book`` asks for the synthetic depth model instead. ``--save FILE`` writes the
snapshot and every planning input (exact JSON); ``--snapshot FILE`` replays such a file to the
identical plan. Limit flags (``--max-slippage-bps``, …) pass the config schema's own checks: a
bound the TOML refuses is refused on the command line too (exit 2).
"""

from __future__ import annotations

import dataclasses
import sys
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.common import EXIT_RUNTIME, EXIT_USER, fail, print_json
from bot.cli.file_args import regular_file, writable_target
from bot.compose.shock_history import market_model
from bot.domain import Snapshot
from bot.engine.plan_io import PlanInput, load_input, save_input
from bot.engine.plan_types import Plan, PlanCosts, PlanLimits
from bot.engine.planner import no_action_plan, plan
from bot.errors import ConfigError, DeleverError, UserInputError
from bot.ports import MarketRules
from strategies.base import Intent, parse_set_pairs

if TYPE_CHECKING:  # pydantic and the composition root load only when a plan is made
    from bot.settings import LimitsConfig, Settings


def acquire_snapshot(settings: Settings, *, with_venue: bool = True) -> tuple[Snapshot, MarketRules | None]:
    """The live state (``bot.compose.live``): the single place where ``delever plan`` touches
    the outside world."""
    from bot.compose.live import acquire_snapshot as acquire

    return acquire(settings, with_venue=with_venue)


def _load_settings(ctx: typer.Context) -> Settings:
    from bot.settings import load_settings

    return load_settings(ctx.obj.config_path if ctx.obj is not None else None)


def _decimal(flag: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ConfigError(f"{flag}: not a number: {value!r}") from None


# A target HF is a ratio a little above 1 (policies use 1.2–3); far above, no position can reach it.
MAX_TARGET_HF = Decimal(100)


def _target_hf(value: str | None) -> Decimal | None:
    target = _decimal("--target-hf", value)
    if target is not None and (not target.is_finite() or not 1 < target <= MAX_TARGET_HF):
        raise ConfigError(f"--target-hf: must be a number above 1 and at most {MAX_TARGET_HF}, got {value!r}")
    return target


def _amount(flag: str, value: str | None, *, allow_zero: bool) -> Decimal | None:
    amount = _decimal(flag, value)
    if amount is not None and (not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero)):
        bound = "zero or more" if allow_zero else "above zero"
        raise ConfigError(f"{flag}: must be a finite USD amount {bound}, got {value!r}")
    return amount


# The command-line flag that sets each limit (named in a validation error).
LIMIT_FLAGS = {
    "hf_floor": "--hf-floor",
    "max_slippage_bps": "--max-slippage-bps",
    "price_shock_bps": "--shock-bps",
    "max_batch_usd": "--max-batch-usd",
    "max_daily_usd": "--max-daily-usd",
}


def plan_limits_with(base: LimitsConfig, overrides: dict[str, Any]) -> PlanLimits:
    """``base`` with the flags on top, validated by the schema's own rules (``ConfigError``)."""
    from bot.compose.configs import plan_limits
    from bot.settings import override_limits

    return plan_limits(override_limits(base, overrides, origins=LIMIT_FLAGS))


def _saved_limits(saved: PlanLimits, overrides: dict[str, Any]) -> PlanLimits:
    """A saved file's limits with the flags on top; the flags are checked by the schema."""
    from pydantic import ValidationError

    from bot.settings import LimitsConfig, override_limits

    if overrides:
        kept = {k: v for k, v in dataclasses.asdict(saved).items() if k in LimitsConfig.model_fields and v is not None}
        try:
            base = LimitsConfig(**kept)
        except ValidationError:  # a file saved under other bounds: check the flags against the defaults
            base = LimitsConfig()
        override_limits(base, overrides, origins=LIMIT_FLAGS)
    return dataclasses.replace(saved, **overrides)


def build_input(
    *,
    settings: Settings | None,
    saved: PlanInput | None,
    target_hf: Decimal | None,
    policy_name: str | None,
    policy_sets: list[str],
    limit_overrides: dict[str, Any],
    depth_usd: Decimal | None,
    gas_usd: Decimal | None,
    no_book: bool = False,
) -> PlanInput:
    """Merge saved inputs, settings and flags (flags win) and decide the intent."""
    if saved is not None:
        snapshot, rules = saved.snapshot, saved.rules
        limits = _saved_limits(saved.limits, limit_overrides)
        costs, market = saved.costs, saved.market
    else:
        if settings is None:
            raise ConfigError("config: no config file: pass --config FILE or set DELEVER_CONFIG")
        limits = plan_limits_with(settings.limits, limit_overrides)  # flags checked before any read
        snapshot, rules = acquire_snapshot(settings, with_venue=not no_book)
        costs, market = PlanCosts(), market_model(settings.limits)
    if depth_usd is not None:
        market = dataclasses.replace(market, synthetic_depth_usd_1pct=depth_usd)
    if gas_usd is not None:
        costs = dataclasses.replace(costs, gas_usd_per_batch=gas_usd)

    params = parse_set_pairs(policy_sets)
    if target_hf is not None:
        intent: Intent | None = Intent.restore_hf(target_hf, reason=f"--target-hf {target_hf}", policy="cli")
        policy_label, policy_params = "cli", {}
    elif saved is not None and saved.policy_name and not policy_name and not params:
        intent, policy_label, policy_params = saved.intent, saved.policy_name, saved.policy_params
    else:
        if saved is not None and saved.policy_name and not policy_name:
            policy_name, params = saved.policy_name, {**saved.policy_params, **params}
        from bot.compose.configs import policy_with
        from bot.settings import PolicyConfig

        section = settings.policy if settings is not None else PolicyConfig()
        policy = policy_with(section, name=policy_name, params=params)
        decision = policy.decide_safely(snapshot)
        if decision.error:
            raise PolicyFailed(f"policy {policy.name} failed: {decision.error}")
        intent, policy_label, policy_params = decision.intent, policy.name, policy.params_dict()
    return PlanInput(snapshot, intent, limits, costs, market, rules, policy_label, policy_params)


class PolicyFailed(DeleverError):
    pass


def make_plan(plan_input: PlanInput) -> Plan:
    if plan_input.intent is None:
        hf = plan_input.snapshot.health_factor
        shown = "no debt" if hf is None else f"HF {hf:.4f}"
        return no_action_plan(
            plan_input.snapshot,
            limits=plan_input.limits,
            reason=f"policy {plan_input.policy_name or '?'} does not act at {shown}",
        )
    return plan(
        plan_input.snapshot,
        plan_input.intent,
        limits=plan_input.limits,
        rules=plan_input.rules,
        costs=plan_input.costs,
        market=plan_input.market,
    )


def _gather(
    ctx: typer.Context,
    *,
    snapshot_file: str | None,
    target_hf: str | None,
    policy: str | None,
    sets: list[str],
    overrides: dict[str, Any],
    depth_usd: Decimal | None,
    gas_usd: Decimal | None,
    no_book: bool = False,
) -> PlanInput:
    target = _target_hf(target_hf)
    settings = None if snapshot_file else _load_settings(ctx)
    saved = load_input(regular_file("--snapshot", snapshot_file)) if snapshot_file else None
    return build_input(
        settings=settings,
        saved=saved,
        target_hf=target,
        policy_name=policy,
        policy_sets=sets,
        limit_overrides={k: v for k, v in overrides.items() if v is not None},
        depth_usd=depth_usd,
        gas_usd=gas_usd,
        no_book=no_book,
    )


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_command(
        ctx: typer.Context,
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
        target_hf: str = typer.Option(None, "--target-hf", help="Override the policy: restore HF to X."),
        snapshot_file: str = typer.Option(None, "--snapshot", help="Replay a file saved with --save."),
        save_file: str = typer.Option(None, "--save", help="Write the snapshot and all inputs (JSON)."),
        policy: str = typer.Option(None, "--policy", help="Policy name or .py file (default: the config's)."),
        sets: list[str] = typer.Option([], "--set", help="Policy parameter key=value (repeatable)."),
        hf_floor: str = typer.Option(None, "--hf-floor", help="HF floor held through the transfer legs."),
        max_slippage_bps: int = typer.Option(None, "--max-slippage-bps", help="Hard slippage cap (bps)."),
        price_shock_bps: int = typer.Option(None, "--shock-bps", help="Least in-transit price shock (bps)."),
        max_batch_usd: str = typer.Option(None, "--max-batch-usd", help="Per-batch sale limit (USD)."),
        max_daily_usd: str = typer.Option(None, "--max-daily-usd", help="Per-day sale limit (USD)."),
        depth_usd: str = typer.Option(None, "--depth-usd", help="Synthetic book: USD depth within 1 %."),
        gas_usd: str = typer.Option(None, "--gas-usd", help="Gas estimate per batch (USD)."),
        no_book: bool = typer.Option(
            False, "--no-book", help="Do not contact the exchange: plan on the synthetic depth model (--depth-usd)."
        ),
    ) -> None:
        """One row per batch: amounts, expected and worst fill, slippage, HF after each leg."""
        try:
            if save_file:
                writable_target("--save", save_file)  # before any read: the work would be lost
            plan_input = _gather(
                ctx,
                snapshot_file=snapshot_file,
                target_hf=target_hf,
                policy=policy,
                sets=list(sets),
                overrides={
                    "hf_floor": _decimal("--hf-floor", hf_floor),
                    "max_slippage_bps": max_slippage_bps,
                    "price_shock_bps": price_shock_bps,
                    "max_batch_usd": _decimal("--max-batch-usd", max_batch_usd),
                    "max_daily_usd": _decimal("--max-daily-usd", max_daily_usd),
                },
                depth_usd=_amount("--depth-usd", depth_usd, allow_zero=False),
                gas_usd=_amount("--gas-usd", gas_usd, allow_zero=True),
                no_book=no_book,
            )
        except (UserInputError, ValueError) as exc:  # config, flags, a saved file, an out-of-range value
            fail(str(exc), EXIT_USER)
        except DeleverError as exc:  # live reads failed (chain, exchange), a halt, the policy raised
            fail(str(exc), EXIT_RUNTIME)
        result = make_plan(plan_input)
        if not snapshot_file:
            try:  # each batch's route, when dex.route is "auto" or "dex" (quotes read on chain)
                from bot.compose.dex import routed_plan

                result = routed_plan(_load_settings(ctx), result, plan_input)
            except UserInputError as exc:
                fail(str(exc), EXIT_USER)
            except DeleverError as exc:
                fail(str(exc), EXIT_RUNTIME)
        if save_file:
            try:
                save_input(save_file, plan_input)
            except OSError as exc:
                fail(f"--save: cannot write {save_file} ({exc.strerror or 'refused'})", EXIT_USER)
        if json_out:
            print_json(result.to_dict())
        else:
            from bot.cli.plan_view import render_plan

            render_plan(result, file=sys.stdout)

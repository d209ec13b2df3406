"""Planner inputs from the config (``bot.settings.Settings``), read defensively by attribute
so the planner does not depend on the settings model's exact shape."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.engine.plan_types import PlanLimits
from bot.errors import ConfigError
from strategies.base import LoadedPolicy
from strategies.loader import load_policy

_DECIMAL_LIMITS = ("hf_floor", "max_batch_usd", "max_daily_usd", "min_batch_usd", "max_batch_qty", "max_daily_qty")
_INT_LIMITS = ("max_slippage_bps", "price_shock_bps", "max_batches")


def limits_from_settings(settings: Any, **overrides: Any) -> PlanLimits:
    """``PlanLimits`` from ``settings.limits`` (any object or mapping), then ``overrides``
    (None values are ignored). Bad values raise ``ConfigError`` naming ``limits.<key>``."""
    section = getattr(settings, "limits", None) if settings is not None else None
    values: dict[str, Any] = {}
    for key in _DECIMAL_LIMITS + _INT_LIMITS:
        raw = _get(section, key)
        if key in overrides and overrides[key] is not None:
            raw = overrides[key]
        if raw is None:
            continue
        try:
            values[key] = Decimal(str(raw)) if key in _DECIMAL_LIMITS else int(str(raw))
        except (ArithmeticError, ValueError):
            raise ConfigError(f"limits.{key}: not a number: {raw!r}") from None
    try:
        return PlanLimits(**values)
    except ValueError as exc:
        key = str(exc).split(" ", 1)[0]
        raise ConfigError(f"limits.{key}: {exc}") from None


def policy_from_settings(settings: Any, *, name: str | None = None, params: dict[str, Any] | None = None) -> LoadedPolicy:
    """The configured policy (``settings.policy.name``/``params``), ``name``/``params`` winning."""
    section = getattr(settings, "policy", None) if settings is not None else None
    policy_name = name or _get(section, "name") or "threshold"
    merged = dict(_get(section, "params") or {}) if not name or name == _get(section, "name") else {}
    merged.update(params or {})
    return load_policy(str(policy_name), merged)


def _get(section: Any, key: str) -> Any:
    if section is None:
        return None
    if isinstance(section, dict):
        return section.get(key)
    return getattr(section, key, None)

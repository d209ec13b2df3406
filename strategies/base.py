"""The policy interface (version 1): what a policy is, what it returns, how it is run safely.

A policy is a module (built-in or a user's ``.py`` file) that defines

    INTERFACE_VERSION = 1
    NAME = "my_policy"                      # optional; defaults to the module/file name

    @dataclass(frozen=True)
    class Params:                           # its knobs, with defaults; checks in __post_init__
        trigger_hf: Decimal = Decimal("1.4")

    def decide(snapshot: Snapshot, params: Params) -> Intent | None: ...

    # Optional, for backtests (they skip the bars where the policy cannot act):
    def wake_hf(params: Params) -> Decimal | None: ...    # never acts at or above this HF
    def wake_gate(params: Params) -> DrawdownGate | None: ...   # a price-dependent bound

``decide`` is a pure function of an observation (``bot.domain.Snapshot``: the Aave position,
idle balances, the order book, the time, recent prices) and the frozen params. It does no I/O
and keeps no state between calls, so the same code runs in backtests, dry-runs and live. It
returns an ``Intent`` (what to achieve) or None (do nothing now); the planner decides *how*
(batch sizes, the HF floor through the transfer legs, the slippage cap).

``wake_hf`` must be an upper bound: at any HF at or above it ``decide`` returns None whatever
else the snapshot holds (0: never acts; None or no ``wake_hf``: no bound, every bar is shown).
``wake_gate`` narrows it for policies that act only after a drawdown (see ``DrawdownGate``).
A wrong bound makes a backtest skip decisions the policy would have taken, nothing else.

Callers never call ``decide`` directly: ``LoadedPolicy.decide_safely`` contains anything the
policy raises or returns by mistake and reports it as a ``Decision`` with an ``error``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.domain import Snapshot
from bot.errors import ConfigError

INTERFACE_VERSION = 1

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Intent:
    """What a policy wants now. The planner turns it into batches.

    - ``target_hf``: restore the health factor to at least this (None: unwind everything,
      i.e. repay all the debt, unless ``max_sell`` bounds it).
    - ``max_sell``: sell at most this much collateral (whole coins) for this decision — the
      paced, TWAP-like slice. None: no bound beyond the configured limits.
    - ``urgency``: 0 (relaxed) … 1 (act now); executors may scale gas or pacing by it.
    - ``reason``: one human line, shown in plans and journals.
    - ``collateral`` / ``debt``: reserve symbols to sell / repay (None: the planner picks the
      largest collateral and the largest debt).
    """

    target_hf: Decimal | None
    max_sell: Decimal | None = None
    urgency: Decimal = Decimal(0)
    reason: str = ""
    collateral: str | None = None
    debt: str | None = None
    policy: str = ""  # filled in by the runner: which policy produced it

    def __post_init__(self) -> None:
        if self.target_hf is not None and self.target_hf <= ONE:
            raise ValueError(f"target_hf must be > 1, got {self.target_hf}")
        if self.max_sell is not None and self.max_sell < 0:
            raise ValueError(f"max_sell must be >= 0, got {self.max_sell}")
        if not Decimal(0) <= self.urgency <= ONE:
            raise ValueError(f"urgency must be in [0, 1], got {self.urgency}")

    @classmethod
    def restore_hf(cls, target_hf: Decimal | str, **kw: Any) -> Intent:
        return cls(target_hf=Decimal(str(target_hf)), **kw)

    @classmethod
    def liquidation_distance(cls, distance: Decimal | str, **kw: Any) -> Intent:
        """Keep the liquidation price ``distance`` (0.35 = 35 %) below the market price."""
        return cls(target_hf=hf_for_distance(Decimal(str(distance))), **kw)

    @classmethod
    def sell(cls, max_sell: Decimal | str, *, target_hf: Decimal | None = None, **kw: Any) -> Intent:
        return cls(target_hf=target_hf, max_sell=Decimal(str(max_sell)), **kw)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_hf": _s(self.target_hf),
            "max_sell": _s(self.max_sell),
            "urgency": str(self.urgency),
            "reason": self.reason,
            "collateral": self.collateral,
            "debt": self.debt,
            "policy": self.policy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Intent:
        return cls(
            target_hf=_d(data.get("target_hf")),
            max_sell=_d(data.get("max_sell")),
            urgency=Decimal(str(data.get("urgency", "0"))),
            reason=str(data.get("reason", "")),
            collateral=data.get("collateral"),
            debt=data.get("debt"),
            policy=str(data.get("policy", "")),
        )


def hf_for_distance(distance: Decimal) -> Decimal:
    """HF that puts the liquidation price ``distance`` below the market: P_liq = P/HF."""
    if not Decimal(0) <= distance < ONE:
        raise ValueError(f"distance must be in [0, 1), got {distance}")
    return ONE / (ONE - distance)


def distance_for_hf(hf: Decimal) -> Decimal:
    """How far below the market the liquidation price sits at ``hf`` (1 − 1/HF)."""
    return ONE - ONE / hf


@dataclass(frozen=True, slots=True)
class DrawdownGate:
    """When a policy can act at all: only if, for some step (drawdown, hf), the collateral
    price is at least ``drawdown`` below its highest close over the last ``window_s`` AND the
    health factor is below ``hf``. A backtest turns it into a per-bar wake price."""

    window_s: int
    steps: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of running a policy once: an intent, nothing, or a contained error."""

    policy: str
    intent: Intent | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy module bound to its validated params."""

    name: str
    params: Any
    decide_fn: Callable[[Snapshot, Any], Intent | None] = field(repr=False)
    interface_version: int = INTERFACE_VERSION
    source: str = ""  # "builtin" or the file path
    wake_hf_fn: Callable[[Any], Decimal | None] | None = field(default=None, repr=False)
    wake_gate_fn: Callable[[Any], DrawdownGate | None] | None = field(default=None, repr=False)

    def decide_safely(self, snapshot: Snapshot) -> Decision:
        return safe_decide(self, snapshot)

    def wake_hf(self) -> Decimal | None:
        """The HF at or above which the policy never acts (0: never acts; None: unknown)."""
        if self.wake_hf_fn is None:
            return None
        value = self.wake_hf_fn(self.params)
        return None if value is None else Decimal(str(value))

    def wake_gate(self) -> DrawdownGate | None:
        return None if self.wake_gate_fn is None else self.wake_gate_fn(self.params)

    def params_dict(self) -> dict[str, Any]:
        return params_to_dict(self.params)


def safe_decide(policy: LoadedPolicy, snapshot: Snapshot) -> Decision:
    """Run ``policy`` on ``snapshot``; never raises. A raising policy or a wrong return type
    yields ``Decision(error=...)`` for the caller to report (and, live, to halt on)."""
    guarded = _isolated(snapshot)
    try:
        result = policy.decide_fn(guarded, policy.params)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code: contain it (even sys.exit), report it
        return Decision(policy.name, error=f"{type(exc).__name__}: {exc}")
    if result is None:
        return Decision(policy.name)
    if not isinstance(result, Intent):
        return Decision(policy.name, error=f"decide returned {type(result).__name__}, expected Intent or None")
    return Decision(policy.name, intent=dataclasses.replace(result, policy=policy.name))


def _isolated(snapshot: Snapshot) -> Snapshot:
    # The snapshot is frozen, but its balance dicts are not: hand the policy copies so it
    # cannot change what the planner sees next.
    return dataclasses.replace(
        snapshot,
        wallet_balances=dict(snapshot.wallet_balances),
        exchange_balances=dict(snapshot.exchange_balances),
    )


# --- params -----------------------------------------------------------------------------


def build_params(params_type: type, values: Mapping[str, Any] | None, *, policy: str = "") -> Any:
    """Validate ``values`` (from TOML or ``--set key=value``) into the frozen ``params_type``.

    Unknown keys, values of the wrong type and failed checks raise ``ConfigError`` naming the
    key, e.g. ``policy threshold: params.target_hf: must be > trigger_hf``.
    """
    from pydantic import TypeAdapter, ValidationError

    values = dict(values or {})
    prefix = f"policy {policy}: " if policy else ""
    if not dataclasses.is_dataclass(params_type):
        raise ConfigError(f"{prefix}Params must be a dataclass")
    known = {f.name for f in dataclasses.fields(params_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{prefix}params.{unknown[0]}: unknown parameter (known: {', '.join(sorted(known)) or 'none'})"
        )
    try:
        return TypeAdapter(params_type).validate_python(values)
    except ConfigError as exc:
        raise ConfigError(f"{prefix}{exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx = err.get("ctx")
        inner = ctx.get("error") if isinstance(ctx, dict) else None
        if isinstance(inner, ConfigError):  # raised by check() in Params.__post_init__
            raise ConfigError(f"{prefix}{inner}") from None
        key = ".".join(str(part) for part in err.get("loc", ()))
        raise ConfigError(f"{prefix}params.{key or '?'}: {err.get('msg', 'invalid')}") from None
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise ConfigError(f"{prefix}{exc}") from None


def check(condition: bool, key: str, message: str) -> None:
    """For ``Params.__post_init__``: raise ``ConfigError`` naming ``key`` unless ``condition``."""
    if not condition:
        raise ConfigError(f"params.{key}: {message}")


def params_to_dict(params: Any) -> dict[str, Any]:
    if params is None or not dataclasses.is_dataclass(params):
        return {}
    return {f.name: _jsonable(getattr(params, f.name)) for f in dataclasses.fields(params)}


def parse_set_pairs(pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["trigger_hf=1.4", "steps=[[0.1,0.3]]"]`` → a dict; values are JSON when they parse
    as JSON (numbers stay exact: they are kept as strings), else plain strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = _parse_value(raw.strip())
    return out


def _parse_value(raw: str) -> Any:
    try:
        value = json.loads(raw, parse_float=str, parse_int=str)
    except json.JSONDecodeError:
        return raw
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return copy.copy(value)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))

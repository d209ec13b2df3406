"""Load a policy by built-in name or from a ``.py`` file, check its interface version and
validate its params. Every failure is a ``ConfigError`` (exit 2) naming what is wrong."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from bot.errors import ConfigError
from strategies.base import INTERFACE_VERSION, LoadedPolicy, build_params

BUILTINS = ("threshold", "ladder", "paced", "risk_budget", "none")


def load_policy(name_or_path: str, params: Mapping[str, Any] | None = None) -> LoadedPolicy:
    """``load_policy("threshold", {"trigger_hf": "1.4"})`` or ``load_policy("my/policy.py")``."""
    if name_or_path in BUILTINS:
        module = importlib.import_module(f"strategies.{name_or_path}")
        source = "builtin"
    elif name_or_path.endswith(".py") or "/" in name_or_path or Path(name_or_path).exists():
        module = _import_file(Path(name_or_path))
        source = str(Path(name_or_path))
    else:
        raise ConfigError(
            f"policy.name: unknown policy {name_or_path!r} (built-ins: {', '.join(BUILTINS)}; or a path to a .py file)"
        )
    return bind(module, params, source=source, default_name=Path(name_or_path).stem)


def bind(module: ModuleType, params: Mapping[str, Any] | None, *, source: str, default_name: str) -> LoadedPolicy:
    """Check ``module`` against the interface and bind it to validated ``params``."""
    name = str(getattr(module, "NAME", default_name))
    version = getattr(module, "INTERFACE_VERSION", None)
    if version != INTERFACE_VERSION:
        raise ConfigError(
            f"policy {name}: INTERFACE_VERSION is {version!r}, this delever runs version {INTERFACE_VERSION}"
        )
    decide = getattr(module, "decide", None)
    if not callable(decide):
        raise ConfigError(f"policy {name}: defines no decide(snapshot, params) function")
    params_type = getattr(module, "Params", None)
    if params_type is None:
        if params:
            raise ConfigError(f"policy {name}: params.{sorted(params)[0]}: the policy takes no params")
        bound = None
    else:
        bound = build_params(params_type, params, policy=name)
    hooks = {}
    for hook in ("wake_hf", "wake_gate"):
        fn = getattr(module, hook, None)
        if fn is not None and not callable(fn):
            raise ConfigError(f"policy {name}: {hook} must be a function of the params")
        hooks[f"{hook}_fn"] = fn
    return LoadedPolicy(name=name, params=bound, decide_fn=decide, interface_version=version, source=source, **hooks)


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise ConfigError(f"policy.name: no policy file at {path}")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"delever_user_policy_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"policy.name: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - a user's file: report, never crash
        sys.modules.pop(module_name, None)
        raise ConfigError(f"policy file {path}: {type(exc).__name__}: {exc}") from None
    return module

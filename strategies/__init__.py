"""Deleveraging policies: the versioned interface, the built-ins and the loader.

from strategies import load_policy
policy = load_policy("threshold", {"trigger_hf": "1.4", "target_hf": "1.6"})
decision = policy.decide_safely(snapshot)   # never raises; decision.intent or decision.error
"""

from strategies.base import (
    INTERFACE_VERSION,
    Decision,
    DrawdownGate,
    Intent,
    LoadedPolicy,
    build_params,
    distance_for_hf,
    hf_for_distance,
    parse_set_pairs,
    safe_decide,
)
from strategies.loader import BUILTINS, load_policy

__all__ = [
    "BUILTINS",
    "INTERFACE_VERSION",
    "Decision",
    "DrawdownGate",
    "Intent",
    "LoadedPolicy",
    "build_params",
    "distance_for_hf",
    "hf_for_distance",
    "load_policy",
    "parse_set_pairs",
    "safe_decide",
]

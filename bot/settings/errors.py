"""Turn pydantic's validation errors into one ``ConfigError`` line that never shows an input value.

pydantic (and pydantic-settings) put ``input_value=…`` into ``str(ValidationError)``, and the
input of one field can be a whole section holding other secrets. Only the location, the error
type and pydantic's message template are used here; ``input`` is never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from bot.errors import ConfigError
from bot.redact import scrub
from bot.settings.sections import MASKED_SECRET_PATHS, FieldProblem

MAX_PROBLEMS_SHOWN = 3

_COMPARISONS = {
    "greater_than": ("gt", "must be greater than {}"),
    "greater_than_equal": ("ge", "must be at least {}"),
    "less_than": ("lt", "must be less than {}"),
    "less_than_equal": ("le", "must be at most {}"),
}


def config_error(exc: ValidationError, *, env_origins: Mapping[tuple[str, ...], str] | None = None) -> ConfigError:
    """One line: ``config: a.b: problem; c.d: problem (and N more)``."""
    problems = [_describe(err, env_origins or {}) for err in exc.errors(include_input=False, include_url=False)]
    problems = list(dict.fromkeys(problems))  # unions can repeat a location
    shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
    more = len(problems) - MAX_PROBLEMS_SHOWN
    if more > 0:
        shown += f" (and {more} more)"
    return ConfigError(scrub(f"config: {shown}"))


def _describe(err: Mapping[str, Any], env_origins: Mapping[tuple[str, ...], str]) -> str:
    loc = tuple(str(part) for part in err.get("loc", ()))
    ctx = err.get("ctx") or {}
    kind = err.get("type", "")
    problem = ctx.get("error") if kind == "value_error" else None
    if isinstance(problem, FieldProblem):
        loc = loc + problem.path
        message = str(problem)
    elif kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = _missing(loc)
    elif kind in _COMPARISONS:
        key, template = _COMPARISONS[kind]
        message = template.format(ctx.get(key))
    elif kind == "value_error":
        message = str(err.get("msg", "")).removeprefix("Value error, ")
    else:
        message = _lower_first(str(err.get("msg", "invalid value")))
    path = _dotted(loc) or "(top level)"
    origin = env_origins.get(loc)
    suffix = f" (from {origin})" if origin else ""
    return f"{path}: {message}{suffix}"


def _missing(loc: tuple[str, ...]) -> str:
    env = MASKED_SECRET_PATHS.get(loc[-2:]) if len(loc) >= 2 else None
    if env:
        return f"required secret missing (set {env})"
    return "required"


def _dotted(loc: Iterable[str]) -> str:
    out = ""
    for part in loc:
        if part.isdigit():
            out += f"[{part}]"
        elif not _is_schema_tag(part):
            out += f".{part}" if out else part
    return out


def _is_schema_tag(part: str) -> bool:
    # pydantic adds union-member tags such as "function-after[...]" or "decimal" to locations.
    return "[" in part or part in {"str", "int", "bool", "decimal", "tuple[...]", "none", "is-instance"}


def _lower_first(text: str) -> str:
    text = text.replace("Input should", "should")
    return text[:1].lower() + text[1:]

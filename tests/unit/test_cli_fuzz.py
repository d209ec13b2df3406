"""Fuzz the command line with generated configs and arguments, in-process through the real entry
(``run_guarded``): whatever comes in, the answer is exit 0, 1 (runtime: here the unreachable
chain) or 2 (the user's mistake) — never a traceback, never a bare library exception, and every
refusal exactly one ``delever: error:`` line on stderr.

No chain or devnet is reachable: the RPC is a closed loopback port and the devnet state
directory is empty, so a command that gets past its checks fails fast with exit 1.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.redact import clear_secrets
from bot.settings import Settings
from tests.support.cli_runs import CliRun, run_delever
from tests.support.settings_support import ADDRESS_A, MAINNET_PROVIDER

DEAD_RPC = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once
FUZZ = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
# A bare library exception in the one error line: the last-resort handler was reached.
UNHANDLED = re.compile(r"^delever: error: (?!the )[A-Za-z]*(Error|Exception|Warning)\b")

# The only runtime failures (exit 1) possible here: nothing is reachable.
RUNTIME_FAILURES = ("delever: error: the chain RPC does not answer",)

SECTIONS: dict[str, list[str]] = {
    name: list(field.annotation.model_fields)
    for name, field in Settings.model_fields.items()
    if hasattr(field.annotation, "model_fields")
}

# --- TOML values -------------------------------------------------------------------------------

SPECIAL_TOKENS = ["nan", "inf", "-inf", "+inf", "1e308", "-1e308", "1e-400", "0.0", "-0.0", "1.05", "2", "0",
                  "-1", "9223372036854775807", "-9223372036854775808", "true", "false",
                  "1979-05-27T07:32:00Z", "1979-05-27", "07:32:00"]  # fmt: skip
SPECIAL_STRINGS = ["", " ", "0x", ADDRESS_A, ADDRESS_A.lower(), "0x" + "zz" * 20, MAINNET_PROVIDER, DEAD_RPC,
                   "ftp://127.0.0.1/", "http://", "/dev/zero", "/proc/self/mem", ".", "..", "x.py", "/etc/passwd",
                   "dry-run", "live", "testnet", "env", "keystore", "none", "v3.0", "v3.5", "ETH/USDT",
                   "threshold", "ladder", "critical", "é" * 40, "a" * 600, "\\u0000"]  # fmt: skip


def _toml_string(text: str) -> str:
    # A TOML basic string: JSON's escapes are TOML's, except \uXXXX surrogate pairs (kept raw here).
    return json.dumps(text, ensure_ascii=False)


scalars = st.one_of(
    st.sampled_from(SPECIAL_TOKENS),
    st.sampled_from(SPECIAL_STRINGS).map(_toml_string),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(
        lambda d: f"{d:f}" if "." in f"{d:f}" else f"{d:f}.0"
    ),
    st.text(max_size=12).map(_toml_string),
)


def _inline_table(pairs: list[tuple[str, str]]) -> str:
    return "{ " + ", ".join(f"{_toml_string(k)} = {v}" for k, v in dict(pairs).items()) + " }"


values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(st.text(min_size=1, max_size=8), inner), max_size=3).map(_inline_table),
    ),
    max_leaves=8,
)

# --- configs -------------------------------------------------------------------------------------


def base_config() -> dict[str, dict[str, str] | str]:
    """A valid dry-run config as TOML tokens (top-level keys, then one table per section)."""
    return {
        "mode": _toml_string("dry-run"),
        "chain": {
            "rpc_url": _toml_string(DEAD_RPC),
            "chain_id": "1",
            "pool_addresses_provider": _toml_string(MAINNET_PROVIDER),
        },
        "wallet": {"address": _toml_string(ADDRESS_A)},
    }


def render(config: dict[str, Any]) -> str:
    top = [f"{key} = {value}" for key, value in config.items() if not isinstance(value, dict)]
    tables = [
        f"[{_toml_string(name) if not re.fullmatch(r'[A-Za-z0-9_-]+', name) else name}]\n"
        + "".join(f"{_toml_string(k)} = {v}\n" for k, v in body.items())
        for name, body in config.items()
        if isinstance(body, dict)
    ]
    return "\n".join(top) + "\n\n" + "\n".join(tables)


known_keys = st.sampled_from([(section, key) for section, keys in SECTIONS.items() for key in keys])
any_keys = st.one_of(
    known_keys,
    st.tuples(st.sampled_from([*SECTIONS, "mode", "devnet_state"]), st.text(min_size=1, max_size=10)),
    st.tuples(st.text(min_size=1, max_size=10), st.text(min_size=1, max_size=10)),
)


@st.composite
def configs(draw: st.DrawFn) -> str:
    """A valid config with a few keys set to generated values (known keys mostly, unknown ones,
    whole sections replaced by scalars), or now and then raw generated text."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.text(max_size=200))
    config: dict[str, Any] = base_config()
    mutations = 0 if draw(st.integers(0, 40)) == 0 else draw(st.integers(1, 4))  # now and then the valid base
    for _ in range(mutations):
        kind = draw(st.integers(0, 9))
        if kind == 0:  # a section (or a top-level key) that is a scalar, or a key that is a table
            config[draw(st.sampled_from([*SECTIONS, "mode", "devnet_state"]))] = draw(values)
            continue
        section, key = draw(known_keys if kind < 8 else any_keys)
        table = config.get(section)
        if not isinstance(table, dict):
            table = config[section] = {}
        table[key] = draw(values)
    return render(config)


# --- arguments -----------------------------------------------------------------------------------

NUMBERISH = ["nan", "NaN", "inf", "-inf", "1e308", "-1", "0", "1", "1.0001", "1.5", "100", "101", "abc", "",
             "1e-400", "9" * 40, "0x10", "1_000", " 2 ", "-0"]  # fmt: skip
numberish = st.one_of(
    st.sampled_from(NUMBERISH),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers().map(str),
    st.text(max_size=8),
)
PATHS = ["/proc/delever-x.json", "/proc/no/such/plan.json", "/dev/zero", "/dev/null", ".", "/", "missing.json",
         "sub/missing/plan.json"]  # fmt: skip
PLAN_FLAGS = ["--target-hf", "--hf-floor", "--max-slippage-bps", "--shock-bps", "--max-batch-usd",
              "--max-daily-usd", "--depth-usd", "--gas-usd"]  # fmt: skip


@st.composite
def plan_args(draw: st.DrawFn) -> list[str]:
    args = ["plan"]
    for flag in draw(st.lists(st.sampled_from(PLAN_FLAGS), min_size=1, max_size=3, unique=True)):
        args += [flag, draw(numberish)]
    if draw(st.booleans()):
        args += ["--set", draw(st.text(max_size=12)) + "=" + draw(st.one_of(st.sampled_from(NUMBERISH), values))]
    if draw(st.integers(0, 3)) == 0:
        args += ["--policy", draw(st.sampled_from(["threshold", "ladder", "nope", "x.py", "/dev/zero.py", ""]))]
    if draw(st.integers(0, 3)) == 0:
        args += [draw(st.sampled_from(["--save", "--snapshot"])), draw(st.sampled_from(PATHS))]
    args += draw(st.lists(st.sampled_from(["--json", "--no-book"]), max_size=2, unique=True))
    return args


devnet_args = st.one_of(
    st.tuples(
        st.just("set-price"), st.one_of(st.sampled_from(["WETH", "weth", "USDT", "DOGE", ""]), st.text(max_size=6))
    ).flatmap(lambda head: st.tuples(st.just(list(head)), numberish).map(lambda t: ["devnet", *t[0], t[1]])),
    st.one_of(
        st.sampled_from(["1d", "90s", "0s", "9" * 30 + "d", "3651d", "-5s", "1.5h", "2 days", "", "1w"]),
        st.text(max_size=10),
    ).map(lambda duration: ["devnet", "advance", duration]),
)
other_args = st.sampled_from(
    [["status"], ["status", "--json"], ["config", "check"], ["config", "check", "--json", "--no-unlock"]]
)
# `config check --config PATH` after the global one: the command's own option wins.
config_paths = st.sampled_from([*PATHS, "fifo.toml", "/proc/self/mem", "\x00"]).map(
    lambda path: ["config", "check", "--config", path]
)
commands = st.one_of(plan_args(), devnet_args, other_args, config_paths)


# --- the checks ----------------------------------------------------------------------------------


@pytest.fixture
def workdir(monkeypatch, tmp_path) -> Path:
    for name in [n for n in os.environ if n.upper().startswith("DELEVER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path / "state"))  # no devnet: nothing there
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "fifo.toml")  # a config that would block a reader for ever
    yield tmp_path
    clear_secrets()


def check(run: CliRun, args: list[str]) -> None:
    shown = f"delever {' '.join(map(repr, args))} -> {run.code}: {run.err[:500]!r}"
    event(f"exit {run.code}: {' '.join(run.err.split(':')[1:3])[:40]}")
    assert run.code in (0, 1, 2), shown
    assert "Traceback" not in run.out + run.err, shown
    if run.code == 0:
        return
    assert run.out == "", shown
    assert len(run.err.splitlines()) == 1 and run.err.startswith("delever: error: "), shown
    assert not UNHANDLED.match(run.err), shown
    if run.code == 1:  # runtime failures only: what is unreachable here, nothing about the input
        assert run.err.startswith(RUNTIME_FAILURES), shown


@settings(max_examples=620, **FUZZ)
@given(config=configs(), command=st.one_of(other_args, plan_args()))
def test_fuzz_generated_configs(workdir, config, command) -> None:
    path = workdir / "fuzz.toml"
    path.write_text(config, encoding="utf-8", errors="surrogatepass")
    args = ["--config", str(path), *command]
    run = run_delever(*args)
    check(run, args)
    if command[0] == "plan":
        assert run.code != 0  # no chain: a plan cannot be made


@settings(max_examples=400, **FUZZ)
@given(command=commands, with_config=st.booleans())
def test_fuzz_generated_arguments(workdir, command, with_config) -> None:
    config = workdir / "base.toml"
    if not config.exists():
        config.write_text(render(base_config()))
    args = (["--config", str(config)] if with_config and command[0] != "devnet" else []) + command
    run = run_delever(*args)
    check(run, args)
    if command[0] == "devnet":
        assert run.code in (1, 2) and not (workdir / "state" / "devnet.json").exists()

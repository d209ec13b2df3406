"""Bad input is refused in one line, exit 2, before anything is read or changed."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from bot.devnet import feeds, quick
from bot.errors import UserInputError
from tests.support.cli_runs import assert_one_line_refusal, run_delever
from tests.support.settings_support import DRY_RUN_TOML, write

DEAD_RPC = "http://127.0.0.1:1"  # nothing listens on port 1: any read would fail with exit 1


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.upper().startswith("DELEVER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def config(tmp_path) -> Path:
    return write(tmp_path / "dry.toml", DRY_RUN_TOML.replace("http://127.0.0.1:8545", DEAD_RPC))


def test_deeply_nested_toml_is_refused_in_one_line(tmp_path) -> None:
    deep = write(tmp_path / "deep.toml", "a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert_one_line_refusal(run_delever("--config", str(deep), "config", "check"), contains="nested more than 16")
    shallow_but_deep = write(tmp_path / "d30.toml", "a = " + "[" * 30 + "]" * 30 + "\n")
    assert_one_line_refusal(run_delever("--config", str(shallow_but_deep), "config", "check"), contains="nested")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_a_config_that_is_not_a_regular_file_is_refused_without_reading(tmp_path, kind) -> None:
    path = {"dev-zero": Path("/dev/zero"), "directory": tmp_path}.get(kind)
    if path is None:
        path = tmp_path / "fifo.toml"
        os.mkfifo(path)  # reading it would block for ever
    run = run_delever("--config", str(path), "config", "check")
    assert_one_line_refusal(run, contains=f"config: {path} is not a regular file")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1", "1e308", "abc"])
def test_plan_target_hf_out_of_range_is_refused_before_any_read(config, value) -> None:
    run = run_delever("--config", str(config), "plan", "--target-hf", value)
    assert_one_line_refusal(run, contains="--target-hf")  # exit 2, not the dead RPC's exit 1


@pytest.mark.parametrize(("flag", "value"), [("--gas-usd", "nan"), ("--gas-usd", "-5"), ("--depth-usd", "0")])
def test_plan_cost_flags_must_be_finite_and_positive(config, flag, value) -> None:
    assert_one_line_refusal(run_delever("--config", str(config), "plan", flag, value), contains=flag)


@pytest.mark.parametrize("target", ["/proc/delever-plan.json", "/proc/no/such/dir/plan.json", "."])
def test_plan_save_to_an_unwritable_place_is_refused_before_any_read(config, target) -> None:
    run = run_delever("--config", str(config), "plan", "--target-hf", "1.5", "--save", target)
    assert_one_line_refusal(run, contains="--save")
    assert not Path(target).is_file()


def test_plan_snapshot_that_is_a_device_is_refused(tmp_path) -> None:
    assert_one_line_refusal(run_delever("plan", "--snapshot", "/dev/zero"), contains="is not a regular file")


@pytest.mark.parametrize("price", ["1e308", "1e13", "1e-9", "0.000000001"])
def test_devnet_set_price_out_of_range_is_refused_before_the_devnet_is_touched(tmp_path, price) -> None:
    run = run_delever("devnet", "set-price", "WETH", price)
    assert_one_line_refusal(run, contains="price must be between 0.00000001 and 1,000,000,000,000 USD")
    assert not (tmp_path / "state").exists()


def test_devnet_set_price_names_the_symbols_in_help_and_error() -> None:
    help_text = run_delever("devnet", "set-price", "--help").out
    assert "WETH, WBTC, USDC or USDT" in " ".join(help_text.replace("│", " ").split())
    assert_one_line_refusal(
        run_delever("devnet", "set-price", "DOGE", "1"), contains="unknown symbol DOGE: one of WETH, WBTC, USDC or USDT"
    )


def test_devnet_feed_symbols_are_the_deployed_reserves() -> None:
    from bot.devnet.aave_market import DEFAULT_RESERVES

    assert tuple(r.symbol for r in DEFAULT_RESERVES) == feeds.SYMBOLS


@pytest.mark.parametrize("duration", ["9" * 30 + "d", "3651d", "99999999999999"])
def test_devnet_advance_beyond_ten_years_is_refused(duration) -> None:
    assert_one_line_refusal(run_delever("devnet", "advance", duration), contains="at most 3650d")


def test_feed_answer_bounds() -> None:
    assert feeds.feed_answer(Decimal("1600")) == 1600 * 10**8
    assert feeds.feed_answer(Decimal("0.00000001")) == 1
    assert feeds.feed_answer(Decimal(10) ** 12) == 10**20
    for bad in ("1e308", "1000000000000.01", "0.000000009", "NaN", "-1"):
        with pytest.raises(UserInputError, match="price must be between"):
            feeds.feed_answer(Decimal(bad))


def test_set_feed_price_writes_nothing_when_the_price_is_out_of_range(monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(quick, "rpc_call", lambda url, method, params=None: calls.append(method))
    with pytest.raises(UserInputError):
        quick.set_feed_price("http://127.0.0.1:1", "0x" + "01" * 20, Decimal("1e308"))
    assert calls == []


def test_usage_errors_are_one_line_naming_the_help() -> None:
    run = run_delever("plan", "--max-slippage-bps", "lots")
    assert_one_line_refusal(run, contains="--max-slippage-bps")
    assert "(see `delever plan --help`)" in run.err
    assert_one_line_refusal(run_delever("plan", "--no-such-flag"), contains="No such option: --no-such-flag")


def test_flags_show_no_value_type_in_help() -> None:
    help_text = run_delever("plan", "--help").out
    json_row = next(line for line in help_text.splitlines() if "--json" in line)
    assert "<bool>" not in help_text and "One JSON object" in json_row
    assert "<str>" in next(line for line in help_text.splitlines() if "--target-hf" in line)

"""`delever plan` and plan inputs on disk: a saved snapshot replays to the byte-identical plan."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.domain import Level, OrderBook, Position, Reserve, Snapshot
from bot.domain.position import Rounding
from bot.engine.plan_io import PlanInput, load_input, save_input, snapshot_from_dict, snapshot_to_dict
from bot.engine.plan_types import MarketModel, PlanCosts, TransferTimings
from bot.engine.planner import default_rules
from bot.errors import UserInputError
from strategies import Intent
from tests.support.engine_kit import plan_limits

D = Decimal
E8 = 10**8
WAD = 10**18


def rich_snapshot() -> Snapshot:
    pos = Position(
        (
            Reserve(
                "WETH", 18, 2_012_345_678_90, 8050, 8300, 10500, collateral=123_456_789_012_345_678_901, asset="0xC02a"
            ),
            Reserve("USDC", 6, 99_990_000, 7500, 7800, 10450, collateral=5_000 * 10**6, collateral_enabled=False),
            Reserve("USDT", 6, 100_020_000, 7500, 7800, 10450, debt=171_234_567_891),
        ),
        rounding=Rounding.V3_5,
    )
    bids = tuple(Level(D("2011.50") - D("0.37") * i, D("3.1415") + i) for i in range(40))
    book = OrderBook("ETH/USDT", bids, (Level(D("2011.60"), D("2.5")),), timestamp_ms=1_770_000_000_123)
    history = tuple((1_769_990_000 + 600 * i, D("2000") + D(i % 7) * D("3.3")) for i in range(20))
    return Snapshot(
        pos,
        21_000_000,
        1_770_000_000,
        chain_id=1,
        wallet="0xabc",
        wallet_balances={"USDT": 1_234_567, "ETH": 10**17},
        exchange_balances={"USDT": D("12.5"), "ETH": D("0.001")},
        book=book,
        price_history=history,
    )


def rich_input() -> PlanInput:
    return PlanInput(
        snapshot=rich_snapshot(),
        intent=Intent.restore_hf("1.7", urgency=D("0.4"), reason="saved"),
        limits=plan_limits(hf_floor=D("1.08"), max_slippage_bps=40, max_batch_usd=D("50000")),
        costs=PlanCosts(gas_usd_per_batch=D("22.5"), timings=TransferTimings(deposit_s=900)),
        market=MarketModel(refill_half_life_s=600),
        rules=default_rules(),
        policy_name="threshold",
        policy_params={"trigger_hf": "1.4", "target_hf": "1.7"},
    )


def test_snapshot_round_trips_exactly() -> None:
    s = rich_snapshot()
    assert snapshot_from_dict(json.loads(json.dumps(snapshot_to_dict(s)))) == s


def test_plan_input_round_trips_exactly(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    save_input(path, rich_input())
    assert load_input(path) == rich_input()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_saved_snapshot_replays_to_the_byte_identical_plan(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    save_input(first, rich_input())
    code, out1, _ = invoke("plan", "--snapshot", str(first), "--save", str(second), "--json")
    assert code == 0
    code, out2, _ = invoke("plan", "--snapshot", str(second), "--json")
    assert code == 0
    assert out1 == out2
    assert first.read_bytes() == second.read_bytes()
    data = json.loads(out1)
    assert data["target_health_factor"] == "1.7" and data["batches"]


def test_plan_json_prints_one_object_with_the_contract_keys(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    save_input(path, rich_input())
    code, out, _ = invoke("plan", "--snapshot", str(path), "--json", "--target-hf", "1.9")
    assert code == 0
    assert out.count("\n") == 1
    data = json.loads(out)
    assert data["target_health_factor"] == "1.9"
    for key in ("health_factor", "final_health_factor", "fees", "gas_usd", "duration_s", "totals"):
        assert key in data
    for batch in data["batches"]:
        assert {
            "withdraw_amount",
            "expected_price",
            "worst_price",
            "slippage_bps",
            "repay_amount",
            "hf_after_withdraw",
            "hf_after_repay",
        } <= set(batch)


def test_plan_table_on_a_terminal_shows_the_batches(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    save_input(path, rich_input())
    code, out, _ = invoke("plan", "--snapshot", str(path))
    assert code == 0
    assert "withdraw WETH" in out and "HF after" in out and "total: sell" in out


def test_plan_runs_the_policy_when_the_saved_file_has_no_intent(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    save_input(path, PlanInput(rich_snapshot(), None, plan_limits(), PlanCosts(), MarketModel()))
    code, out, _ = invoke("plan", "--snapshot", str(path), "--json", "--policy", "none")
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "no_action" and data["batches"] == []
    assert "policy none does not act" in data["stop_reason"]


def test_plan_flags_override_the_limits(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    save_input(path, rich_input())
    code, out, _ = invoke("plan", "--snapshot", str(path), "--json", "--hf-floor", "1.3", "--max-batch-usd", "1000")
    assert code == 0
    data = json.loads(out)
    assert data["hf_floor"] == "1.3"
    assert all(
        D(b["withdraw_amount"]) * D(b["reference_price"]) <= 1000 for b in data["batches"] if b["kind"] == "unwind"
    )


def test_plan_bad_input_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    save_input(path, rich_input())
    assert invoke("plan", "--snapshot", str(path), "--policy", "nope")[0] == 2
    assert invoke("plan", "--snapshot", str(path), "--target-hf", "abc")[0] == 2
    assert invoke("plan", "--snapshot", str(path), "--target-hf", "0.9")[0] == 2
    assert invoke("plan", "--snapshot", str(tmp_path / "missing.json"))[0] == 2
    (tmp_path / "bad.json").write_text("{}")
    assert invoke("plan", "--snapshot", str(tmp_path / "bad.json"))[0] == 2


def test_plan_without_a_snapshot_or_config_exits_2_naming_the_config() -> None:
    code, out, err = invoke("plan", "--json")
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        "delever: error: config: no config file: pass --config FILE or set DELEVER_CONFIG"
    ]


def test_load_input_rejects_another_format(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "other", "version": 1}))
    with pytest.raises(UserInputError, match="not a saved plan input"):
        load_input(path)


CONFIG = """mode = "dry-run"
[chain]
rpc_url = "http://127.0.0.1:9"
chain_id = 1
pool_addresses_provider = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"
[wallet]
address = "0x00000000000000000000000000000000000000A1"
"""


def test_plan_limit_flags_are_refused_where_the_config_would_be(tmp_path: Path) -> None:
    too_wide = tmp_path / "wide.toml"
    too_wide.write_text(CONFIG + "[limits]\nmax_slippage_bps = 5000\n")
    code, _, toml_err = invoke("--config", str(too_wide), "plan", "--json")
    assert code == 2
    assert toml_err.strip() == "delever: error: config: limits.max_slippage_bps: must be at most 2000"

    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    code, out, err = invoke("--config", str(config), "plan", "--json", "--max-slippage-bps", "5000")
    assert code == 2 and out == ""  # refused before any chain or exchange is contacted
    assert err.strip().splitlines() == [toml_err.strip() + " (from --max-slippage-bps)"]

    saved = tmp_path / "in.json"
    save_input(saved, rich_input())
    code, _, err = invoke("plan", "--snapshot", str(saved), "--json", "--max-slippage-bps", "5000")
    assert code == 2 and err.strip().splitlines() == [toml_err.strip() + " (from --max-slippage-bps)"]
    code, _, err = invoke("plan", "--snapshot", str(saved), "--json", "--hf-floor", "0.9")
    assert (
        code == 2 and err.strip() == "delever: error: config: limits.hf_floor: must be greater than 1 (from --hf-floor)"
    )


def test_plan_limit_flags_within_the_schema_bounds_are_used(tmp_path: Path) -> None:
    saved = tmp_path / "in.json"
    save_input(saved, rich_input())
    again = tmp_path / "again.json"
    code, _, _ = invoke(
        "plan",
        "--snapshot",
        str(saved),
        "--json",
        "--max-slippage-bps",
        "2000",
        "--shock-bps",
        "0",
        "--save",
        str(again),
    )
    assert code == 0
    limits = load_input(again).limits
    assert (limits.max_slippage_bps, limits.price_shock_bps, limits.hf_floor) == (2000, 0, D("1.08"))

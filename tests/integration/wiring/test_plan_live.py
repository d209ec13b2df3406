"""`delever plan` on the live devnet state (chain + exchange emulator), and ``bot.compose``'s live reads."""

from __future__ import annotations

import json
import re
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account

from bot.compose.adapters import ReadOnlyLending, VenueUnavailable, open_lending
from bot.compose.live import acquire_snapshot
from bot.errors import ConfigError, GuardRefused
from tests.support.live import LiveDevnet

pytestmark = pytest.mark.integration
D = Decimal
TRIGGER, TARGET, FLOOR = D("1.3"), D("1.6"), D("1.05")  # config/devnet.toml
UNREACHABLE = "http://127.0.0.1:9"  # discard port: connection refused
SINK = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture(scope="module")
def dropped(live: LiveDevnet) -> LiveDevnet:
    """WETH at $1700 (HF ≈ 1.23 < trigger) and no idle USDT in the wallet, so the plan must unwind."""
    settings = live.settings()
    wallet = str(settings.wallet.address)
    usdt = live.facts["tokens"]["USDT"]
    held = live.token_balance(usdt, wallet, live.w3.eth.block_number)
    account = Account.from_key(settings.wallet.private_key.get_secret_value())
    token = live.w3.eth.contract(
        address=usdt,
        abi=[
            {
                "name": "transfer",
                "type": "function",
                "stateMutability": "nonpayable",
                "inputs": [{"name": "to", "type": "address"}, {"name": "v", "type": "uint256"}],
                "outputs": [{"name": "", "type": "bool"}],
            }
        ],
    )
    tx = token.functions.transfer(SINK, held).build_transaction(
        {"from": wallet, "nonce": live.w3.eth.get_transaction_count(wallet)}
    )
    receipt = live.w3.eth.wait_for_transaction_receipt(
        live.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction), timeout=30
    )
    assert receipt["status"] == 1
    moved = live.cli("devnet", "set-price", "WETH", "1700", "--json")
    assert moved.returncode == 0, moved.stderr
    assert D(json.loads(moved.stdout)["health_factor"]) < TRIGGER
    return live


def test_plan_json_after_a_price_drop_holds_the_floor_and_reaches_the_target(dropped: LiveDevnet) -> None:
    done = dropped.cli("plan", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert D(plan["health_factor"]) < TRIGGER
    assert plan["status"] == "reaches_target" and plan["book_source"] == "snapshot"
    assert D(plan["target_health_factor"]) == TARGET and D(plan["hf_floor"]) == FLOOR
    unwinds = [b for b in plan["batches"] if b["kind"] == "unwind"]
    assert len(unwinds) >= 2 and len(unwinds) == len(plan["batches"])  # no idle USDT to repay first
    assert all(D(b["hf_after_withdraw"]) >= FLOOR for b in plan["batches"])
    assert all(D(b["hf_after_withdraw_shocked"]) >= FLOOR for b in plan["batches"])
    assert D(plan["final_health_factor"]) >= TARGET
    for b in unwinds:  # the emulator's book, walked within the 150 bps cap
        assert D(b["worst_price"]) >= D(b["floor_price"]) >= D(b["reference_price"]) * (1 - D("0.015"))
        assert abs(D(b["reference_price"]) - 1700) < 1


def test_plan_saved_then_replayed_prints_the_identical_json(dropped: LiveDevnet, tmp_path: Path) -> None:
    saved = tmp_path / "plan-input.json"
    live = dropped.cli("plan", "--json", "--save", str(saved))
    assert live.returncode == 0, live.stderr
    replay = dropped.cli("plan", "--json", "--snapshot", str(saved))
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == live.stdout
    snapshot = json.loads(saved.read_text())["snapshot"]
    assert snapshot["chain_id"] == 31337 and snapshot["book"]["bids"]
    assert (
        snapshot["price_history_source"] and snapshot["price_history_source"] in json.loads(live.stdout)["shock_source"]
    )


def test_plan_with_the_exchange_unreachable_exits_1_in_one_line(dropped: LiveDevnet) -> None:
    done = dropped.cli_in_process("plan", "--json", env={"DELEVER_EXCHANGE__API_URL": UNREACHABLE})
    assert done.exit_code == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "exchange" in lines[0] and "--no-book" in lines[0]
    assert "signature" not in done.stderr and "timestamp=" not in done.stderr


def test_plan_no_book_plans_on_the_synthetic_depth_without_the_exchange(dropped: LiveDevnet) -> None:
    done = dropped.cli_in_process("plan", "--json", "--no-book", env={"DELEVER_EXCHANGE__API_URL": UNREACHABLE})
    assert done.exit_code == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["book_source"] == "synthetic" and D(plan["final_health_factor"]) >= TARGET
    assert all(D(b["hf_after_withdraw"]) >= FLOOR for b in plan["batches"])


def test_plan_when_the_rpc_serves_another_chain_exits_2(live: LiveDevnet) -> None:
    done = live.cli_in_process("plan", "--json", env={"DELEVER_CHAIN__CHAIN_ID": "11155111"})
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "delever: error: the RPC serves chain id 31337, the config says 11155111"
    ]


def test_plan_with_the_rpc_down_exits_1_in_one_line(live: LiveDevnet) -> None:
    done = live.cli_in_process("plan", "--json", env={"DELEVER_CHAIN__RPC_URL": UNREACHABLE})
    assert done.exit_code == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "delever: error: the chain RPC does not answer: RPC read failed (chain id): ConnectionError"
    ]


def test_acquire_snapshot_adds_the_book_rules_and_nonzero_exchange_balances(live: LiveDevnet) -> None:
    settings = live.settings()
    snapshot, rules = acquire_snapshot(settings)
    assert snapshot.chain_id == 31337 and snapshot.wallet == settings.wallet.address
    assert snapshot.position.reserve("WETH").collateral > 0 and snapshot.position.reserve("USDT").debt > 0
    assert rules is not None and (rules.symbol, rules.base, rules.quote) == ("ETH/USDT", "ETH", "USDT")
    assert rules.step_size == D("0.0001") and rules.tick_size == D("0.01") and rules.taker_fee == D("0.001")
    assert snapshot.book is not None and snapshot.book.symbol == "ETH/USDT" and len(snapshot.book.bids) >= 100
    assert all(amount != 0 for amount in snapshot.exchange_balances.values())
    # the emulator's candles since it started, or (fewer than ten minutes of them) the reason
    if snapshot.price_history:
        assert snapshot.price_history_source == "1m candles (ccxt fetch_ohlcv)"
    else:
        assert re.fullmatch(r"candles unavailable: \d × 1m candles, too few for σ", snapshot.price_history_source)


def test_acquire_snapshot_without_the_venue_returns_no_rules(live: LiveDevnet) -> None:
    snapshot, rules = acquire_snapshot(live.settings(), with_venue=False)
    assert rules is None and snapshot.book is None and snapshot.exchange_balances == {}


def test_acquire_snapshot_with_a_dead_exchange_raises_venue_unavailable(live: LiveDevnet) -> None:
    with pytest.raises(VenueUnavailable, match="no-book"):
        acquire_snapshot(live.settings(DELEVER_EXCHANGE__API_URL=UNREACHABLE))


def test_acquire_snapshot_with_a_provider_that_is_no_market_raises_config_error(live: LiveDevnet) -> None:
    with pytest.raises(ConfigError, match="no Aave v3 market"):
        acquire_snapshot(live.settings(DELEVER_CHAIN__POOL_ADDRESSES_PROVIDER=SINK), with_venue=False)


def test_open_lending_without_a_key_is_read_only_and_refuses_writes(live: LiveDevnet) -> None:
    settings = live.settings(DELEVER_MODE="dry-run", DELEVER_WALLET__KEY_SOURCE="none")
    lending = open_lending(settings)
    assert isinstance(lending, ReadOnlyLending)
    assert lending.snapshot().position.reserve("WETH").collateral > 0
    with pytest.raises(GuardRefused):
        lending.withdraw(key="k", symbol="WETH", amount=1)
    assert lending.lookup("k") is None


# ---- the in-transit shock: history in the regime of the exchange's candles, or the floor and why


def _emulator(live: LiveDevnet, method: str, path: str, body: dict | None = None) -> object:
    request = urllib.request.Request(
        live.facts["exchange_url"].rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_plan_json_states_a_shock_from_the_exchanges_candles_after_price_moves(dropped: LiveDevnet) -> None:
    for price in ("1751", "1700") * 6:  # twelve minutes of 3 % swings on the exchange's clock
        moved = dropped.cli_in_process("devnet", "set-price", "WETH", price)
        assert moved.exit_code == 0, moved.stderr
        _emulator(dropped, "GET", "/api/v3/ticker/24hr?symbol=ETHUSDT")  # the emulator reads the new oracle
        _emulator(dropped, "POST", "/_admin/clock", {"advance_s": 60})
    done = dropped.cli_in_process("plan", "--json")
    assert done.exit_code == 0, done.stderr
    plan = json.loads(done.stdout)
    assert re.fullmatch(
        r"history: 99\.9 % worst fall over a \d+ s round trip at σ [\d.]+ %/day \(regime [^;]+; "
        r"σ from \d\d × 1m candles \(ccxt fetch_ohlcv\); Binance ETH/USDT .+\)",
        plan["shock_source"],
    ), plan["shock_source"]
    assert all(b["shock_source"] == plan["shock_source"] for b in plan["batches"])
    assert plan["shock_bps"] > dropped.settings().limits.price_shock_bps
    assert all(D(b["hf_after_withdraw_shocked"]) >= FLOOR for b in plan["batches"])
    table = dropped.cli_in_process("plan")  # a later plan: its σ may differ by a candle
    shown = " ".join(table.stdout.split())  # the long source wraps at the terminal's width
    assert re.search(r"shock \d+ bps: history: 99\.9 % worst fall", shown), shown


def test_plan_json_when_the_klines_route_fails_uses_the_floor_and_says_why(dropped: LiveDevnet) -> None:
    _emulator(dropped, "POST", "/_admin/faults", {"route": "GET /api/v3/klines", "kind": "status", "times": None})
    try:
        done = dropped.cli_in_process("plan", "--json")
    finally:
        _emulator(dropped, "DELETE", "/_admin/faults")
    assert done.exit_code == 0, done.stderr
    plan = json.loads(done.stdout)
    url = dropped.facts["exchange_url"].rstrip("/")
    assert plan["shock_source"] == (
        f"floor: limits.price_shock_bps (candles unavailable: ExchangeNotAvailable: binance GET {url}/api/v3/klines "
        "503 Service Unavailable)"
    )
    assert plan["shock_bps"] == dropped.settings().limits.price_shock_bps

"""Parity: one price path, replayed by the daemon on the devnet and by the backtest's engine,
gives the same batches — the same count, each withdrawal within 1 % (or one lot step), each
sell floor within 1 bp.

The path is a staircase: the demo position (100 WETH, HF 1.45 at $2,000) is crashed by
`delever devnet set-price WETH` to three flat prices, each held until the daemon
(`delever --config config/devnet.toml run`, ``engine.hold_to_target`` on) has brought HF back
to its 1.6 target. Each step puts HF near 1.25 (under the 1.3 trigger). The backtest replays
the same prices from the devnet's exact position, with the config's settings and a market
model set to the emulator's book (``tests/support/parity.py`` lists every input matched and
why). Both sequences are printed side by side as one JSON line.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from bot.domain.wadray import WAD
from bot.engine.journal import BatchStatus
from bot.settings import load_backtest_settings
from tests.support.parity import (
    EMULATOR_BOOK,
    backtest_batches,
    floor_gap_bps,
    journal_batches,
    read_position,
    set_emulator_book,
    withdrawal_gap,
)
from tests.support.unwind_harness import CONFIG, Devnet, delever

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]
D = Decimal
# HF 1.45 at $2,000 → ≈ 1.25 at the first step; each unwind ends at 1.6 → ≈ 1.25 at the next.
STEPS = (D("1724.14"), D("1350.00"), D("1057.00"))
TARGET = D("1.6")  # config/devnet.toml
AT_TARGET_WAD = int(TARGET * WAD * D("0.995"))  # the last batch of a step lands a hair short
# Candles off on both sides: the in-transit shock is limits.price_shock_bps (tests/support/parity.py).
HOLD = {"DELEVER_ENGINE__HOLD_TO_TARGET": "true", "DELEVER_EXCHANGE__CANDLES_LIMIT": "0"}


@pytest.fixture(scope="module")
def both_sides(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parity")
    started = time.monotonic()
    devnet = Devnet.up(tmp)
    try:
        book = set_emulator_book(devnet.state["exchange_url"], **EMULATOR_BOOK)
        position = read_position(devnet.state)
        devnet.start_daemon(env=HOLD)
        for price in STEPS:
            done = delever(tmp, "devnet", "set-price", "WETH", str(price), "--json")
            assert done.returncode == 0, done.stderr[-2000:]
            devnet.wait_until_settled(target_wad=AT_TARGET_WAD, timeout=240)
        assert devnet.stop_daemon() == 0, devnet.log()[-3000:]
        batches, steps = devnet.journal()
    finally:
        devnet.down()
    assert batches and all(b.status is BatchStatus.DONE for b in batches), [(b.id, b.status) for b in batches]
    devnet_wall_s = time.monotonic() - started
    settings = load_backtest_settings(CONFIG, env=HOLD)
    return {
        "devnet": journal_batches(batches, steps),
        "backtest": backtest_batches(position, STEPS, settings),
        "position": position,
        "book": book,
        "devnet_wall_s": devnet_wall_s,
    }


@pytest.mark.timeout(600)
def test_the_daemon_and_the_backtest_run_the_same_batches_over_one_price_path(both_sides):
    devnet, backtest = both_sides["devnet"], both_sides["backtest"]
    withdrawal_gaps = [withdrawal_gap(a, b) for a, b in zip(devnet, backtest)]
    floor_gaps = [floor_gap_bps(a, b) for a, b in zip(devnet, backtest)]
    position = both_sides["position"]
    print(
        "\nPARITY "
        + json.dumps(
            {
                "steps_usd": [str(p) for p in STEPS],
                "start": {
                    "collateral_units": position.collateral_units,
                    "debt_units": position.debt_units,
                    "weth_price_base": position.weth_price_base,
                    "usdt_borrow_apr": str(position.borrow_apr),
                },
                "emulator_book": both_sides["book"],
                "batches": {"devnet": len(devnet), "backtest": len(backtest)},
                "side_by_side": [{"devnet": a.as_json(), "backtest": b.as_json()} for a, b in zip(devnet, backtest)],
                "extra_devnet": [a.as_json() for a in devnet[len(backtest) :]],
                "extra_backtest": [b.as_json() for b in backtest[len(devnet) :]],
                "withdrawal_rel_diff": [f"{rel:.6f}" for rel, _ in withdrawal_gaps],
                "floor_diff_bps": [None if g is None else f"{g:.4f}" for g in floor_gaps],
                "repaid_diff_usdt": [str(a.repaid - b.repaid) for a, b in zip(devnet, backtest)],
                "devnet_wall_s": round(both_sides["devnet_wall_s"], 1),
            }
        )
    )
    assert len(devnet) == len(backtest)
    for i, (rel, ok) in enumerate(withdrawal_gaps):
        assert ok, (i, devnet[i].withdrawn, backtest[i].withdrawn, rel)
    for i, gap in enumerate(floor_gaps):
        assert gap is None or gap <= 1, (i, devnet[i].floor, backtest[i].floor, gap)

"""The backtest runs the daemon's controller and executor: the simulated clock's order within a
bar, the config's limits reaching the executor (slippage floor, HF floor, cooldown), the
schema's defaults without a config, and any pair from the candles' file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from bot.backtest import data
from bot.backtest.adapters import SimClock, SimLending, SimVenue, SimWorld
from bot.backtest.data import Candles
from bot.backtest.lending import DebtBook
from bot.backtest.market import Market, MarketParams
from bot.backtest.pair import ETH_USDT, pair, pair_of_file
from bot.backtest.replay import replay_path
from bot.backtest.scenario import run_scenario
from bot.clock import ManualClock
from bot.domain.book import floor_price
from bot.domain.position import Rounding
from bot.domain.wadray import MAX_UINT256
from bot.engine.journal import MEMORY, Journal
from bot.settings import PolicyConfig, load_backtest_settings

E18, E6, E8 = 10**18, 10**6, 10**8
BAR = 300


def candles(lows: list[float], price: float = 2_000.0) -> Candles:
    """Five-minute bars at ``price`` whose lows are given (the close back at ``price``)."""
    n = len(lows)
    ts = np.arange(n, dtype=np.int64) * BAR
    p = np.full(n, price)
    low = np.array(lows, dtype=np.float64)
    return Candles(ts, p.copy(), p.copy(), low, p.copy(), np.full(n, 1e6))


def world(c: Candles, *, weth: int, usdt: int, withdrawal_delay_s: int) -> SimWorld:
    pos = ETH_USDT.position(
        collateral_units=weth * E18, debt_units=usdt * E6, price_base=2_000 * E8, rounding=Rounding.V3_5
    )
    w = SimWorld(
        position=pos,
        debt=DebtBook.opened(usdt * E6, rate_ray=0, at=0),
        market=Market(c, MarketParams()),
        deposit_delay_s=300,
        withdrawal_delay_s=withdrawal_delay_s,
        gas_gwei=10,
    )
    w.enter_bar(0)
    return w


@pytest.mark.parametrize(("delay", "liquidated"), [(3 * BAR, False), (3 * BAR + 1, True)])
def test_a_repay_landing_at_a_bars_open_acts_before_that_bars_low(delay, liquidated):
    # 10 WETH at $2,000 against $14,000: HF 1.186; bar 3's low ($1,650) takes it to 0.978.
    # $6,000 of USDT withdrawn from the exchange lands at bar 3's open (00:15): the executor's
    # poll sees it and repays before the low (HF there 1.70, above the 1.185 of the flat bars
    # before). One second later it lands
    # inside the bar, after the low, and the position is liquidated first.
    c = candles([1_999.0, 1_999.0, 1_999.0, 1_650.0, 1_999.0])
    w = world(c, weth=10, usdt=14_000, withdrawal_delay_s=delay)
    lending, venue, clock = SimLending(w), SimVenue(w), SimClock(w)
    w.exchange["USDT"] = Decimal(6_000)
    venue.withdraw(key="q", coin="USDT", amount=Decimal(6_000), address="me", network="ERC20")
    clock.sleep(5)  # an executor's poll: returns when the transfer lands
    assert w.now == delay and w.wallet["USDT"] == 6_000 * E6
    lending.repay(key="r", symbol="USDT", amount=MAX_UINT256)
    clock.sleep(BAR)
    assert bool(w.ledger.liquidations) is liquidated
    if not liquidated:
        assert 1.18 < w.min_hf < 1.19


def test_a_backtest_runs_the_executors_saga_with_its_sell_floor_from_the_mid():
    out = run_scenario(
        data.shipped("eth_usd_5m_2022-06-13.csv"),
        "threshold",
        {"max_batch_usd": "10000000", "max_daily_usd": "100000000"},
        collateral=Decimal(1_000),
        start_hf=Decimal("1.45"),
        baselines=(),
    )
    w = out.results[0].world
    kinds = [k for _, k, _ in out.results[0].events]
    assert kinds[:6] == ["batch", "deposit", "sell", "quote-arrived", "repay", "batch-done"]
    first = w.orders[0]
    # The executor's floor: the book's mid less max_slippage_bps (100 by default), on the tick.
    assert (first.mid, first.floor_price) == (Decimal("1731.205"), Decimal("1713.90"))
    assert first.floor_price == floor_price(first.mid, 100, Decimal("0.01"))


def _fills(tmp_path: Path, slippage: int) -> tuple[str, str, int]:
    cfg = tmp_path / f"slip{slippage}.toml"
    cfg.write_text(f"[limits]\nmax_slippage_bps = {slippage}\nmax_batch_usd = 5000000\nmax_daily_usd = 100000000\n")
    out = run_scenario(
        data.shipped("eth_usd_5m_2022-06-13.csv"),
        None,
        {"depth_usd_1pct": "3000000"},
        collateral=Decimal(5_000),
        start_hf=Decimal("1.45"),
        baselines=(),
        config=load_backtest_settings(cfg),
    )
    row, w = out.summaries[0], out.results[0].world
    floors = {o.floor_price / o.mid for o in w.orders}
    assert all(f >= 1 - Decimal(slippage) / 10_000 - Decimal("0.0001") for f in floors)
    return row["collateral_sold"], row["avg_fill_price"], len(w.orders)


def test_config_max_slippage_10_gives_other_fills_than_150(tmp_path: Path):
    tight = _fills(tmp_path, 10)
    loose = _fills(tmp_path, 150)
    # (ETH sold, average fill, IOC orders sent): a 10 bps floor fills little per order, so what
    # each batch leaves on the exchange is swept by the next and the unwind takes 17 orders;
    # 150 bps sells more, deeper in the book, in 11 (the in-transit shock bounds each batch).
    assert tight == ("2692.598300", "1403.33", 17)
    assert loose == ("2607.087300", "1420.78", 11)


def test_without_a_config_the_documented_defaults_run():
    out = run_scenario(
        data.shipped("eth_usd_5m_2022-06-13.csv"),
        None,
        {},
        collateral=Decimal(1_000),
        start_hf=Decimal("1.45"),
        baselines=(),
    )
    actor = out.actors[0]
    assert actor.name == "threshold"  # policy.name's default
    assert actor.engine.executor.max_slippage_bps == 100
    assert actor.engine.executor.hf_floor_wad == 11 * 10**17
    assert actor.engine.limits.max_batch_usd == Decimal("100000")
    assert actor.engine.controller.cooldown_s == 300
    events = out.results[0].events
    done = [t for t, kind, _ in events if kind == "batch-done"]
    started = [t for t, kind, _ in events if kind == "batch"]
    assert len(started) == 13
    assert all(b - a >= 300 for a, b in zip(done, started[1:]))  # the cooldown between batches
    # max_batch_usd $100,000 when planned; the price moves a little before the sale.
    assert max(o.qty * o.mid for o in out.results[0].world.orders) < 100_000 * Decimal("1.03")


def test_the_pair_comes_from_the_candles_file(tmp_path: Path):
    assert pair_of_file("eth_usd_5m_2022-06-13.csv") == ETH_USDT
    assert pair_of_file("binance/BTC_USDC-1h.csv") == pair("BTC/USDC")
    assert pair("BTC/USDC").collateral == "WBTC" and pair("BTC/USDC").collateral_decimals == 8
    src = data.shipped("eth_usd_5m_2022-06-13.csv")
    path = tmp_path / "BTC_USDT-5m.csv"
    rows = [
        [
            int(src.timestamp[k]),
            *(float(getattr(src, f)[k]) * 20 for f in ("open", "high", "low", "close")),
            float(src.volume[k]) / 20,
        ]
        for k in range(len(src))
    ]
    data.write_rows(path, rows, append=False)
    out = run_scenario(
        data.load_csv(path), None, {}, collateral=Decimal(50), start_hf=Decimal("1.45"), baselines=("do-nothing",)
    )
    policy, hold = out.results
    assert policy.world.pair.symbol == "BTC/USDT" and policy.start_position.reserve("WBTC").decimals == 8
    assert policy.world.ledger.collateral_sold > 0 and not policy.world.ledger.liquidations
    assert hold.world.ledger.liquidations  # WBTC's threshold is 78 %: the unmanaged position goes


def test_replay_path_lists_the_batches_the_engine_ran():
    # $2,000 falling 1 % a minute for 20 minutes, then flat: a threshold policy at 1.4 acts.
    prices = [(60 * k, Decimal(2_000) * Decimal("0.99") ** min(k, 20)) for k in range(120)]
    settings = load_backtest_settings(None).model_copy(
        update={
            "policy": PolicyConfig(name="threshold", params={"trigger_hf": Decimal("1.4"), "target_hf": Decimal("1.6")})
        }
    )
    batches = replay_path(
        prices,
        settings,
        depth_usd_1pct=5e6,
        deposit_delay_s=300,
        withdrawal_delay_s=600,
        collateral=Decimal(20),
        start_hf=Decimal("1.5"),
    )
    # Batches bounded by the HF floor, 20 minutes apart (batch + cooldown), each sold in full at
    # the executor's floor. The first, 7 minutes in, has too few prices for a regime: the 3 %
    # floor; the second, in a 1 %-a-minute fall (σ far above 10 %/day), holds the floor through
    # the history's 99.9 % fall, so it withdraws a sixth as much, and then no more.
    assert [(b.batch_id, b.started_at, b.withdrawn_units, b.sell_floor) for b in batches] == [
        ("bt-1", 420, 31_213 * 10**14, Decimal("1755.05")),
        ("bt-2", 1_620, 5_196 * 10**14, Decimal("1619.44")),
    ]
    assert all(b.filled * E18 == b.withdrawn_units and b.repaid_units > 0 for b in batches)


def test_a_backtest_journal_lives_in_memory_with_reproducible_keys(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    journal = Journal(MEMORY, clock=ManualClock(), tag="bt")
    assert journal.open_batch(spec={}, start={}) == "bt-1"
    assert journal.integrity_check() == "ok"
    journal.close()
    assert list(tmp_path.iterdir()) == []  # no database, no lock file

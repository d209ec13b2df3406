"""The hindsight baseline: the least first-bar sale that survives the whole path (1 % less is
liquidated on the same path), and every run's sold_vs_hindsight against it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.backtest import data
from bot.backtest.baselines import BASELINES, Hindsight
from bot.backtest.market import MarketParams
from bot.backtest.runner import Runner, RunResult, SimParams
from bot.backtest.scenario import run_scenario

WINDOW = "eth_usd_5m_2022-06-13.csv"  # ETH fell from $1,789 to $1,081 in five days
START_HF = Decimal("1.45")


@dataclass
class FixedSale(Hindsight):
    """The hindsight baseline's first-bar sale, of a given quantity."""

    qty: Decimal = Decimal(0)

    def least_sale(self) -> Decimal | None:
        return self.qty


def run(actor: Hindsight) -> RunResult:
    return Runner(
        data.shipped(WINDOW),
        actor,
        collateral=Decimal(1_000),
        start_hf=START_HF,
        market=MarketParams(),
        sim=SimParams(),
    ).run()


def test_hindsight_sells_the_least_that_survives_the_path():
    least = run(Hindsight())
    sold = least.world.ledger.collateral_sold
    assert least.world.ledger.liquidations == []
    assert Decimal(150) < sold < Decimal(250)  # the fall needs about a fifth of the collateral sold
    assert least.min_hf < 1.001  # and no more: the path's low brings HF to 1
    assert len(least.world.ledger.batches) == 1  # one sale, at the first bar
    assert least.world.ledger.batches[0][0] == int(data.shipped(WINDOW).timestamp[0])
    short = run(FixedSale(qty=(sold * Decimal("0.99")).quantize(Decimal("0.0001"))))
    assert short.world.ledger.liquidations  # 1 % less is liquidated at the low


def test_a_path_that_never_threatens_needs_no_sale():
    r = Runner(
        data.shipped(WINDOW),
        Hindsight(),
        collateral=Decimal(1_000),
        start_hf=Decimal(5),
        market=MarketParams(),
        sim=SimParams(),
    ).run()
    assert r.world.ledger.collateral_sold == 0
    assert r.world.ledger.liquidations == []


def test_every_run_states_its_sale_as_a_multiple_of_hindsights():
    assert "hindsight" in BASELINES
    out = run_scenario(
        data.shipped(WINDOW),
        "threshold",
        {},
        collateral=Decimal(1_000),
        start_hf=START_HF,
        baselines=("do-nothing", "hindsight"),
    )
    by_name = {s["policy"]: s for s in out.summaries}
    least = Decimal(by_name["hindsight"]["collateral_sold"])
    sold = Decimal(by_name["threshold"]["collateral_sold"])
    assert by_name["hindsight"]["sold_vs_hindsight"] == "1.00"
    assert by_name["threshold"]["sold_vs_hindsight"] == str((sold / least).quantize(Decimal("0.01")))
    assert by_name["do-nothing"]["sold_vs_hindsight"] == "0.00"


def test_a_position_no_book_can_take_at_once_gets_the_frictionless_least():
    # 651,000 WETH at HF 1.325 on Feb 1–15 2026: the $8M book cannot take the ≈ 56k ETH needed.
    feb = data.shipped("eth_usd_5m_2026-01-20_2026-02-15.csv")
    feb = feb.between(data.parse_date("2026-02-01"), data.parse_date("2026-02-16"))
    market = MarketParams(depth_usd_1pct=8_000_000, crash_depth_factor=0.4)

    def run_feb(actor: Hindsight) -> RunResult:
        kw = {"collateral": Decimal(651_000), "start_hf": Decimal("1.325"), "market": market, "sim": SimParams()}
        return Runner(feb, actor, **kw).run()  # type: ignore[arg-type]

    least = run_feb(Hindsight())
    sold = least.world.ledger.collateral_sold
    assert any("no sale through the book survives" in d for _, k, d in least.events if k == "hindsight")
    assert least.world.ledger.liquidations == []
    assert Decimal(50_000) < sold < Decimal(60_000)
    assert least.world.ledger.gross_quote == sold * Decimal("2451.96")  # at the first open, no impact

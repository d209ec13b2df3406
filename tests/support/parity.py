"""The parity proof's two sides over one price path: the batches the daemon ran on the devnet
(read from its journal) and the batches the backtest's engine runs over the same path
(``bot.backtest.replay.replay_path``), from the same position, book and limits.

What makes the two sides comparable (each input set to what the other side has):

- **Position**: the devnet's exact units (collateral, debt), the WETH reserve's LT, bonus and
  LTV, the USDT borrow rate, the config's v3.0 rounding.
- **Book**: the emulator's ETHUSDT depth ($5M within 1 %, linear, a level every 2 bps, 10 bps
  taker fee, 1 USDT per withdrawal) with a 4 bps spread, so that its half-spread is one level
  step: the two generators then put the same quantity at the same prices (the emulator's first
  level holds the depth within the half-spread, the backtest's one level step). In the
  backtest: no crash thinning, no square-root impact. Both books refill at once (emulator
  half-life 0, backtest 1 s): the devnet's batches are seconds apart, the backtest's ≥ 10
  simulated minutes, and each sale should meet the full profile on both sides.
- **Transfer timings**: the backtest's deposit and quote withdrawal take 300 s each, the
  daemon planner's own assumption (``TransferTimings`` defaults), so both planners see the
  same round trip; the devnet's take seconds. Each price step is flat and both books refill
  at once, so how long a transfer takes changes nothing but seconds of interest. (The
  backtest hands its 1 s refill to its planner too, against the daemon's 300 s: that shapes
  only a plan's later batches, never the one the executor runs.)
- **Volatility**: candles off on both sides (``exchange.candles_limit = 0``): the daemon reads
  no klines and the backtest's snapshots hold no price history, so both planners size the
  in-transit shock from ``limits.price_shock_bps`` alone. (With candles on, each side's regime σ
  is read over a different history: the emulator's last hour of 1-minute candles against the
  backtest's bars since the path began, and the batches part ways by the second.)
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from web3 import Web3

from bot.backtest.replay import ReplayedBatch, replay_path
from bot.devnet import artifacts
from bot.domain.wadray import RAY
from bot.engine.journal import BatchRow, StepRow, StepStatus
from bot.settings import BacktestSettings

D = Decimal
LOT = D("0.0001")  # the ETHUSDT lot step (emulator and backtest pair)
STEP_S = 3 * 3_600  # each price step of the backtest's path: long enough for every transfer to land
BAR_S = 60

# The emulator's default ETHUSDT depth (bot/devnet/exchange/config.py: DepthProfile) with its
# half-spread widened to one level step, and the same book in the backtest's market model.
EMULATOR_BOOK = {"depth_usd_1pct": 5_000_000, "shape": "linear", "spread_bps": 4, "level_bps": 2, "half_life_s": 0}
BACKTEST_MARKET = {
    "depth_exponent": "1",  # linear: cumulative depth grows with the distance
    "crash_depth_factor": "1",  # no crash thinning
    "impact_coef": "0",  # no square-root (permanent) impact
    "half_spread_bps": "2",
    "level_step_bps": "2",
    "taker_fee_bps": "10",
    "quote_withdrawal_fee": "1",  # the emulator's USDT withdrawal fee
    "refill_half_life_s": "1",  # also the planner's refill assumption: it shapes only a plan's later batches
}
TRANSFER_S = 300  # the daemon planner's TransferTimings defaults (deposit, exchange withdrawal)


@dataclass(frozen=True)
class SideBatch:
    """One batch as either side ran it."""

    withdrawn: Decimal  # WETH
    floor: Decimal | None  # the IOC's floor price
    filled: Decimal  # ETH sold
    repaid: Decimal  # USDT

    def as_json(self) -> dict[str, str | None]:
        return {
            "withdrawn": _plain(self.withdrawn),
            "floor": None if self.floor is None else _plain(self.floor),
            "filled": _plain(self.filled),
            "repaid": _plain(self.repaid),
        }


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class DevnetPosition:
    collateral_units: int
    debt_units: int
    weth_price_base: int
    usdt_price_base: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int
    ltv_bps: int
    borrow_apr: Decimal  # USDT variable borrow rate

    def backtest_position(self) -> dict[str, Any]:
        return {
            "collateral": str(D(self.collateral_units).scaleb(-18)),
            "debt": str(D(self.debt_units).scaleb(-6)),
            "liquidation_threshold_bps": self.liquidation_threshold_bps,
            "liquidation_bonus_bps": self.liquidation_bonus_bps,
            "ltv_bps": self.ltv_bps,
        }


def read_position(state: dict[str, Any]) -> DevnetPosition:
    """The demo wallet's WETH/USDT position and reserve parameters, at the latest block."""
    w3 = Web3(Web3.HTTPProvider(state["rpc_url"], request_kwargs={"timeout": 30}))
    provider = w3.eth.contract(address=state["data_provider"], abi=artifacts.abi("AaveProtocolDataProvider"))
    oracle = w3.eth.contract(address=state["oracle"], abi=artifacts.abi("AaveOracle"))
    weth, usdt, wallet = state["tokens"]["WETH"], state["tokens"]["USDT"], state["wallet"]
    block = w3.eth.block_number
    config = provider.functions.getReserveConfigurationData(weth).call(block_identifier=block)
    collateral = provider.functions.getUserReserveData(weth, wallet).call(block_identifier=block)[0]
    debt = provider.functions.getUserReserveData(usdt, wallet).call(block_identifier=block)[2]
    rate = provider.functions.getReserveData(usdt).call(block_identifier=block)[6]  # variableBorrowRate, ray
    return DevnetPosition(
        collateral_units=int(collateral),
        debt_units=int(debt),
        weth_price_base=int(oracle.functions.getAssetPrice(weth).call(block_identifier=block)),
        usdt_price_base=int(oracle.functions.getAssetPrice(usdt).call(block_identifier=block)),
        liquidation_threshold_bps=int(config[2]),
        liquidation_bonus_bps=int(config[3]),
        ltv_bps=int(config[1]),
        borrow_apr=D(int(rate)) / D(RAY),
    )


def set_emulator_book(exchange_url: str, symbol: str = "ETHUSDT", **profile: Any) -> dict[str, Any]:
    """POST the emulator's admin ``/depth`` (loopback only) and clear what takers ate."""
    body = json.dumps({"symbol": symbol, "reset": True, **profile}).encode()
    request = urllib.request.Request(
        exchange_url.rstrip("/") + "/_admin/depth",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# ---- the devnet's side: the daemon's journal -----------------------------------------------------------
def journal_batches(batches: list[BatchRow], steps: dict[str, list[StepRow]]) -> list[SideBatch]:
    out = []
    for b in batches:
        done = {s.step: s for s in steps[b.id] if s.status is StepStatus.OK}
        withdraw, sell = done.get("withdraw"), done.get("sell")
        repaid = sum((int(done[s].intent["amount"]) for s in ("repay_idle", "repay") if s in done), 0)
        out.append(
            SideBatch(
                withdrawn=D(int(withdraw.intent["amount"])).scaleb(-18) if withdraw else D(0),
                floor=D(sell.intent["floor_price"]) if sell else None,
                filled=D(sell.outcome["filled"]) if sell and sell.outcome else D(0),
                repaid=D(repaid).scaleb(-6),
            )
        )
    return out


# ---- the backtest's side --------------------------------------------------------------------------------
def staircase(
    start_price: Decimal, steps: tuple[Decimal, ...], *, t0: int = 1_760_000_000
) -> list[tuple[int, Decimal]]:
    """One flat bar at the start price, then each step held for ``STEP_S`` in 1-minute bars."""
    path = [(t0, start_price)]
    t = t0 + BAR_S
    for price in steps:
        for _ in range(STEP_S // BAR_S):
            path.append((t, price))
            t += BAR_S
    return path


def backtest_batches(
    position: DevnetPosition, steps: tuple[Decimal, ...], settings: BacktestSettings
) -> list[SideBatch]:
    start = D(position.weth_price_base).scaleb(-8)
    values = {
        **BACKTEST_MARKET,
        "rounding": "v3.0",
        "borrow_apr": str(position.borrow_apr),
    }
    replayed = replay_path(
        staircase(start, steps),
        settings,
        depth_usd_1pct=EMULATOR_BOOK["depth_usd_1pct"],
        deposit_delay_s=TRANSFER_S,
        withdrawal_delay_s=TRANSFER_S,
        collateral=D(position.collateral_units).scaleb(-18),
        start_hf=D(0),  # unused: the position is given
        position=position.backtest_position(),
        values=values,
    )
    return [_side(b) for b in replayed]


def _side(b: ReplayedBatch) -> SideBatch:
    return SideBatch(D(b.withdrawn_units).scaleb(-18), b.sell_floor, b.filled, D(b.repaid_units).scaleb(-6))


# ---- the comparison -----------------------------------------------------------------------------------
def withdrawal_gap(devnet: SideBatch, backtest: SideBatch) -> tuple[Decimal, bool]:
    """(relative difference, within 1 % or one lot step)."""
    diff = abs(devnet.withdrawn - backtest.withdrawn)
    rel = diff / devnet.withdrawn if devnet.withdrawn else (D(0) if not diff else D(1))
    return rel, rel <= D("0.01") or diff <= LOT


def floor_gap_bps(devnet: SideBatch, backtest: SideBatch) -> Decimal | None:
    if devnet.floor is None or backtest.floor is None:
        return None if devnet.floor is None and backtest.floor is None else D(10_000)
    return abs(devnet.floor - backtest.floor) / devnet.floor * 10_000

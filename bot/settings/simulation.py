"""The backtest's own knobs: the simulated market, the simulated chain and the planner's
assumptions a ``--set key=value`` may change. Defaults and bounds live here; the backtest
builds its typed params (``bot.backtest.market.MarketParams``, ``bot.backtest.runner.SimParams``)
from these models. A value out of range, NaN or infinite is refused with the key named.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from bot.settings.sections import FieldProblem
from bot.settings.types import FROZEN_STRICT

DAY_S = 86_400


def _real(lo: float | None = None, hi: float | None = None, *, open_lo: bool = False) -> object:
    bounds = {"gt" if open_lo else "ge": lo} if lo is not None else {}
    return Field(**bounds, le=hi, allow_inf_nan=False)


class MarketModelConfig(BaseModel):
    """The simulated exchange (``bot/backtest/market.py`` explains each term)."""

    model_config = FROZEN_STRICT

    depth_usd_1pct: Annotated[float, _real(0, 1e12, open_lo=True)] = 8_000_000.0
    depth_exponent: Annotated[float, _real(0, 5, open_lo=True)] = 0.5
    crash_depth_factor: Annotated[float, _real(0, 1, open_lo=True)] = 0.4
    drawdown_calm: Annotated[float, _real(0, 0.99)] = 0.03
    drawdown_crash: Annotated[float, _real(0, 1, open_lo=True)] = 0.15
    calm_vol_annual: Annotated[float, _real(0, 100, open_lo=True)] = 0.60
    vol_crash_multiple: Annotated[float, _real(1, 100, open_lo=True)] = 3.0
    refill_half_life_s: Annotated[float, _real(1, 30 * DAY_S)] = 600.0
    impact_coef: Annotated[float, _real(0, 10)] = 0.5  # Y of the square-root law
    impact_half_life_s: Annotated[float, _real(1, 365 * DAY_S)] = 86_400.0
    half_spread_bps: Annotated[float, _real(0, 1_000)] = 0.5
    level_step_bps: Annotated[float, _real(0.1, 1_000)] = 5.0
    book_max_bps: Annotated[float, _real(1, 9_900)] = 3_000.0  # the book ends 30 % below mid
    taker_fee_bps: Annotated[int, Field(ge=0, le=1_000)] = 10
    # Quote coins kept per withdrawal to chain (the emulator's USDT: 1).
    quote_withdrawal_fee: Annotated[Decimal, Field(ge=0, le=1_000_000, allow_inf_nan=False)] = Decimal(0)
    gas_gwei: Annotated[float, _real(0, 100_000)] = 30.0
    gas_eth_price_usd: Annotated[float, _real(0, 10_000_000, open_lo=True)] = 3_000.0  # gas on non-ETH pairs
    # Where the price (oracle and exchange mid) settles in a bar once its low has been visited.
    sell_price: Literal["close", "low", "open"] = "close"

    @model_validator(mode="after")
    def _ordered(self) -> MarketModelConfig:
        if self.drawdown_crash <= self.drawdown_calm:
            raise FieldProblem(("drawdown_crash",), f"must be greater than drawdown_calm ({self.drawdown_calm})")
        if self.level_step_bps > self.book_max_bps:
            raise FieldProblem(("level_step_bps",), f"must not exceed book_max_bps ({self.book_max_bps})")
        return self


class SimulationConfig(BaseModel):
    """The simulated chain and transfers."""

    model_config = FROZEN_STRICT

    borrow_apr: Annotated[Decimal, Field(ge=0, le=10, allow_inf_nan=False)] = Decimal("0.05")
    # Withdraw + transfer txs, exchange confirmations (Binance: 6 blocks), crediting.
    deposit_delay_s: Annotated[int, Field(ge=0, le=30 * DAY_S)] = 300
    withdrawal_delay_s: Annotated[int, Field(ge=0, le=30 * DAY_S)] = 600  # the quote's way back
    protocol_fee_bps: Annotated[int, Field(ge=0, le=10_000)] = 1_000
    # None: the collateral reserve's own (WETH 8300, WBTC 7800).
    liquidation_threshold_bps: Annotated[int, Field(ge=100, le=9_800)] | None = None
    liquidation_bonus_bps: Annotated[int, Field(ge=10_000, le=12_500)] | None = None
    rounding: Literal["v3.0", "v3.5"] = "v3.5"
    # The position's own caps where neither the config nor --set names `max_batch_usd` /
    # `max_daily_usd`: these shares of its collateral value at the first open, never below the
    # schema's `[limits]` (sized for a small book: $1M a day would take a month to unwind $30M).
    position_batch_share: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] = Decimal("0.05")
    position_daily_share: Annotated[Decimal, Field(gt=0, le=10, allow_inf_nan=False)] = Decimal("1")


class DexModelConfig(BaseModel):
    """The simulated DEX (``bot/backtest/dex.py``): Uniswap v3 pools shaped like the devnet's."""

    model_config = FROZEN_STRICT

    # Debt coins the pools of the pair pay out while the price falls 1 % (the devnet's default
    # depth, split 75/25 between the 0.05 % and 0.3 % tiers); 0: no DEX.
    dex_depth_usd: Annotated[Decimal, Field(ge=0, le=10**12, allow_inf_nan=False)] = Decimal(3_000_000)
    flash_premium_bps: Annotated[int, Field(ge=0, le=1_000)] = 5  # Aave v3's flash-loan premium
    # The one-shot baseline's slippage limit (a DeFi-Saver repay's): past it the swap reverts.
    one_shot_slippage_bps: Annotated[int, Field(ge=1, le=5_000)] = 100
    one_shot_service_fee_bps: Annotated[int, Field(ge=0, le=1_000)] = 30  # the automation's own fee


class PlannerAssumptions(BaseModel):
    """The planner's cost and market assumptions a backtest may override (None: the planner's own)."""

    model_config = FROZEN_STRICT

    gas_usd_per_batch: Annotated[Decimal, Field(ge=0, le=100_000, allow_inf_nan=False)] | None = None
    gas_usd_per_repay: Annotated[Decimal, Field(ge=0, le=100_000, allow_inf_nan=False)] | None = None
    exchange_withdrawal_fee: Annotated[Decimal, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = None
    shock_z: Annotated[Decimal, Field(ge=0, le=20, allow_inf_nan=False)] | None = None
    max_shock_bps: Annotated[int, Field(ge=0, lt=10_000)] | None = None
    vol_window_s: Annotated[int, Field(ge=1, le=30 * DAY_S)] | None = None


MAX_COLLATERAL_COINS = Decimal(10) ** 9  # more coins than any reserve holds: a typo, not a position


class PositionFile(BaseModel):
    """A backtest's starting position (``--position FILE``): whole coins of the pair's reserves."""

    model_config = FROZEN_STRICT

    collateral: Annotated[Decimal, Field(gt=0, le=MAX_COLLATERAL_COINS, allow_inf_nan=False)]
    debt: Annotated[Decimal, Field(ge=0, le=Decimal(10) ** 15, allow_inf_nan=False)]
    liquidation_threshold_bps: Annotated[int, Field(ge=100, le=9_800)] | None = None
    liquidation_bonus_bps: Annotated[int, Field(ge=10_000, le=12_500)] | None = None
    ltv_bps: Annotated[int, Field(ge=0, le=9_800)] | None = None

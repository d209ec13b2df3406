"""The planner's inputs (limits, costs, market model) and its output (Plan of Batches).

All frozen. Amounts are int base units of the Aave tokens (``*_units``) or Decimal whole
coins on the exchange; HFs are wads (``*_wad``) with Decimal views for display. ``to_dict``
gives the JSON shape of ``delever plan --json`` (decimals as strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import Enum
from typing import Any

from bot.domain import from_units, wad_to_decimal
from bot.domain.shock_table import ShockTable
from bot.domain.wadray import MAX_UINT256

D = Decimal


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """Hard limits (config ``[limits]``, built by ``bot.compose.configs.plan_limits``: the
    schema owns those values, so they have no defaults here). USD amounts are in the quote
    coin (≈ USD). The defaulted fields below are not settings."""

    hf_floor: Decimal  # HF never planned below this, at the shocked price
    max_slippage_bps: int  # sell floor = reference × (1 − cap)
    price_shock_bps: int  # the least shock δ the floor must survive while in transit
    max_batch_usd: Decimal | None  # None: no per-batch limit (a saved plan may have none)
    max_daily_usd: Decimal | None
    min_batch_usd: Decimal
    # Stablecoins in the wallet the bot may spend first and refill from the sale (0: none):
    # with it, unwind batches repay first and withdraw only what keeps HF at its start.
    buffer_usd: Decimal
    # Emergency batches, when hf_floor at the shocked price blocks every withdrawal, keep HF at
    # or above this at the shocked price instead (at or above hf_floor: none).
    emergency_hf_floor: Decimal
    emergency_after_s: int  # ... once blocked by the floor this long
    max_batch_qty: Decimal | None = None  # collateral coins
    max_daily_qty: Decimal | None = None
    sold_today_usd: Decimal = D("0")  # already sold in the snapshot's UTC day
    sold_today_qty: Decimal = D("0")
    floor_blocked_for_s: float = 0.0  # how long the daemon's plans have been blocked by the floor
    max_batches: int = 100

    def __post_init__(self) -> None:
        if self.hf_floor < 1:
            raise ValueError(f"hf_floor must be >= 1, got {self.hf_floor}")
        if not 0 < self.max_slippage_bps < 10_000:
            raise ValueError(f"max_slippage_bps must be in (0, 10000), got {self.max_slippage_bps}")
        if not 0 <= self.price_shock_bps < 10_000:
            raise ValueError(f"price_shock_bps must be in [0, 10000), got {self.price_shock_bps}")
        if self.buffer_usd < 0:
            raise ValueError(f"buffer_usd must be >= 0, got {self.buffer_usd}")
        if self.max_batches < 1:
            raise ValueError("max_batches must be >= 1")


@dataclass(frozen=True, slots=True)
class TransferTimings:
    """Expected seconds for each leg of one batch (the collateral is at risk in transit)."""

    withdraw_tx_s: int = 30  # Aave withdraw, confirmed
    deposit_s: int = 300  # to the exchange, until credited
    sell_s: int = 10
    exchange_withdrawal_s: int = 300  # quote coin back on chain
    repay_tx_s: int = 30

    @property
    def round_trip_s(self) -> int:
        return self.withdraw_tx_s + self.deposit_s + self.sell_s + self.exchange_withdrawal_s + self.repay_tx_s

    @property
    def idle_exchange_s(self) -> int:
        return self.exchange_withdrawal_s + self.repay_tx_s


@dataclass(frozen=True, slots=True)
class PlanCosts:
    gas_usd_per_batch: Decimal = D("15")  # withdraw + transfer + repay transactions, USD estimate
    gas_usd_per_repay: Decimal = D("5")  # an idle repay alone
    exchange_withdrawal_fee: Decimal = D("1")  # quote coins per withdrawal to chain
    taker_fee: Decimal | None = None  # fraction; None: from MarketRules (or 0.001)
    timings: TransferTimings = field(default_factory=TransferTimings)


@dataclass(frozen=True, slots=True)
class MarketModel:
    """Assumptions about the market the plan runs in.

    Book resilience: a batch eats the bids it walks; between batches the eaten quantity
    refills exponentially with ``refill_half_life_s`` (None: never refills — the most
    conservative). The reference price for the cap stays the decision-time reference.
    """

    shock_z: Decimal = D("3")  # δ = z · σ · √T_roundtrip, floored at limits.price_shock_bps
    vol_window_s: int = 86_400  # σ from the price history of the last day
    max_shock_bps: int = 5_000
    # δ from history instead of z·σ: the table's quantile worst fall over the round trip in the
    # regime of the recent σ (``bot.domain.shock_table``); the modes' composers always set it.
    shock_table: ShockTable | None = None
    refill_half_life_s: int | None = 300
    synthetic_depth_usd_1pct: Decimal = D("5000000")  # used when the snapshot has no book
    stable_symbols: frozenset[str] = frozenset(
        {"USDT", "USDC", "DAI", "USDS", "GHO", "FDUSD", "PYUSD", "USDE", "LUSD", "FRAX"}
    )
    collateral_coin: dict[str, str] = field(default_factory=lambda: {"WETH": "ETH", "WBTC": "BTC", "cbBTC": "BTC"})


class PlanStatus(str, Enum):
    NO_ACTION = "no_action"  # no debt, HF already at target, or nothing to do
    REACHES_TARGET = "reaches_target"
    PARTIAL = "partial"  # stops short of the target (limits, depth, sell cap): see stop_reason
    BLOCKED = "blocked"  # no withdrawal can keep the floor: needs outside action


@dataclass(frozen=True, slots=True)
class Batch:
    """One withdraw → sell → repay round (``kind == "unwind"``) or an idle repay (``"repay_idle"``)."""

    index: int
    kind: str
    collateral: str
    debt: str
    collateral_decimals: int
    debt_decimals: int
    withdraw_units: int  # also the quantity sold
    repay_units: int
    repay_all: bool  # repay the whole debt (executor: amount = MAX_UINT256)
    repay_from_wallet_units: int  # idle debt tokens in the wallet used by this batch
    repay_from_exchange_units: int  # idle quote coins on the exchange used by this batch
    reference_price: Decimal | None  # cap reference (decision-time book mid)
    floor_price: Decimal | None  # the IOC limit: nothing sells below it
    expected_price: Decimal | None  # walk average (gross)
    worst_price: Decimal | None  # lowest level touched
    slippage_bps: Decimal  # walk average vs reference
    gross_quote: Decimal
    fee_quote: Decimal  # taker fee + exchange withdrawal fee, quote coins
    gas_usd: Decimal
    shock_bps: int
    hf_before_wad: int
    hf_after_withdraw_wad: int
    hf_after_withdraw_shocked_wad: int  # what the floor is checked against
    hf_after_repay_wad: int
    start_s: int  # seconds after the snapshot
    duration_s: int
    limited_by: str  # which bound set the size (floor, depth, batch_limit, daily_limit, target, ...)
    shock_source: str = ""  # where shock_bps came from (the plan's shock_source)
    # "repay_first": repays from the wallet before it withdraws, and withdraws only what keeps
    # HF at its start price for price; "withdraw_first": withdraws under the HF floor first.
    order: str = "withdraw_first"
    refill_units: int = 0  # of what comes back, debt tokens kept in the wallet (the buffer)
    # "cex": the legs through the exchange; "dex": one atomic flash-loan deleverage on the pool
    # of ``dex_pool_fee`` selling at most ``dex_max_collateral_in_units`` (the slippage cap).
    route: str = "cex"
    route_reason: str = ""  # why this route, e.g. "dex: 0.31 % vs cex 0.42 %"
    dex_pool_fee: int = 0
    dex_max_collateral_in_units: int = 0
    # Planned under limits.emergency_hf_floor: hf_floor at the shocked price left no room.
    emergency: bool = False

    @property
    def withdraw_amount(self) -> Decimal:
        return from_units(self.withdraw_units, self.collateral_decimals)

    @property
    def repay_amount(self) -> Decimal:
        return from_units(self.repay_units, self.debt_decimals)

    @property
    def sell_qty(self) -> Decimal:
        """Coins to sell on the exchange: the withdrawn amount (a multiple of the lot step)."""
        return self.withdraw_amount

    @property
    def hf_after_withdraw(self) -> Decimal | None:
        return wad_to_decimal(self.hf_after_withdraw_wad)

    @property
    def hf_after_repay(self) -> Decimal | None:
        return wad_to_decimal(self.hf_after_repay_wad)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "collateral": self.collateral,
            "debt": self.debt,
            "withdraw_amount": _amount(self.withdraw_units, self.collateral_decimals),
            "withdraw_units": str(self.withdraw_units),
            "expected_price": _s(self.expected_price),
            "worst_price": _s(self.worst_price),
            "floor_price": _s(self.floor_price),
            "reference_price": _s(self.reference_price),
            "slippage_bps": str(self.slippage_bps),
            "gross_quote": str(self.gross_quote),
            "repay_amount": _amount(self.repay_units, self.debt_decimals),
            "repay_units": str(self.repay_units),
            "repay_all": self.repay_all,
            "repay_from_wallet": _amount(self.repay_from_wallet_units, self.debt_decimals),
            "repay_from_exchange": _amount(self.repay_from_exchange_units, self.debt_decimals),
            "hf_before": _hf(self.hf_before_wad),
            "hf_after_withdraw": _hf(self.hf_after_withdraw_wad),
            "hf_after_withdraw_shocked": _hf(self.hf_after_withdraw_shocked_wad),
            "hf_after_repay": _hf(self.hf_after_repay_wad),
            "shock_bps": self.shock_bps,
            "shock_source": self.shock_source,
            "fees": str(self.fee_quote),
            "gas_usd": str(self.gas_usd),
            "start_s": self.start_s,
            "duration_s": self.duration_s,
            "limited_by": self.limited_by,
            "order": self.order,
            "emergency": self.emergency,
            "refill_amount": _amount(self.refill_units, self.debt_decimals),
            "route": self.route,
            "route_reason": self.route_reason,
            **(
                {
                    "dex_pool_fee": self.dex_pool_fee,
                    "dex_max_collateral_in": _amount(self.dex_max_collateral_in_units, self.collateral_decimals),
                }
                if self.route == "dex"
                else {}
            ),
        }


@dataclass(frozen=True, slots=True)
class PlanTotals:
    withdraw_units: int = 0
    repay_units: int = 0
    gross_quote: Decimal = D(0)
    fees_quote: Decimal = D(0)
    gas_usd: Decimal = D(0)
    duration_s: int = 0
    avg_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    status: PlanStatus
    collateral: str
    debt: str
    collateral_decimals: int
    debt_decimals: int
    health_factor_wad: int
    target_hf: Decimal | None
    hf_floor: Decimal
    final_health_factor_wad: int
    batches: tuple[Batch, ...]
    totals: PlanTotals
    shock_bps: int
    volatility_daily: Decimal | None  # σ of daily log returns from price_history, when known
    oracle_price: Decimal | None
    reference_price: Decimal | None
    book_source: str  # "snapshot", "synthetic" or "none"
    stop_reason: str
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    reason: str = ""  # the intent's reason
    urgency: Decimal = D(0)
    market: str = ""  # the exchange symbol sold on, e.g. "ETH/USDT"
    # Which bound set shock_bps and from what: "volatility: σ from …", "floor: … (why)", "cap: …".
    shock_source: str = ""

    @property
    def health_factor(self) -> Decimal | None:
        return wad_to_decimal(self.health_factor_wad)

    @property
    def final_health_factor(self) -> Decimal | None:
        return wad_to_decimal(self.final_health_factor_wad)

    @property
    def blocked(self) -> bool:
        return self.status is PlanStatus.BLOCKED

    @property
    def next_batch(self) -> Batch | None:
        return self.batches[0] if self.batches else None

    def to_dict(self) -> dict[str, Any]:
        t = self.totals
        return {
            "status": self.status.value,
            "collateral": self.collateral,
            "debt": self.debt,
            "market": self.market,
            "health_factor": _hf(self.health_factor_wad),
            "target_health_factor": _s(self.target_hf),
            "hf_floor": str(self.hf_floor),
            "final_health_factor": _hf(self.final_health_factor_wad),
            "oracle_price": _s(self.oracle_price),
            "reference_price": _s(self.reference_price),
            "book_source": self.book_source,
            "shock_bps": self.shock_bps,
            "shock_source": self.shock_source,
            "volatility_daily": _s(self.volatility_daily),
            "urgency": str(self.urgency),
            "reason": self.reason,
            "stop_reason": self.stop_reason,
            "batches": [b.to_dict() for b in self.batches],
            "totals": {
                "withdraw_amount": _amount(t.withdraw_units, self.collateral_decimals),
                "repay_amount": _amount(t.repay_units, self.debt_decimals),
                "gross_quote": str(t.gross_quote),
                "avg_price": _s(t.avg_price),
                "fees": str(t.fees_quote),
                "gas_usd": str(t.gas_usd),
                "duration_s": t.duration_s,
                "batches": len(self.batches),
            },
            "fees": str(t.fees_quote),
            "gas_usd": str(t.gas_usd),
            "duration_s": t.duration_s,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _amount(units: int, decimals: int) -> str:
    """Whole-token string of a base-unit amount ("0" for nothing, not "0E-18")."""
    return "0" if units == 0 else str(from_units(units, decimals))


def _hf(value_wad: int) -> str | None:
    """HF as a decimal string (18 places, exact), None when there is no debt."""
    if value_wad == MAX_UINT256:
        return None
    return str(wad_to_decimal(value_wad))


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))

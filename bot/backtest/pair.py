"""Which market a backtest simulates: the exchange pair decides the Aave reserves and the
exchange's trading rules (ETH/USDT → WETH collateral against USDT debt, BTC/USDC → WBTC
against USDC, …).

Reserve parameters are Aave v3 Ethereum Core's (eMode 0, notes B1); an asset not listed
here is simulated as an 18-decimal collateral with WETH's risk parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bot.domain.position import Position, Reserve, Rounding
from bot.errors import UserInputError
from bot.ports import MarketRules

# Exchange coin → the ERC-20 Aave lists for it (a native coin is deposited wrapped).
WRAPPED = {"ETH": "WETH", "BTC": "WBTC"}


@dataclass(frozen=True, slots=True)
class ReserveParams:
    decimals: int
    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int


RESERVES = {
    "WETH": ReserveParams(18, 8_050, 8_300, 10_500),
    "WBTC": ReserveParams(8, 7_300, 7_800, 10_500),
    "USDT": ReserveParams(6, 7_500, 7_800, 10_450),
    "USDC": ReserveParams(6, 7_500, 7_800, 10_450),
    "DAI": ReserveParams(18, 6_300, 7_700, 10_500),
}
DEFAULT_COLLATERAL = RESERVES["WETH"]
DEFAULT_DEBT = RESERVES["USDT"]

# Lot sizes (Binance spot): the base quantity step and the smallest order.
LOT_STEP = {"BTC": Decimal("0.00001")}
DEFAULT_LOT_STEP = Decimal("0.0001")
TICK = Decimal("0.01")
MIN_NOTIONAL = Decimal("5")


@dataclass(frozen=True, slots=True)
class Pair:
    symbol: str  # unified exchange symbol, e.g. "ETH/USDT"
    base: str  # exchange coin sold, e.g. "ETH"
    quote: str  # exchange coin bought and withdrawn, e.g. "USDT"
    collateral: str  # Aave reserve withdrawn, e.g. "WETH"
    debt: str  # Aave reserve repaid, e.g. "USDT"

    @property
    def collateral_params(self) -> ReserveParams:
        return RESERVES.get(self.collateral, DEFAULT_COLLATERAL)

    @property
    def debt_params(self) -> ReserveParams:
        return RESERVES.get(self.debt, DEFAULT_DEBT)

    @property
    def collateral_decimals(self) -> int:
        return self.collateral_params.decimals

    @property
    def debt_decimals(self) -> int:
        return self.debt_params.decimals

    def rules(self, taker_fee: Decimal) -> MarketRules:
        step = LOT_STEP.get(self.base, DEFAULT_LOT_STEP)
        return MarketRules(self.symbol, self.base, self.quote, TICK, step, step, MIN_NOTIONAL, taker_fee)

    def position(
        self,
        *,
        collateral_units: int,
        debt_units: int,
        price_base: int,
        rounding: Rounding,
        liquidation_threshold_bps: int | None = None,
        liquidation_bonus_bps: int | None = None,
        ltv_bps: int | None = None,
    ) -> Position:
        """The simulated account: one collateral reserve against one debt reserve (1e8 = $1)."""
        c, d = self.collateral_params, self.debt_params
        return Position(
            (
                Reserve(
                    self.collateral,
                    c.decimals,
                    price_base,
                    ltv_bps or c.ltv_bps,
                    liquidation_threshold_bps or c.liquidation_threshold_bps,
                    liquidation_bonus_bps or c.liquidation_bonus_bps,
                    collateral=collateral_units,
                ),
                Reserve(
                    self.debt,
                    d.decimals,
                    10**8,
                    d.ltv_bps,
                    d.liquidation_threshold_bps,
                    d.liquidation_bonus_bps,
                    collateral=0,
                    debt=debt_units,
                ),
            ),
            rounding,
        )


def pair(symbol: str) -> Pair:
    """``"BTC/USDC"`` → the pair with its Aave reserves (WBTC, USDC)."""
    base, sep, quote = symbol.upper().partition("/")
    if not sep or not re.fullmatch(r"[A-Z0-9]{2,15}", base) or not re.fullmatch(r"[A-Z0-9]{2,15}", quote):
        raise UserInputError(f"bad pair {symbol!r}: use BASE/QUOTE, e.g. ETH/USDT")
    return Pair(f"{base}/{quote}", base, quote, WRAPPED.get(base, base), quote)


ETH_USDT = pair("ETH/USDT")

# Shipped slices (eth_usd_5m_….csv: USD-quoted, simulated as USDT) and cached downloads
# (<exchange>/ETH_USDT-1m.csv) name their pair.
_SHIPPED = re.compile(r"^(?P<base>[a-z0-9]+)_usd_\d+[mhd]_")
_CACHED = re.compile(r"^(?P<base>[A-Z0-9]+)_(?P<quote>[A-Z0-9]+)-\d+[mhd]$")


def pair_of_file(path: str | Path) -> Pair | None:
    """The pair a candle file's name gives, or None when the name says nothing."""
    p = Path(path)
    if m := _SHIPPED.match(p.name):
        return pair(f"{m['base'].upper()}/USDT")
    if m := _CACHED.match(p.stem):
        return pair(f"{m['base']}/{m['quote']}")
    return None

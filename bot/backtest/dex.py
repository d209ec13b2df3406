"""The DEX route in the backtest: ``SimDex`` (``bot.ports.Dex``) over the simulated world.

One atomic flash-loan deleverage, as the project's adapter contract does it: flash-borrow the
debt, repay, withdraw the collateral, swap it on one Uniswap v3 pool for exactly the loan plus
Aave's premium, repay the loan. It changes the position in one step, so nothing is in transit
and HF only rises; past the slippage cap, or when HF would not rise, it reverts: FAILED, and
nothing changes (the pre-flight simulation spends no gas).

The pools are ``bot.domain.dex_depth`` ladders at the oracle price: arbitrageurs bring them back
to it every bar, and liquidity providers follow the price. Within a bar a swap's own impact
stays: a second swap on the same pool starts where the first left the price.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal

from bot.backtest.adapters import Move, SimWorld, record_fill
from bot.backtest.market import GAS_UNITS
from bot.domain.dex_depth import DepthProfile, Pool, Swap, exact_output, pool_at
from bot.domain.position import from_units, health_factor_wad
from bot.domain.wadray import percent_mul
from bot.ports import DexQuote, Outcome, TxResult
from bot.settings.simulation import DexModelConfig

GAS_KIND = "flashloan_repay"  # flash loan, repay, pull aTokens, withdraw, swap: one transaction
DEX_MOVE = "dex"
SOURCE = "depth model"
_DEX = DexModelConfig()  # defaults and bounds live in the settings schema


@dataclass(frozen=True)
class DexParams:
    """The simulated DEX's typed params (``bot.settings.simulation.DexModelConfig``)."""

    depth_usd: Decimal = _DEX.dex_depth_usd  # 0: no DEX
    flash_premium_bps: int = _DEX.flash_premium_bps
    one_shot_slippage_bps: int = _DEX.one_shot_slippage_bps
    one_shot_service_fee_bps: int = _DEX.one_shot_service_fee_bps

    @classmethod
    def from_config(cls, config: DexModelConfig) -> DexParams:
        return cls(
            config.dex_depth_usd,
            config.flash_premium_bps,
            config.one_shot_slippage_bps,
            config.one_shot_service_fee_bps,
        )

    def build(self, world: SimWorld) -> SimDex | None:
        """The DEX of a run (None: no pools)."""
        if self.depth_usd <= 0:
            return None
        return SimDex(world, profile=DepthProfile(self.depth_usd), flash_premium_bps=self.flash_premium_bps)


class SimDex:
    """``Dex`` over ``world``'s position and wallet; keys share the simulated chain's record."""

    def __init__(self, world: SimWorld, *, profile: DepthProfile, flash_premium_bps: int) -> None:
        self.w = world
        self.profile = profile
        self.flash_premium_bps = flash_premium_bps
        self._moved: dict[int, tuple[int, Decimal]] = {}  # fee -> (bar, √price a swap left it at)
        self._pools: dict[int, tuple[Decimal, Pool]] = {}  # fee -> (price, the pool at it)

    def __repr__(self) -> str:
        return f"SimDex(depth={self.profile.usd_within_1pct}, premium_bps={self.flash_premium_bps})"

    @property
    def fees(self) -> tuple[int, ...]:
        return tuple(fee for fee, _share in self.profile.fee_shares)

    def pool(self, fee: int) -> Pool:
        """The fee tier's pool now: at the oracle, unless a swap moved it earlier in this bar."""
        p = self.w.pair
        pos = self.w.position
        price = Decimal(pos.reserve(p.collateral).price) / Decimal(pos.reserve(p.debt).price)
        cached = self._pools.get(fee)
        if cached is not None and cached[0] == price:
            pool = cached[1]
        else:
            pool = pool_at(price, self.profile, fee)
            self._pools[fee] = (price, pool)
        moved = self._moved.get(fee)
        if moved is not None and moved[0] == self.w.bar:
            return Pool(fee, moved[1], pool.ranges)
        return pool

    def premium(self, repay_units: int) -> int:
        return percent_mul(repay_units, self.flash_premium_bps)

    def _swap(self, fee: int, repay_units: int) -> tuple[Pool, Swap, int] | None:
        """The pool, the swap buying ``repay_units`` + premium, and its collateral in base units."""
        if self.profile.usd_within_1pct <= 0 or repay_units <= 0:
            return None
        pool = self.pool(fee)
        swap = exact_output(pool, from_units(repay_units + self.premium(repay_units), self.w.pair.debt_decimals))
        if swap is None:
            return None
        return pool, swap, math.ceil(swap.collateral_in * 10**self.w.pair.collateral_decimals)

    def swap_units(self, fee: int, repay_units: int) -> int | None:
        """Collateral base units the ``fee`` pool takes now for ``repay_units`` + premium."""
        priced = self._swap(fee, repay_units)
        return None if priced is None else priced[2]

    def quote(self, *, collateral: str, debt: str, repay_units: int) -> DexQuote | None:
        priced = [(fee, s) for fee in self.fees if (s := self._swap(fee, repay_units)) is not None]
        if not priced:
            return None
        fee, (_pool, _swap, units) = min(priced, key=lambda item: item[1][2])
        return self._quote(collateral, debt, repay_units, fee, units)

    def pool_quote(self, *, collateral: str, debt: str, repay_units: int, pool_fee: int) -> DexQuote | None:
        units = self.swap_units(pool_fee, repay_units) if pool_fee in self.fees else None
        return None if units is None else self._quote(collateral, debt, repay_units, pool_fee, units)

    def _quote(self, collateral: str, debt: str, repay_units: int, fee: int, units: int) -> DexQuote:
        return DexQuote(
            collateral=collateral,
            debt=debt,
            repay_units=repay_units,
            collateral_in_units=units,
            flash_premium_units=self.premium(repay_units),
            pool_fee=fee,
            gas_units=GAS_UNITS[GAS_KIND],
            source=SOURCE,
        )

    def atomic_deleverage(
        self, *, key: str, collateral: str, debt: str, repay_units: int, max_collateral_in_units: int, pool_fee: int
    ) -> TxResult:
        w = self.w
        if key in w.txs:
            return w.txs[key]  # one key, one transaction: reconciled, never re-sent
        w.sync()
        p = w.pair
        if (collateral, debt) != (p.collateral, p.debt) or pool_fee not in self.fees:
            return self._record(key, Outcome.FAILED, f"no {collateral}/{debt} pool with fee {pool_fee}")
        owed = w.debt_now().balance
        if owed == 0:
            return self._record(key, Outcome.FAILED, "no debt")
        priced = self._swap(pool_fee, repay_units)
        if priced is None:
            return self._record(key, Outcome.FAILED, "the pool cannot pay the repay: reverted")
        _pool, swap, units_in = priced
        if units_in > max_collateral_in_units:
            return self._record(key, Outcome.FAILED, "the pool's price is past the slippage cap: reverted")
        supplied = w.position.reserve(collateral).collateral
        if units_in > supplied:
            return self._record(key, Outcome.FAILED, f"the swap needs more {collateral} than is supplied: reverted")
        paid = min(repay_units, owed)
        before = health_factor_wad(w.position)
        debt_after = w.debt_now().repaid(paid)
        after = w.position.with_reserve(collateral, collateral=supplied - units_in).with_reserve(
            debt, debt=debt_after.balance
        )
        if debt_after.balance > 0 and health_factor_wad(after) <= before:
            return self._record(key, Outcome.FAILED, "the health factor would not rise: reverted")

        record = w.batch_record(key)
        if w.ledger.arrival_price is None:
            w.ledger.arrival_price = from_units(w.oracle_base, 8)
        w.position, w.debt = after, debt_after
        w.wallet[debt] += repay_units - paid  # the adapter returns what the repay did not take
        w.ledger.debt_repaid_units += paid
        w.ledger.batches.append((int(w.now), units_in))
        w.pay_gas(GAS_KIND)
        sold = from_units(units_in, p.collateral_decimals)
        premium = from_units(self.premium(repay_units), p.debt_decimals)
        record_fill(w, sold, swap.debt_out, premium, record)
        record.withdrawn += sold
        record.repaid += from_units(paid, p.debt_decimals)
        record.hf_after = w.hf_decimal()
        w.moves.append(Move(int(w.now), key, DEX_MOVE, sold))
        self._moved[pool_fee] = (w.bar, swap.end_sqrt_price)
        w.event(
            int(w.now),
            "batch",
            f"atomic deleverage: {sold} {collateral} on the {pool_fee} pool, repay {from_units(paid, p.debt_decimals)}"
            f" {debt}",
        )
        w.checkpoint()
        return self._record(key, Outcome.OK)

    def lookup(self, key: str) -> TxResult | None:
        return self.w.txs.get(key)

    def _record(self, key: str, outcome: Outcome, error: str | None = None) -> TxResult:
        """Like the simulated lending's: a revert is recorded under its key too (the executor
        reads it back and does not send again)."""
        tx_hash = "0x" + hashlib.sha256(key.encode()).hexdigest() if outcome is Outcome.OK else None
        result = TxResult(key=key, outcome=outcome, tx_hash=tx_hash, block=self.w.bar, error=error)
        self.w.txs[key] = result
        return result

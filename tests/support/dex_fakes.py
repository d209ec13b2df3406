"""A strict fake of the ``Dex`` port over the ``FakeWorld``: one pool priced at the oracle with
a fixed cost (fee + impact, bps) and Aave's flash premium.

Like ``FakeLending``'s writes, ``atomic_deleverage`` is strict: a second call under a key that
already took effect makes a SECOND effect, so an executor that re-sends instead of looking the
key up is caught. Faults come from ``world.fault("atomic_deleverage", ...)``.
"""

from __future__ import annotations

from decimal import Decimal

from bot.domain.position import to_units
from bot.ports import DexQuote, TxResult
from tests.support.fakes import FakeLending, FakeTx, FakeWorld


class FakeDex:
    def __init__(self, world: FakeWorld, *, cost_bps: int = 30, premium_bps: int = 5, pool_fee: int = 500) -> None:
        self.w = world
        self.cost_bps = cost_bps
        self.premium_bps = premium_bps
        self.pool_fee = pool_fee
        self.quotes: list[int] = []  # the repays quoted
        self._chain = FakeLending(world)

    def _price(self, collateral: str, debt: str) -> Decimal:
        return Decimal(self.w.reserve(collateral).price) / Decimal(self.w.reserve(debt).price)

    def _collateral_in(self, collateral: str, debt: str, bought_units: int) -> int:
        c, d = self.w.reserve(collateral), self.w.reserve(debt)
        coins = Decimal(bought_units) / Decimal(10**d.decimals) / self._price(collateral, debt)
        return to_units(coins * (1 + Decimal(self.cost_bps) / 10_000), c.decimals) + 1

    def quote(self, *, collateral: str, debt: str, repay_units: int) -> DexQuote | None:
        self.quotes.append(repay_units)
        premium = (repay_units * self.premium_bps + 5_000) // 10_000
        return DexQuote(
            collateral=collateral,
            debt=debt,
            repay_units=repay_units,
            collateral_in_units=self._collateral_in(collateral, debt, repay_units + premium),
            flash_premium_units=premium,
            pool_fee=self.pool_fee,
            gas_units=450_000,
            source="fake pool",
        )

    def pool_quote(self, *, collateral: str, debt: str, repay_units: int, pool_fee: int) -> DexQuote | None:
        return (
            self.quote(collateral=collateral, debt=debt, repay_units=repay_units) if pool_fee == self.pool_fee else None
        )

    def atomic_deleverage(
        self, *, key: str, collateral: str, debt: str, repay_units: int, max_collateral_in_units: int, pool_fee: int
    ) -> TxResult:
        def effect() -> FakeTx:
            premium = (repay_units * self.premium_bps + 5_000) // 10_000
            sold = self._collateral_in(collateral, debt, repay_units + premium)
            if sold > max_collateral_in_units:
                return self._chain._tx(key, "atomic", collateral, sold, None, ok=False, error="SwapFailed: STF")
            debt_now = self.w.reserve(debt).debt
            self.w.set_reserve(debt, debt=debt_now - min(repay_units, debt_now))
            self.w.set_reserve(collateral, collateral=self.w.reserve(collateral).collateral - sold)
            return self._chain._tx(key, "atomic", collateral, sold, None)

        return self._chain._write("atomic_deleverage", key, effect)

    def lookup(self, key: str) -> TxResult | None:
        return self._chain.lookup(key)

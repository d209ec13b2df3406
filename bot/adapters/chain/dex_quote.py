"""The ``Dex`` port on chain: quotes through Uniswap v3's QuoterV2, the deleverage through
``DexRoute`` and the lending's tx sender.

A quote is an ``eth_call`` of ``quoteExactOutputSingle`` for the loan plus the flash premium,
once per configured fee tier; the pool that takes the least collateral wins. The premium is
the Aave Pool's ``FLASHLOAN_PREMIUM_TOTAL`` (bps of the loan, rounded half up like Aave's
``percentMul``). A tier without a pool (or without the liquidity to return the amount)
reverts in the quoter and is simply not a candidate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from web3 import Web3
from web3.exceptions import ContractLogicError

from bot.adapters.chain.aave_lending import AaveLending
from bot.adapters.chain.aave_reader import AaveReader
from bot.adapters.chain.abis import Fn
from bot.adapters.chain.dex_route import DexRoute
from bot.adapters.chain.rpc import retrying_read
from bot.errors import GuardRefused
from bot.ports import DexQuote, TxResult

log = logging.getLogger(__name__)

QUOTE_EXACT_OUTPUT_SINGLE = Fn(
    "quoteExactOutputSingle((address,address,uint256,uint24,uint160))", ("uint256", "uint160", "uint32", "uint256")
)  # amountIn, sqrtPriceX96After, initializedTicksCrossed, gasEstimate
FLASHLOAN_PREMIUM_TOTAL = Fn("FLASHLOAN_PREMIUM_TOTAL()", ("uint128",))
# The deleverage around its swap: flash loan, repay, aToken pull, withdraw, supply back, checks
# (measured on the devnet: ~330k without the swap); an approval on top when none stands.
DELEVERAGE_GAS_BEYOND_SWAP = 350_000


def flash_premium_units(amount: int, premium_bps: int) -> int:
    """Aave's ``percentMul``: half up, in the loan's units."""
    return (amount * premium_bps + 5_000) // 10_000


class ChainDex:
    """The DEX route for the wallet of ``lending`` (the adapter's owner); quotes only (every
    write refused) when ``lending`` does not sign."""

    def __init__(
        self,
        w3: Web3,
        reader: AaveReader,
        *,
        adapter: str,
        quoter: str,
        fee_tiers: Sequence[int],
        lending: AaveLending | None = None,
    ) -> None:
        self.w3 = w3
        self.reader = reader
        self.lending = lending
        self.adapter = Web3.to_checksum_address(adapter)
        self.route = DexRoute(w3, lending, adapter) if lending is not None else None
        self.quoter = Web3.to_checksum_address(quoter)
        self.fee_tiers = tuple(fee_tiers)

    def __repr__(self) -> str:
        return f"ChainDex(adapter={self.adapter}, quoter={self.quoter}, fee_tiers={self.fee_tiers})"

    def premium_bps(self) -> int:
        pool = self.reader.market().pool
        raw = self._call(pool, FLASHLOAN_PREMIUM_TOTAL.encode(), "pool.FLASHLOAN_PREMIUM_TOTAL")
        return int(FLASHLOAN_PREMIUM_TOTAL.decode(raw)[0])

    def quote(self, *, collateral: str, debt: str, repay_units: int) -> DexQuote | None:
        if repay_units <= 0:
            return None
        premium = flash_premium_units(repay_units, self.premium_bps())
        best: DexQuote | None = None
        for fee in self.fee_tiers:
            candidate = self._pool_quote(collateral, debt, repay_units, premium, fee)
            if candidate is not None and (best is None or candidate.collateral_in_units < best.collateral_in_units):
                best = candidate
        return best

    def pool_quote(self, *, collateral: str, debt: str, repay_units: int, pool_fee: int) -> DexQuote | None:
        """The price of the pool of ``pool_fee`` alone; None when it cannot return the repay."""
        if repay_units <= 0:
            return None
        return self._pool_quote(
            collateral, debt, repay_units, flash_premium_units(repay_units, self.premium_bps()), pool_fee
        )

    def _pool_quote(self, collateral: str, debt: str, repay_units: int, premium: int, fee: int) -> DexQuote | None:
        market = self.reader.market()
        token_in, token_out = market.reserve(collateral).asset, market.reserve(debt).asset
        data = QUOTE_EXACT_OUTPUT_SINGLE.encode((token_in, token_out, repay_units + premium, fee, 0))
        try:
            raw = self._call(self.quoter, data, f"quoter.quoteExactOutputSingle(fee {fee})")
        except ContractLogicError:
            return None  # no pool at this tier, or not enough liquidity to return the amount
        amount_in, _, _, swap_gas = QUOTE_EXACT_OUTPUT_SINGLE.decode(raw)
        return DexQuote(
            collateral=collateral,
            debt=debt,
            repay_units=repay_units,
            collateral_in_units=int(amount_in),
            flash_premium_units=premium,
            pool_fee=fee,
            gas_units=int(swap_gas) + DELEVERAGE_GAS_BEYOND_SWAP,
            source="quoter (QuoterV2 on chain)",
        )

    def atomic_deleverage(
        self, *, key: str, collateral: str, debt: str, repay_units: int, max_collateral_in_units: int, pool_fee: int
    ) -> TxResult:
        if self.route is None:
            raise GuardRefused("the DEX route here only quotes: this mode signs nothing", reason="read_only")
        return self.route.atomic_deleverage(
            key=key,
            collateral=collateral,
            debt=debt,
            repay_units=repay_units,
            max_collateral_in_units=max_collateral_in_units,
            pool_fee=pool_fee,
        )

    def lookup(self, key: str) -> TxResult | None:
        return None if self.lending is None else self.lending.lookup(key)

    def _call(self, to: str, data: bytes, what: str) -> bytes:
        call = {"to": to, "data": "0x" + data.hex()}
        return bytes(retrying_read(lambda: self.w3.eth.call(call, "latest"), what=what))  # type: ignore[arg-type]

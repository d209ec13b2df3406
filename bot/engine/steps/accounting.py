"""What a batch moved, read from its journal rows; each step fills in its own part."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.engine.journal import StepStatus


@dataclass(frozen=True, slots=True)
class BatchAccounting:
    statuses: tuple[tuple[str, StepStatus], ...]  # every journalled step, in journal order
    withdrawn_units: int | None = None  # collateral withdrawn from the pool
    withdraw_skipped: str | None = None  # why the withdrawal was skipped, when it was
    credited: Decimal | None = None  # what the exchange credited of the deposit
    sold_filled: Decimal | None = None
    gross_quote: Decimal | None = None
    fee_quote: Decimal | None = None
    net_quote: Decimal | None = None
    quote_arrived_units: int | None = None  # the debt token that landed in the wallet
    repay_requested_units: tuple[int, ...] = ()  # idle repay first, then the batch's repay
    hf_before_wad: int | None = None  # from verify, once it ran
    hf_after_wad: int | None = None
    improved: bool | None = None
    # The DEX route's atomic deleverage, when the batch took it.
    dex_collateral_sold_units: int | None = None
    dex_debt_repaid_units: int | None = None
    dex_pool_fee: int | None = None
    dex_gas_used: int | None = None
    dex_gas_cost_wei: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The batch's journalled outcome: strings for Decimals and base units."""
        out: dict[str, Any] = {"steps": {name: status.value for name, status in self.statuses}}
        if self.withdrawn_units is not None:
            out["withdrawn_units"] = str(self.withdrawn_units)
        if self.credited is not None:
            out["credited"] = str(self.credited)
        if self.sold_filled is not None:
            out["sold_filled"] = str(self.sold_filled)
            out["gross_quote"] = str(self.gross_quote)
            out["fee_quote"] = str(self.fee_quote)
            out["net_quote"] = str(self.net_quote)
        if self.quote_arrived_units is not None:
            out["quote_arrived_units"] = str(self.quote_arrived_units)
        if self.repay_requested_units:
            out["repay_requested_units"] = [str(a) for a in self.repay_requested_units]
        if self.dex_collateral_sold_units is not None:
            out["route"] = "dex"
            out["dex_collateral_sold_units"] = str(self.dex_collateral_sold_units)
            out["dex_debt_repaid_units"] = str(self.dex_debt_repaid_units)
            out["dex_pool_fee"] = self.dex_pool_fee
            out["dex_gas_used"] = self.dex_gas_used
            out["dex_gas_cost_wei"] = None if self.dex_gas_cost_wei is None else str(self.dex_gas_cost_wei)
        if self.hf_after_wad is not None:
            out["hf_before_wad"], out["hf_after_wad"] = str(self.hf_before_wad), str(self.hf_after_wad)
        return out

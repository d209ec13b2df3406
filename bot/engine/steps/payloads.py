"""One frozen intent and one frozen outcome type per step, and their journal form.

The journal stores JSON with ints and Decimal strings; ``to_payload`` writes exactly the keys
the journal has always held (a journal written by an earlier version still resumes), and
``from_payload`` reads them back. Amounts on chain are ints in base units; amounts on the
exchange are Decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, Self

from bot.ports import SellResult, Transfer, TransferState, TxResult


class Payload(Protocol):
    """What a step journals: written with ``to_payload``, read back with ``from_payload``."""

    def to_payload(self) -> dict[str, Any]: ...

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self: ...


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


# ---- on chain ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepayIntent:
    """Repay ``amount`` (MAX_UINT256: all of it) of ``symbol``; repay_idle and repay."""

    symbol: str
    amount: int
    wallet_balance: int
    debt_before: int

    def to_payload(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "amount": str(self.amount),
            "wallet_balance": str(self.wallet_balance),
            "debt_before": str(self.debt_before),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(
            payload["symbol"], int(payload["amount"]), int(payload["wallet_balance"]), int(payload["debt_before"])
        )


@dataclass(frozen=True, slots=True)
class WithdrawIntent:
    symbol: str
    amount: int
    hf_before_wad: int

    def to_payload(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "amount": str(self.amount), "hf_before_wad": str(self.hf_before_wad)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(payload["symbol"], int(payload["amount"]), int(payload["hf_before_wad"]))


@dataclass(frozen=True, slots=True)
class UnwrapIntent:
    amount: int

    def to_payload(self) -> dict[str, Any]:
        return {"amount": str(self.amount)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(int(payload["amount"]))


@dataclass(frozen=True, slots=True)
class DepositIntent:
    """Send ``amount`` of ``symbol`` to the exchange's deposit address ``to`` for ``coin``."""

    symbol: str
    amount: int
    to: str
    coin: str

    def to_payload(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "amount": str(self.amount), "to": self.to, "coin": self.coin}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(payload["symbol"], int(payload["amount"]), payload["to"], payload["coin"])


@dataclass(frozen=True, slots=True)
class TxOutcome:
    """A final transaction; ``error`` is set (and journalled) only when it failed."""

    tx_hash: str | None
    block: int | None
    nonce: int | None
    gas_used: int | None
    gas_cost_wei: int | None
    error: str | None = None

    @classmethod
    def from_result(cls, result: TxResult, *, error: str | None = None) -> Self:
        return cls(result.tx_hash, result.block, result.nonce, result.gas_used, result.gas_cost_wei, error)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "tx_hash": self.tx_hash,
            "block": self.block,
            "nonce": self.nonce,
            "gas_used": self.gas_used,
            "gas_cost_wei": self.gas_cost_wei,
        }
        if self.error is not None:
            payload["error"] = self.error
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(
            payload.get("tx_hash"),
            _opt_int(payload.get("block")),
            _opt_int(payload.get("nonce")),
            _opt_int(payload.get("gas_used")),
            _opt_int(payload.get("gas_cost_wei")),
            payload.get("error"),
        )


# ---- transfers between chain and exchange ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    """A deposit credit or an exchange withdrawal as the exchange reports it."""

    state: TransferState
    txid: str | None
    amount: Decimal
    fee: Decimal
    coin: str

    @classmethod
    def from_transfer(cls, t: Transfer) -> Self:
        return cls(t.state, t.txid, t.amount, t.fee, t.coin)

    def to_payload(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "txid": self.txid,
            "amount": str(self.amount),
            "fee": str(self.fee),
            "coin": self.coin,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(
            TransferState(payload["state"]),
            payload.get("txid"),
            _dec(payload["amount"]),
            _dec(payload["fee"]),
            payload["coin"],
        )


@dataclass(frozen=True, slots=True)
class AwaitDepositIntent:
    coin: str
    txid: str  # the deposit transaction's hash
    deposit_key: str
    expected: Decimal

    def to_payload(self) -> dict[str, Any]:
        return {"coin": self.coin, "txid": self.txid, "deposit_key": self.deposit_key, "expected": str(self.expected)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(payload["coin"], payload["txid"], payload["deposit_key"], _dec(payload["expected"]))


@dataclass(frozen=True, slots=True)
class DepositCreditOutcome:
    """The exchange's credit; ``confirmed_block`` is the deposit's block once credited."""

    transfer: TransferOutcome
    confirmed_block: int | None = None

    def to_payload(self) -> dict[str, Any]:
        payload = self.transfer.to_payload()
        if self.confirmed_block is not None:
            payload["confirmed_block"] = self.confirmed_block
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(TransferOutcome.from_payload(payload), _opt_int(payload.get("confirmed_block")))


@dataclass(frozen=True, slots=True)
class WithdrawQuoteIntent:
    coin: str
    amount: Decimal
    address: str
    network: str
    wallet_balance_before: int  # the debt token in the wallet, base units
    # The exchange's free balance before: a debit without a history entry means it happened.
    exchange_free_before: Decimal | None

    def to_payload(self) -> dict[str, Any]:
        payload = {
            "coin": self.coin,
            "amount": str(self.amount),
            "address": self.address,
            "network": self.network,
            "wallet_balance_before": str(self.wallet_balance_before),
        }
        if self.exchange_free_before is not None:
            payload["exchange_free_before"] = str(self.exchange_free_before)
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        before = payload.get("exchange_free_before")
        return cls(
            payload["coin"],
            _dec(payload["amount"]),
            payload["address"],
            payload["network"],
            int(payload["wallet_balance_before"]),
            None if before is None else _dec(before),
        )


@dataclass(frozen=True, slots=True)
class AwaitQuoteIntent:
    coin: str
    withdraw_key: str
    wallet_balance_before: int

    def to_payload(self) -> dict[str, Any]:
        return {
            "coin": self.coin,
            "withdraw_key": self.withdraw_key,
            "wallet_balance_before": str(self.wallet_balance_before),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(payload["coin"], payload["withdraw_key"], int(payload["wallet_balance_before"]))


@dataclass(frozen=True, slots=True)
class QuoteArrivalOutcome:
    """The exchange withdrawal, and once it landed: what arrived and the wallet's balance."""

    transfer: TransferOutcome
    arrived_units: int | None = None
    wallet_balance: int | None = None

    def to_payload(self) -> dict[str, Any]:
        payload = self.transfer.to_payload()
        if self.arrived_units is not None:
            payload["arrived_units"] = str(self.arrived_units)
        if self.wallet_balance is not None:
            payload["wallet_balance"] = str(self.wallet_balance)
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(
            TransferOutcome.from_payload(payload),
            _opt_int(payload.get("arrived_units")),
            _opt_int(payload.get("wallet_balance")),
        )


# ---- on the exchange ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SellIntent:
    """Sell ``qty`` at no less than ``floor_price``; the rest is the record of why that floor."""

    symbol: str
    qty: Decimal
    floor_price: Decimal
    reference: Decimal
    best_bid: Decimal
    oracle: Decimal
    mid: Decimal

    def to_payload(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "qty": str(self.qty),
            "floor_price": str(self.floor_price),
            "reference": str(self.reference),
            "best_bid": str(self.best_bid),
            "oracle": str(self.oracle),
            "mid": str(self.mid),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(
            payload["symbol"],
            _dec(payload["qty"]),
            _dec(payload["floor_price"]),
            _dec(payload["reference"]),
            _dec(payload["best_bid"]),
            _dec(payload["oracle"]),
            _dec(payload["mid"]),
        )


@dataclass(frozen=True, slots=True)
class SellOutcome:
    requested: Decimal
    filled: Decimal
    gross_quote: Decimal
    fee_quote: Decimal
    net_quote: Decimal
    client_order_ids: tuple[str, ...]
    exhausted: bool

    @classmethod
    def from_result(cls, r: SellResult) -> Self:
        return cls(
            r.requested, r.filled, r.gross_quote, r.fee_quote, r.net_quote, tuple(r.client_order_ids), r.exhausted
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "requested": str(self.requested),
            "filled": str(self.filled),
            "gross_quote": str(self.gross_quote),
            "fee_quote": str(self.fee_quote),
            "net_quote": str(self.net_quote),
            "client_order_ids": list(self.client_order_ids),
            "exhausted": self.exhausted,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(
            _dec(payload["requested"]),
            _dec(payload["filled"]),
            _dec(payload["gross_quote"]),
            _dec(payload["fee_quote"]),
            _dec(payload["net_quote"]),
            tuple(payload["client_order_ids"]),
            bool(payload["exhausted"]),
        )


# ---- the check ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyIntent:
    hf_before_wad: int
    moved: tuple[str, ...]  # the steps that moved funds

    def to_payload(self) -> dict[str, Any]:
        return {"hf_before_wad": str(self.hf_before_wad), "moved": list(self.moved)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(int(payload["hf_before_wad"]), tuple(payload["moved"]))


@dataclass(frozen=True, slots=True)
class VerifyOutcome:
    hf_before_wad: int
    hf_after_wad: int
    improved: bool
    # Collateral the sell left on the exchange when that alone explains why HF did not rise.
    unsold_on_exchange: Decimal | None = None

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hf_before_wad": str(self.hf_before_wad),
            "hf_after_wad": str(self.hf_after_wad),
            "improved": self.improved,
        }
        if self.unsold_on_exchange is not None:
            out["unsold_on_exchange"] = str(self.unsold_on_exchange)
        return out

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        unsold = payload.get("unsold_on_exchange")
        return cls(
            int(payload["hf_before_wad"]),
            int(payload["hf_after_wad"]),
            bool(payload["improved"]),
            None if unsold is None else Decimal(unsold),
        )

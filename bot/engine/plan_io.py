"""Snapshots and plan inputs as JSON, exactly: a saved file replays to the identical plan.

Base-unit amounts and prices are written as decimal-digit strings (exact in any JSON reader),
human amounts as Decimal strings, small counts (decimals, bps, block, time) as JSON ints.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.domain import Level, OrderBook, Position, Reserve, Rounding, Snapshot
from bot.engine.plan_types import MarketModel, PlanCosts, PlanLimits
from bot.errors import UserInputError
from bot.ports import MarketRules
from strategies.base import Intent

FORMAT = "delever.plan-input"
VERSION = 1


# --- snapshot -------------------------------------------------------------------------------


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    pos = snapshot.position
    return {
        "block": snapshot.block,
        "timestamp": snapshot.timestamp,
        "chain_id": snapshot.chain_id,
        "wallet": snapshot.wallet,
        "position": {
            "rounding": pos.rounding.value,
            "base_unit": str(pos.base_unit),
            "reserves": [
                {
                    "symbol": r.symbol,
                    "decimals": r.decimals,
                    "price": str(r.price),
                    "ltv_bps": r.ltv_bps,
                    "liquidation_threshold_bps": r.liquidation_threshold_bps,
                    "liquidation_bonus_bps": r.liquidation_bonus_bps,
                    "collateral": str(r.collateral),
                    "debt": str(r.debt),
                    "collateral_enabled": r.collateral_enabled,
                    "asset": r.asset,
                }
                for r in pos.reserves
            ],
        },
        "wallet_balances": {k: str(v) for k, v in sorted(snapshot.wallet_balances.items())},
        "exchange_balances": {k: str(v) for k, v in sorted(snapshot.exchange_balances.items())},
        "book": book_to_dict(snapshot.book) if snapshot.book is not None else None,
        "price_history": [[t, str(p)] for t, p in snapshot.price_history],
        "price_history_source": snapshot.price_history_source,
    }


def snapshot_from_dict(data: Mapping[str, Any]) -> Snapshot:
    p = data["position"]
    reserves = tuple(
        Reserve(
            symbol=r["symbol"],
            decimals=int(r["decimals"]),
            price=int(r["price"]),
            ltv_bps=int(r.get("ltv_bps", 0)),
            liquidation_threshold_bps=int(r.get("liquidation_threshold_bps", 0)),
            liquidation_bonus_bps=int(r.get("liquidation_bonus_bps", 0)),
            collateral=int(r.get("collateral", 0)),
            debt=int(r.get("debt", 0)),
            collateral_enabled=bool(r.get("collateral_enabled", True)),
            asset=str(r.get("asset", "")),
        )
        for r in p["reserves"]
    )
    position = Position(
        reserves, rounding=Rounding(p.get("rounding", "v3.0")), base_unit=int(p.get("base_unit", 10**8))
    )
    return Snapshot(
        position=position,
        block=int(data.get("block", 0)),
        timestamp=int(data.get("timestamp", 0)),
        chain_id=int(data.get("chain_id", 0)),
        wallet=str(data.get("wallet", "")),
        wallet_balances={k: int(v) for k, v in (data.get("wallet_balances") or {}).items()},
        exchange_balances={k: Decimal(str(v)) for k, v in (data.get("exchange_balances") or {}).items()},
        book=book_from_dict(data["book"]) if data.get("book") else None,
        price_history=tuple((int(t), Decimal(str(px))) for t, px in data.get("price_history") or ()),
        price_history_source=str(data.get("price_history_source") or ""),
    )


def book_to_dict(book: OrderBook) -> dict[str, Any]:
    return {
        "symbol": book.symbol,
        "timestamp_ms": book.timestamp_ms,
        "bids": [[str(lv.price), str(lv.qty)] for lv in book.bids],
        "asks": [[str(lv.price), str(lv.qty)] for lv in book.asks],
    }


def book_from_dict(data: Mapping[str, Any]) -> OrderBook:
    def levels(rows: Any) -> tuple[Level, ...]:
        return tuple(Level(Decimal(str(p)), Decimal(str(q))) for p, q in rows or ())

    ts = data.get("timestamp_ms")
    return OrderBook(
        str(data["symbol"]), levels(data.get("bids")), levels(data.get("asks")), None if ts is None else int(ts)
    )


# --- plan inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanInput:
    """Everything ``plan`` needs: replaying it gives the identical plan."""

    snapshot: Snapshot
    intent: Intent | None
    limits: PlanLimits
    costs: PlanCosts
    market: MarketModel
    rules: MarketRules | None = None
    policy_name: str | None = None
    policy_params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "snapshot": snapshot_to_dict(self.snapshot),
            "intent": self.intent.to_dict() if self.intent is not None else None,
            "policy": {"name": self.policy_name, "params": self.policy_params} if self.policy_name else None,
            "limits": dataclass_to_dict(self.limits),
            "costs": dataclass_to_dict(self.costs),
            "market": dataclass_to_dict(self.market),
            "rules": dataclass_to_dict(self.rules) if self.rules is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanInput:
        if data.get("format") != FORMAT:
            raise UserInputError(f"not a saved plan input (format {data.get('format')!r}, expected {FORMAT!r})")
        if data.get("version") != VERSION:
            raise UserInputError(f"saved plan input version {data.get('version')!r} is not {VERSION}")
        policy = data.get("policy") or {}
        return cls(
            snapshot=snapshot_from_dict(data["snapshot"]),
            intent=Intent.from_dict(data["intent"]) if data.get("intent") else None,
            limits=dataclass_from_dict(PlanLimits, data.get("limits") or {}),
            costs=dataclass_from_dict(PlanCosts, data.get("costs") or {}),
            market=dataclass_from_dict(MarketModel, data.get("market") or {}),
            rules=dataclass_from_dict(MarketRules, data["rules"]) if data.get("rules") else None,
            policy_name=policy.get("name"),
            policy_params=dict(policy.get("params") or {}),
        )


def dumps(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def save_input(path: str | Path, plan_input: PlanInput) -> None:
    Path(path).write_text(dumps(plan_input.to_dict()), encoding="utf-8")


def load_input(path: str | Path) -> PlanInput:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(f"no snapshot file at {path}") from None
    except json.JSONDecodeError as exc:
        raise UserInputError(f"snapshot file {path} is not JSON: {exc}") from None
    try:
        return PlanInput.from_dict(data)
    except UserInputError:
        raise
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise UserInputError(f"snapshot file {path} is malformed: {type(exc).__name__}: {exc}") from None


# --- generic frozen-dataclass (de)serialisation ----------------------------------------------


def dataclass_to_dict(obj: Any) -> dict[str, Any]:
    return {f.name: _encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclass_to_dict(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def dataclass_from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _decode(hints[f.name], data[f.name])
    return cls(**kwargs)


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(args[0], value)
    if tp is Decimal:
        return Decimal(str(value))
    if tp is int:
        return int(value)
    if tp is bool:
        return bool(value)
    if tp is str:
        return str(value)
    if origin is frozenset:
        return frozenset(value)
    if origin is tuple and typing.get_args(tp)[-1] is Ellipsis:  # tuple[X, ...]: a saved shock table
        return tuple(_decode(typing.get_args(tp)[0], v) for v in value)
    if origin is dict:
        return dict(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return dataclass_from_dict(tp, value)
    return value

"""The DEX route's one write: an atomic flash-loan deleverage (flash-borrow the debt, repay,
withdraw, swap, repay the loan) under the batch's key, then the usual verify.

Nothing is in transit, so no HF floor at a shocked price bounds it: the slippage cap is the
most collateral the swap may take (past it the whole transaction reverts), and the adapter's
pre-flight refuses to sign unless HF rises. What it moved is read from the position before
(the intent) and after (the outcome), so the accounting comes from the journal alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Self

from bot.domain.position import health_factor_wad
from bot.engine.batch_run import BatchRun, StepPorts
from bot.engine.journal import StepRow, StepStatus
from bot.engine.steps.accounting import BatchAccounting
from bot.engine.steps.base import Act, Skip, Step, tx_act
from bot.engine.steps.payloads import TxOutcome
from bot.errors import GuardRefused
from bot.ports import Dex, Outcome


@dataclass(frozen=True, slots=True)
class AtomicIntent:
    """Repay ``repay_units`` of ``debt`` selling at most ``max_collateral_in_units`` of
    ``collateral`` on the pool of ``pool_fee``; the position's amounts just before."""

    collateral: str
    debt: str
    repay_units: int
    max_collateral_in_units: int
    pool_fee: int
    hf_before_wad: int
    collateral_before_units: int
    debt_before_units: int

    def to_payload(self) -> dict[str, Any]:
        return {
            "collateral": self.collateral,
            "debt": self.debt,
            "repay_units": str(self.repay_units),
            "max_collateral_in_units": str(self.max_collateral_in_units),
            "pool_fee": self.pool_fee,
            "hf_before_wad": str(self.hf_before_wad),
            "collateral_before_units": str(self.collateral_before_units),
            "debt_before_units": str(self.debt_before_units),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(
            payload["collateral"],
            payload["debt"],
            int(payload["repay_units"]),
            int(payload["max_collateral_in_units"]),
            int(payload["pool_fee"]),
            int(payload["hf_before_wad"]),
            int(payload["collateral_before_units"]),
            int(payload["debt_before_units"]),
        )


@dataclass(frozen=True, slots=True)
class AtomicOutcome:
    """The transaction, and once final: the collateral it sold and the debt it repaid (the
    position's change across it, interest aside)."""

    tx: TxOutcome
    collateral_sold_units: int | None = None
    debt_repaid_units: int | None = None

    def to_payload(self) -> dict[str, Any]:
        payload = self.tx.to_payload()
        if self.collateral_sold_units is not None:
            payload["collateral_sold_units"] = str(self.collateral_sold_units)
        if self.debt_repaid_units is not None:
            payload["debt_repaid_units"] = str(self.debt_repaid_units)
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        sold, repaid = payload.get("collateral_sold_units"), payload.get("debt_repaid_units")
        return cls(
            TxOutcome.from_payload(payload),
            None if sold is None else int(sold),
            None if repaid is None else int(repaid),
        )


class AtomicDeleverage(Step[AtomicIntent, AtomicOutcome]):
    name = "atomic_deleverage"
    label = "deleveraging atomically through the DEX"
    intent_type = AtomicIntent
    outcome_type = AtomicOutcome

    def prepare(self, run: BatchRun) -> AtomicIntent | Skip:
        spec = run.spec
        if run.dex is None:
            raise GuardRefused("a DEX batch but no DEX route is configured (dex.adapter_address)", reason="no dex")
        snap = run.snapshot()
        debt = snap.position.reserve(spec.debt).debt
        if debt <= 0:
            return Skip("no debt")
        collateral = snap.position.reserve(spec.collateral).collateral
        # The debt may have shrunk since the plan (a repay by hand): never flash-borrow more.
        repay = min(spec.dex_repay_units, debt)
        return AtomicIntent(
            spec.collateral,
            spec.debt,
            repay,
            min(spec.withdraw_amount, collateral),
            spec.dex_pool_fee,
            health_factor_wad(snap.position),
            collateral,
            debt,
        )

    def act(self, run: BatchRun, key: str, intent: AtomicIntent) -> Act[AtomicOutcome]:
        dex = _dex(run)
        result = dex.atomic_deleverage(
            key=key,
            collateral=intent.collateral,
            debt=intent.debt,
            repay_units=intent.repay_units,
            max_collateral_in_units=intent.max_collateral_in_units,
            pool_fee=intent.pool_fee,
        )
        return _with_moved(run, intent, tx_act(result))

    def reconcile(self, run: BatchRun, key: str, intent: AtomicIntent) -> Act[AtomicOutcome] | None:
        found = _dex(run).lookup(key)
        if found is None or found.outcome is Outcome.UNKNOWN:
            return None
        return _with_moved(run, intent, tx_act(found))

    def probe(self, ports: StepPorts, key: str) -> str | None:
        dex = ports.dex
        if dex is None:
            return None
        found = ports.read(lambda: dex.lookup(key))
        if found is not None and found.outcome is not Outcome.UNKNOWN:
            return f"a transaction under key {key} exists but the journal never wrote it"
        return None

    def account(self, row: StepRow, acc: BatchAccounting) -> BatchAccounting:
        done = self.outcome_of(row) if row.status is StepStatus.OK else None
        if done is None:
            return acc
        intent = self.intent_of(row)
        return replace(
            acc,
            dex_collateral_sold_units=done.collateral_sold_units,
            dex_debt_repaid_units=done.debt_repaid_units,
            dex_pool_fee=intent.pool_fee,
            dex_gas_used=done.tx.gas_used,
            dex_gas_cost_wei=done.tx.gas_cost_wei,
        )


def _dex(run: BatchRun) -> Dex:
    if run.dex is None:
        raise GuardRefused("a DEX batch but no DEX route is configured (dex.adapter_address)", reason="no dex")
    return run.dex


def _with_moved(run: BatchRun, intent: AtomicIntent, act: Act[TxOutcome]) -> Act[AtomicOutcome]:
    """The transaction's outcome, with what it moved once it is final."""
    if act.status is not Outcome.OK:
        return Act(act.status, AtomicOutcome(act.outcome), act.error)
    position = run.snapshot().position
    sold = intent.collateral_before_units - position.reserve(intent.collateral).collateral
    repaid = intent.debt_before_units - position.reserve(intent.debt).debt
    return Act(Outcome.OK, AtomicOutcome(act.outcome, max(0, sold), max(0, repaid)))


ATOMIC_DELEVERAGE = AtomicDeleverage()

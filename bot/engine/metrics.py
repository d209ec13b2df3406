"""Prometheus metrics on 127.0.0.1 (port from config; 0 = off). One registry per process,
passed explicitly: no module-level collectors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

from bot.engine.executor import Observer
from bot.engine.journal import BatchStatus, ControlState, StepStatus

_CONTROL_LEVEL = {ControlState.NORMAL: 0, ControlState.REDUCE_ONLY: 1, ControlState.HALTED: 2}


class Metrics(Observer):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.health_factor = Gauge("delever_health_factor", "Aave health factor at the last observation", registry=r)
        self.control_state = Gauge("delever_control_state", "0 normal, 1 reduce-only, 2 halted", registry=r)
        self.batches = Counter("delever_batches", "Batches finished, by status", ["status"], registry=r)
        self.steps = Counter("delever_steps", "Steps finished, by step and status", ["step", "status"], registry=r)
        self.sold_base = Counter("delever_sold_base", "Collateral sold on the exchange (coins)", registry=r)
        self.sold_quote = Counter("delever_sold_quote", "Gross quote received for collateral sold", registry=r)
        self.repaid_units = Counter("delever_repay_requested_units", "Debt repay requested (base units)", registry=r)
        self.errors = Counter("delever_errors", "Errors and alerts, by level", ["level"], registry=r)
        self.blocked_gauge = Gauge(
            "delever_blocked",
            "1 while the plan is blocked below the policy's trigger, by reason (0 once unblocked)",
            ["reason"],
            registry=r,
        )
        self._blocked_reasons: set[str] = set()
        # A batch stuck in a leg: open, and no step finished for a while (ops/prometheus alerts).
        self.batch_open = Gauge("delever_batch_open", "1 while a batch is open, 0 between batches", registry=r)
        self.last_step_time = Gauge(
            "delever_last_step_timestamp_seconds", "UNIX time of the last step finished", registry=r
        )
        self.step_seconds = Histogram(
            "delever_step_seconds",
            "Wall time per step",
            ["step"],
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
        )

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Expose /metrics on loopback only; port 0 turns metrics off."""
        if port:
            start_http_server(port, addr=host, registry=self.registry)

    def text(self) -> str:
        return generate_latest(self.registry).decode()

    def observe_hf(self, hf: Decimal | None) -> None:
        # No debt: HF is infinite; export a large finite value so alerts on "HF < x" stay quiet.
        self.health_factor.set(float(hf) if hf is not None else 1e9)

    def observe_control(self, state: ControlState) -> None:
        self.control_state.set(_CONTROL_LEVEL[state])

    # Observer
    def step_done(self, *, batch_id: str, step: str, status: StepStatus, seconds: float) -> None:
        self.steps.labels(step=step, status=status.value).inc()
        self.batch_open.set(1)
        self.last_step_time.set_to_current_time()
        self.step_seconds.labels(step=step).observe(seconds)

    def batch_done(self, *, batch_id: str, status: BatchStatus, accounting: dict[str, Any]) -> None:
        self.batches.labels(status=status.value).inc()
        self.batch_open.set(0)
        if accounting.get("sold_filled"):
            self.sold_base.inc(float(Decimal(accounting["sold_filled"])))
        if accounting.get("gross_quote"):
            self.sold_quote.inc(float(Decimal(accounting["gross_quote"])))
        for amount in accounting.get("repay_requested_units", []):
            if int(amount) < 2**255:  # MAX_UINT256 means "all": counted through the HF gauge instead
                self.repaid_units.inc(int(amount))

    def alert(self, level: str, message: str) -> None:
        self.errors.labels(level=level).inc()

    def blocked(self, *, reason: str | None, detail: str) -> None:
        if reason is not None:
            self._blocked_reasons.add(reason)
        for known in self._blocked_reasons:
            self.blocked_gauge.labels(reason=known).set(1 if known == reason else 0)

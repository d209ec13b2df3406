"""Shared set-up for the engine's unit tests: a fake world, a journal on disk, an executor."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.clock import ManualClock
from bot.domain.position import decimal_to_wad
from bot.engine.controller import ControllerConfig
from bot.engine.executor import Executor, Observer
from bot.engine.executor_config import ExecutorConfig
from bot.engine.journal import BatchStatus, Journal, StepStatus
from bot.engine.plan_types import PlanLimits
from bot.engine.steps import BatchSpec
from tests.support.fakes import E18, FakeLending, FakeVenue, FakeWorld, make_world


class RecordingObserver(Observer):
    def __init__(self) -> None:
        self.steps: list[tuple[str, str, StepStatus]] = []
        self.batches: list[tuple[str, BatchStatus, dict]] = []
        self.alerts: list[tuple[str, str]] = []

    def step_done(self, *, batch_id, step, status, seconds):  # type: ignore[override]
        self.steps.append((batch_id, step, status))

    def batch_done(self, *, batch_id, status, accounting):  # type: ignore[override]
        self.batches.append((batch_id, status, accounting))

    def alert(self, level, message):  # type: ignore[override]
        self.alerts.append((level, message))


def default_config(world: FakeWorld, **overrides) -> ExecutorConfig:
    cfg = ExecutorConfig(
        market="ETH/USDT",
        base_coin="ETH",
        quote_coin="USDT",
        network="ETH",
        wallet=world.wallet_address,
        withdrawal_allowlist=(world.wallet_address,),
        max_slippage_bps=100,
        hf_floor_wad=decimal_to_wad("1.10"),
        emergency_hf_floor_wad=decimal_to_wad("1.01"),
        shock_bps=500,
        max_oracle_divergence_bps=300,
        poll_interval_s=5,
        transfer_timeout_s=3600,
        reconcile_grace_s=2,
        unwrap_native=False,
        repay_idle=True,
        max_retries=8,
        backoff_s=1.0,
        reconcile_timeout_s=21_600,
    )
    return replace(cfg, **overrides)


def executor_over(world: FakeWorld, lending: Any, venue: Any, journal: Journal, **kw: Any) -> Executor:
    """The executor over the given ports (a dry-run's wrappers of the fakes), on the world's
    clock and default config, with a recording observer."""
    return Executor(
        journal=journal,
        lending=lending,
        venue=venue,
        clock=world.clock,
        config=default_config(world),
        observer=RecordingObserver(),
        **kw,
    )


def controller_config(**overrides: Any) -> ControllerConfig:
    """A controller config with explicit test values (the daemon builds its own from the settings)."""
    values: dict[str, Any] = dict(
        collateral="WETH",
        debt="USDT",
        market="ETH/USDT",
        base_coin="ETH",
        quote_coin="USDT",
        interval_s=12.0,
        watch_blocks=False,
        head_poll_s=1.0,
        max_tick_gap_s=60.0,
        cooldown_s=0.0,
        max_consecutive_failures=3,
        max_daily_usd=None,
        max_oracle_divergence_bps=300,
        sweep_min_usd=Decimal("10"),
        candles_timeframe="1m",
        candles_limit=0,
        max_in_flight=1,
    )
    return ControllerConfig(**{**values, **overrides})


def plan_limits(**overrides: Any) -> PlanLimits:
    """Planner limits with explicit test values: floor 1.05, a 50 bps cap, a 3 % shock, no USD
    caps, no emergency batches (the emergency floor at the floor)."""
    values: dict[str, Any] = dict(
        hf_floor=Decimal("1.05"),
        max_slippage_bps=50,
        price_shock_bps=300,
        max_batch_usd=None,
        max_daily_usd=None,
        min_batch_usd=Decimal(0),
        buffer_usd=Decimal(0),
        emergency_after_s=0,
    )
    merged = {**values, **overrides}
    merged.setdefault("emergency_hf_floor", merged["hf_floor"])  # at the floor: off
    return PlanLimits(**merged)


@dataclass
class Rig:
    tmp: Path
    clock: ManualClock = field(default_factory=ManualClock)
    world: FakeWorld | None = None
    observer: RecordingObserver = field(default_factory=RecordingObserver)
    dex: Any = None  # a ``Dex`` port (tests.support.dex_fakes.FakeDex) for DEX-routed batches

    def __post_init__(self) -> None:
        if self.world is None:
            self.world = make_world(self.clock)
        self.lending = FakeLending(self.world)
        self.venue = FakeVenue(self.world)
        self.journal_path = self.tmp / "journal.sqlite"
        self._journal: Journal | None = None

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(self.journal_path, clock=self.clock)
        return self._journal

    def restart(self) -> None:
        """What a process death does to the journal: the connection and the lock go away."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def executor(self, *, crash=None, stop_requested=lambda: False, **cfg) -> Executor:
        return Executor(
            journal=self.journal,
            lending=self.lending,
            venue=self.venue,
            clock=self.clock,
            config=default_config(self.world, **cfg),
            observer=self.observer,
            crash=crash or (lambda p: None),
            stop_requested=stop_requested,
            dex=self.dex,
        )

    def spec(self, eth: Decimal | int = 10) -> BatchSpec:
        return BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=int(Decimal(eth) * E18))

"""Build the daemon from ``Settings``: mode guard, journal, adapters (wrapped in dry-run),
metrics, notifications, executor and controller. ``build_runtime(settings, live_flag=…)`` is
the one factory; ``clear_halt(settings)`` opens the same journal for ``run --clear-halt``.

When the daemon acts: on every new block by default — the head is polled with one
``eth_blockNumber`` call every ``chain.poll_interval_s`` — or every ``engine.tick_interval_s``
seconds when that is set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.adapters.dryrun import dry_run_pair
from bot.adapters.venue import CcxtVenue
from bot.clock import SystemClock
from bot.compose import configs
from bot.compose.adapters import RealAdapters, make_real_adapters
from bot.domain import Snapshot
from bot.engine import guards
from bot.engine.controller import Controller, policy_plan_fn
from bot.engine.executor import Executor
from bot.engine.gas_policy import urgency_multiplier
from bot.engine.guards import KillSwitch
from bot.engine.journal import Journal, JournalLocked, StepStatus
from bot.engine.metrics import Metrics
from bot.engine.notify import Notifier, Observers
from bot.errors import DeleverError, UserInputError
from bot.ports import Clock, Lending
from bot.redact import Redactor, install_log_redaction
from bot.settings import Settings
from strategies.helpers import main_collateral, main_debt

__all__ = ["Runtime", "apply_gas_urgency", "build_runtime", "clear_halt", "secret_values"]


@dataclass
class Runtime:
    mode: str
    journal: Journal
    executor: Executor
    controller: Controller
    metrics: Metrics
    notifier: Notifier
    kill_switch: KillSwitch
    metrics_port: int  # 0: no metrics endpoint
    metrics_host: str

    def run(self, *, once: bool) -> int:
        self.metrics.serve(self.metrics_port, self.metrics_host)
        try:
            return self.controller.run(once=once)
        finally:
            self.notifier.flush(timeout=5)
            self.journal.close()


def build_runtime(
    settings: Settings,
    *,
    live_flag: bool,
    clock: Clock | None = None,
    adapters: Callable[[Settings], RealAdapters] = make_real_adapters,
) -> Runtime:
    """Wire the daemon for ``settings.mode``. Raises ``UserInputError`` (exit 2) on a mode
    violation, ``AdapterUnavailable``/``JournalLocked`` (exit 1) when it cannot run."""
    chain = settings.chain
    # Refuse what the config alone already rules out, before touching any network.
    guards.check_mode(mode=settings.mode, live_flag=live_flag, config_chain_id=chain.chain_id, config_only=True)

    clock = clock or SystemClock()
    redactor = Redactor(secret_values(settings))
    install_log_redaction(redactor)
    # The single-instance lock comes first: a second daemon must be refused before its adapters
    # touch anything (the chain adapter re-finds in-flight transactions at start-up).
    journal = Journal(configs.journal_path(settings), clock=clock, redact=redactor)
    try:
        journal.bind(mode=settings.mode, chain_id=chain.chain_id)
        real = adapters(settings)
        if isinstance(real.venue, CcxtVenue):
            # Keyed writes recorded in the journal: a restart waits only what is left of the
            # in-flight window of what the last process sent, not a whole window from start-up.
            real.venue.record_sends_in(journal)
        guards.check_mode(
            mode=settings.mode,
            live_flag=live_flag,
            config_chain_id=chain.chain_id,
            rpc_chain_id=real.rpc_chain_id,
            config_provider=chain.pool_addresses_provider,
            rpc_provider=real.pool_addresses_provider,
        )
        return _assemble(settings, real, journal=journal, clock=clock, redactor=redactor)
    except BaseException:
        journal.close()
        raise


def _assemble(settings: Settings, real: RealAdapters, *, journal: Journal, clock: Clock, redactor: Redactor) -> Runtime:
    lending, venue = real.lending, real.venue
    if settings.mode == "dry-run":
        lending, venue = dry_run_pair(lending, venue, real_balances=settings.exchange.api_key is not None)
    metrics = Metrics()
    notifier = Notifier(configs.notifier_config(settings.notify), redact=redactor)
    observer = Observers(metrics, notifier, redact=redactor)
    kill_switch = KillSwitch(configs.kill_switch_path(settings))
    assert settings.wallet.address is not None  # the schema requires it
    exec_cfg = configs.executor_config(
        exchange=settings.exchange,
        limits=settings.limits,
        engine=settings.engine,
        wallet=settings.wallet.address,
        chain_poll_s=settings.chain.poll_interval_s,
    )
    executor = Executor(
        journal=journal,
        lending=lending,
        venue=venue,
        clock=clock,
        config=exec_cfg,
        observer=observer,
        stop_requested=lambda: kill_switch.tripped,
    )
    first = executor.read(lending.snapshot)
    collateral, debt = main_collateral(first.position), main_debt(first.position)
    if collateral is None or debt is None:
        raise DeleverError("the wallet has no Aave collateral or no debt to manage")
    limits = configs.plan_limits(settings.limits)
    controller = Controller(
        executor=executor,
        lending=lending,
        venue=venue,
        clock=clock,
        plan_fn=policy_plan_fn(
            configs.policy(settings.policy),
            limits=limits,
            venue=venue,
            market=exec_cfg.market,
            hold_to_target=settings.engine.hold_to_target,
        ),
        config=configs.controller_config(
            exchange=settings.exchange,
            limits=settings.limits,
            engine=settings.engine,
            collateral=collateral.symbol,
            debt=debt.symbol,
            chain_poll_s=settings.chain.poll_interval_s,
            has_head=real.head is not None,
        ),
        observer=observer,
        stop_requested=lambda: kill_switch.tripped,
        on_snapshot=lambda s: _observe(s, metrics=metrics, lending=real.lending, hf_floor=limits.hf_floor),
        head=real.head,
    )
    metrics_on = settings.metrics.enabled
    return Runtime(
        mode=settings.mode,
        journal=journal,
        executor=executor,
        controller=controller,
        metrics=metrics,
        notifier=notifier,
        kill_switch=kill_switch,
        metrics_port=settings.metrics.port if metrics_on else 0,
        metrics_host=settings.metrics.host,
    )


def clear_halt(
    settings: Settings, *, clock: Clock | None = None, by: str = "delever run --clear-halt"
) -> tuple[str, list[str]]:
    """Clear a HALTED/REDUCE_ONLY state in the journal the daemon of ``settings`` uses, and
    mark steps awaiting review to be reconciled by key on the next start. Returns (the state
    it was in, the marked step keys). ``UserInputError``: no such journal, or one bound to
    another mode or chain; ``JournalLocked``: a daemon holds it."""
    path = configs.journal_path(settings)
    if not path.exists():
        raise UserInputError(f"no journal at {path} (the {settings.mode} daemon of this config writes there)")
    try:
        journal = Journal(path, clock=clock or SystemClock())
    except JournalLocked as exc:
        raise JournalLocked(f"{exc}: stop the daemon first") from None
    with journal:
        journal.bind(mode=settings.mode, chain_id=settings.chain.chain_id)
        state, reason = journal.control()
        marked = []
        for batch in journal.open_batches():
            for row in journal.steps(batch.id):
                if row.status is StepStatus.NEEDS_REVIEW:
                    journal.mark_for_reconcile(batch.id, row.step, by=by)
                    marked.append(row.key)
        journal.clear_control(by=by)
    was = f"{state.value}{f' ({reason})' if reason else ''}"
    return was, marked


def _observe(snapshot: Snapshot, *, metrics: Metrics, lending: Lending, hf_floor: Decimal) -> None:
    metrics.observe_hf(snapshot.health_factor)
    apply_gas_urgency(lending, hf=snapshot.health_factor, hf_floor=hf_floor)


def apply_gas_urgency(lending: Any, *, hf: Decimal | None, hf_floor: Decimal) -> Decimal | None:
    """Scale the tx sender's fee urgency with HF's distance to the floor (never "wait for cheap
    gas"). Works on any Lending whose ``sender.config`` is a dataclass with ``urgency``."""
    sender = getattr(lending, "sender", None)
    config = getattr(sender, "config", None)
    if config is None or not dataclasses.is_dataclass(config) or not hasattr(config, "urgency"):
        return None
    urgency = urgency_multiplier(hf=hf, hf_floor=hf_floor)
    sender.config = dataclasses.replace(config, urgency=urgency)  # type: ignore[union-attr]
    return urgency


def secret_values(settings: Settings) -> list[str]:
    """Every secret in the settings (SecretStr anywhere), for the notification redactor."""
    found: list[str] = []

    def walk(obj: Any, depth: int = 0) -> None:
        if depth > 5 or obj is None or isinstance(obj, (str, bytes, int, float, Decimal, Path)):
            return
        if hasattr(obj, "get_secret_value"):
            found.append(obj.get_secret_value())
            return
        if isinstance(obj, dict):
            children: Any = obj.values()
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = obj
        elif getattr(type(obj), "model_fields", None):
            children = [getattr(obj, name, None) for name in type(obj).model_fields]
        else:
            return
        for child in children:
            walk(child, depth + 1)

    walk(settings)
    return [s for s in found if s]

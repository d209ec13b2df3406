"""Build the daemon from ``Settings``: mode guard, journal, adapters (wrapped in dry-run),
metrics, notifications, executor and controller. ``build_runtime(settings, live_flag=…)`` is
the one factory; ``clear_halt(settings)`` opens the same journal for ``run --clear-halt``.

When the daemon acts: on every new block by default — the head is polled with one
``eth_blockNumber`` call every ``chain.poll_interval_s`` — or every ``engine.tick_interval_s``
seconds when that is set.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from web3 import Web3

from bot.adapters.chain.rpc import retrying_read
from bot.adapters.chain.tx_sender import NonceGap, nonce_gap
from bot.adapters.chain.tx_store import TxStore
from bot.adapters.dryrun import DryRunDex, dry_run_pair
from bot.adapters.venue import CcxtVenue
from bot.clock import SystemClock
from bot.compose import configs
from bot.compose.adapter_deploy import check_configured_adapter
from bot.compose.adapters import (
    AdapterUnavailable,
    ChainUnavailable,
    RealAdapters,
    chain_facts,
    connect_chain,
    make_real_adapters,
)
from bot.compose.dex import check_dex_settings, route_setting
from bot.compose.shock_history import market_model
from bot.domain import Snapshot
from bot.engine import guards
from bot.engine.controller import Controller, policy_plan_fn
from bot.engine.executor import Executor
from bot.engine.foreign_activity import ForeignActivityCheck
from bot.engine.gas_policy import urgency_multiplier
from bot.engine.guards import KillSwitch
from bot.engine.journal import Journal, JournalLocked, StepStatus
from bot.engine.journal_files import wallet_dir
from bot.engine.metrics import Metrics
from bot.engine.narrator import Narrator
from bot.engine.notify import Notifier, Observers
from bot.engine.state_recovery import EXCHANGE_HISTORY_CHECKED, missing_journal_seen_on_exchange
from bot.errors import DeleverError, Halt, Retryable, UserInputError
from bot.logs import get_logger
from bot.ports import Clock, Lending
from bot.redact import Redactor, install_log_redaction
from bot.settings import Settings
from bot.settings.types import is_loopback_host
from strategies.helpers import main_collateral, main_debt

log = logging.getLogger(__name__)

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
        if self.metrics_port and not is_loopback_host(self.metrics_host):
            get_logger("delever.runtime").warning(
                "metrics_served_off_loopback", host=self.metrics_host, port=self.metrics_port
            )
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
    adapters: Callable[[Settings], RealAdapters] | None = None,
    new_journal: bool = False,
    read_chain: Callable[[Settings], tuple[str, int]] | None = None,
) -> Runtime:
    """Wire the daemon for ``settings.mode``. Raises ``UserInputError`` (exit 2) on a mode
    violation or a journal that cannot be used here (another chain, damaged, missing while the
    wallet ran before), ``AdapterUnavailable``/``JournalLocked``/``WalletLocked`` (exit 1) when
    it cannot run. ``new_journal``: ``run --new-journal``, move the journal aside first."""
    chain = settings.chain
    # Refuse what the config alone already rules out, before touching any network.
    guards.check_mode(mode=settings.mode, live_flag=live_flag, config_chain_id=chain.chain_id, config_only=True)
    check_dex_settings(settings)  # a DEX route without its adapter: exit 2 before any network

    # One stop request for the whole process: every wait on the clock (the adapters' too) ends
    # within seconds of SIGTERM/SIGINT or the kill-switch file.
    kill_switch = KillSwitch(configs.kill_switch_path(settings))
    clock = clock or SystemClock(stop=lambda: kill_switch.tripped)
    adapters = adapters or functools.partial(make_real_adapters, clock=clock)
    redactor = Redactor(secret_values(settings))
    install_log_redaction(redactor)
    # The single-instance lock comes first: a second daemon must be refused before its adapters
    # touch anything (the chain adapter re-finds in-flight transactions at start-up).
    if new_journal:
        journal = _replace_journal(settings, clock=clock, redactor=redactor, read_chain=read_chain or _read_chain)
    else:
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
        check_configured_adapter(settings)  # [dex] adapter_address is our build, or refuse
        if real.genesis_hash is not None:
            journal.bind(mode=settings.mode, chain_id=chain.chain_id, genesis_hash=real.genesis_hash)
            if settings.signs:
                _claim_wallet(journal, settings, real, replaced=new_journal)
                _check_exchange_history(journal, settings, real, replaced=new_journal)
        if real.reconcile is not None:
            real.reconcile()  # bound to this chain: now finish or re-find what the last run left in flight
        return _assemble(settings, real, journal=journal, clock=clock, redactor=redactor, kill_switch=kill_switch)
    except BaseException:
        journal.close()
        raise


def _claim_wallet(journal: Journal, settings: Settings, real: RealAdapters, *, replaced: bool) -> None:
    """One signing daemon per (chain id, wallet), whatever the journal path; and a journal that
    went missing is refused, not silently replaced by an empty one. The rule: the wallet record
    (``journal_files``) says a journal of ours signed for this wallet on this very chain
    (same genesis), this journal is another one and holds nothing, and the wallet has sent
    transactions (nonce > 0) that the lost journal would have recorded. ``--new-journal`` is
    the explicit way past it."""
    assert settings.wallet.address is not None and real.genesis_hash is not None
    wallet = str(settings.wallet.address)
    before = journal.claim_wallet(wallet_dir(), chain_id=settings.chain.chain_id, wallet=wallet)
    if (
        before is not None
        and not replaced
        and before.genesis_hash == real.genesis_hash.lower()
        and before.tag != journal.tag
        and journal.is_empty()
        and (real.wallet_nonce or 0) > 0
    ):
        if before.journal == str(journal.path):
            why = (
                f"journal {journal.path} is new or empty, but wallet {wallet} already ran on this chain with the "
                f"journal that was there (tag {before.tag}; deleted, reset or its WAL lost?)"
            )
        else:
            why = f"wallet {wallet} ran on this chain with journal {before.journal} (tag {before.tag}), not {journal.path}"
        raise UserInputError(
            f"{why}: restore that journal (or point journal.path at it), or start a new one on purpose with "
            "`delever run --new-journal`"
        )
    journal.remember_wallet(real.genesis_hash)


def _check_exchange_history(journal: Journal, settings: Settings, real: RealAdapters, *, replaced: bool) -> None:
    """The exchange half of a missing journal (``bot.engine.state_recovery``): an empty journal is
    refused while the exchange lists withdrawals of ours to this wallet; checked once per journal."""
    if journal.marked(EXCHANGE_HISTORY_CHECKED):
        return
    if replaced or not journal.is_empty():
        journal.mark(EXCHANGE_HISTORY_CHECKED, "run --new-journal" if replaced else "the journal holds batches")
        return
    history = getattr(real.venue, "withdrawal_ids_to", None)
    if history is None:
        return  # a venue that keeps no history of ours
    coin, wallet = settings.exchange.quote, str(settings.wallet.address)
    why = missing_journal_seen_on_exchange(
        journal=str(journal.path), wallet=wallet, coin=coin, withdrawal_ids=history(coin, wallet)
    )
    if why:
        raise UserInputError(why)
    journal.mark(EXCHANGE_HISTORY_CHECKED, f"no {coin} withdrawal of ours to {wallet} on the exchange")


def _replace_journal(
    settings: Settings, *, clock: Clock, redactor: Redactor, read_chain: Callable[[Settings], tuple[str, int]]
) -> Journal:
    """``run --new-journal``: move the journal aside unless it holds an open batch on this very
    chain (resuming it is the only safe way on; a new journal would forget it)."""
    genesis, _ = read_chain(settings)

    def may_replace(old: Journal | None) -> None:
        if old is None or old.binding().get("genesis_hash") != genesis.lower():
            return  # damaged, or written on another chain: nothing of it can be resumed here
        open_ids = [b.id for b in old.open_batches()]
        if open_ids:
            raise UserInputError(
                f"journal {old.path} has batch {open_ids[0]} open on this chain: resume it with `delever run` "
                "(a new journal would forget it)"
            )

    journal, moved = Journal.replace(
        configs.journal_path(settings), clock=clock, redact=redactor, may_replace=may_replace
    )
    if moved is not None:
        log.warning("moved journal %s aside to %s; starting a new journal", journal.path, moved)
    return journal


def _read_chain(settings: Settings) -> tuple[str, int]:
    """(genesis hash, the wallet's mined nonce) from the configured RPC."""
    assert settings.wallet.address is not None
    return chain_facts(connect_chain(settings.chain), str(settings.wallet.address))


def _assemble(
    settings: Settings,
    real: RealAdapters,
    *,
    journal: Journal,
    clock: Clock,
    redactor: Redactor,
    kill_switch: KillSwitch,
) -> Runtime:
    lending, venue, dex = real.lending, real.venue, real.dex
    if settings.mode == "dry-run":
        lending, venue = dry_run_pair(lending, venue, real_balances=settings.exchange.api_key is not None)
        dex = DryRunDex(real.dex, lending) if real.dex is not None else None
    metrics = Metrics()
    notifier = Notifier(configs.notifier_config(settings.notify), redact=redactor)
    # The narrator logs every leg and batch at INFO; a dry-run's says what it would have done.
    narrator = Narrator(journal, simulated=settings.mode == "dry-run")
    observer = Observers(metrics, notifier, narrator, redact=redactor, repeat_after_s=notifier.config.repeat_after_s)
    assert settings.wallet.address is not None  # the schema requires it
    exec_cfg = configs.executor_config(
        exchange=settings.exchange,
        limits=settings.limits,
        engine=settings.engine,
        wallet=settings.wallet.address,
        chain_poll_s=settings.chain.poll_interval_s,
    )
    route = route_setting(settings, real.dex)
    executor = Executor(
        journal=journal,
        lending=lending,
        venue=venue,
        clock=clock,
        config=exec_cfg,
        observer=observer,
        stop_requested=lambda: kill_switch.tripped,
        dex=dex if route != "cex" else None,
    )
    first = executor.read(lending.snapshot)
    collateral, debt = main_collateral(first.position), main_debt(first.position)
    if collateral is None or debt is None:
        raise DeleverError("the wallet has no Aave collateral or no debt to manage")
    if real.wallet_watch is not None:
        watch = real.wallet_watch((collateral.symbol, debt.symbol))
        executor.foreign_check = ForeignActivityCheck(watch, journal, alert=observer.alert)
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
            model=market_model(settings.limits),
            hold_to_target=settings.engine.hold_to_target,
            dex=dex,
            route=route,
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
        stop_reason=lambda: kill_switch.reason,
        on_snapshot=lambda s: _observe(
            s, metrics=metrics, lending=real.lending, hf_floor=limits.hf_floor, journal=journal
        ),
        head=real.head,
    )
    controller.dex_fallback = route != "cex"  # the DEX can act while the exchange does not answer
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
    settings: Settings,
    *,
    clock: Clock | None = None,
    by: str = "delever run --clear-halt",
    read_chain: Callable[[Settings], tuple[str, int]] | None = None,
) -> tuple[str, list[str]]:
    """Clear a HALTED/REDUCE_ONLY state in the journal the daemon of ``settings`` uses, and
    mark steps awaiting review to be reconciled by key on the next start. Returns (the state
    it was in, the marked step keys). ``UserInputError``: no such journal, one bound to another
    mode or chain (genesis, when the RPC answers), or one whose nonces the chain can never
    reach (clearing would only lead to a wait that never ends); ``JournalLocked``: a daemon holds it."""
    path = configs.journal_path(settings)
    if not path.exists():
        raise UserInputError(f"no journal at {path} (the {settings.mode} daemon of this config writes there)")
    try:
        journal = Journal(path, clock=clock or SystemClock())
    except JournalLocked as exc:
        raise JournalLocked(f"{exc}: stop the daemon first") from None
    with journal:
        journal.bind(mode=settings.mode, chain_id=settings.chain.chain_id)
        _check_chain_offline_ok(journal, settings, read_chain or _read_chain_and_pending)
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


def _check_chain_offline_ok(
    journal: Journal, settings: Settings, read_chain: Callable[[Settings], tuple[str, int]]
) -> None:
    """The chain checks the daemon makes at start, when the RPC answers (a halt can be cleared
    offline; the daemon's own start then checks again)."""
    try:
        genesis, pending = read_chain(settings)
    except AdapterUnavailable:
        log.warning("the chain RPC does not answer: clearing without checking the journal against the chain")
        return
    journal.bind(mode=settings.mode, chain_id=settings.chain.chain_id, genesis_hash=genesis)
    if settings.signs and settings.wallet.address is not None:
        store = TxStore(journal.path)
        try:
            gap = nonce_gap(store, Web3.to_checksum_address(settings.wallet.address), settings.chain.chain_id, pending)
        finally:
            store.close()
        if gap is not None:
            raise NonceGap(gap)


def _read_chain_and_pending(settings: Settings) -> tuple[str, int]:
    """(genesis hash, the wallet's next nonce counting the pool)."""
    assert settings.wallet.address is not None
    link = connect_chain(settings.chain)
    genesis, _ = chain_facts(link, str(settings.wallet.address))
    wallet = Web3.to_checksum_address(settings.wallet.address)
    try:
        pending = int(retrying_read(lambda: link.w3.eth.get_transaction_count(wallet, "pending"), what="nonce"))
    except (Retryable, Halt) as exc:
        raise ChainUnavailable(f"the chain RPC does not answer: {exc}") from None
    return genesis, pending


def _observe(snapshot: Snapshot, *, metrics: Metrics, lending: Lending, hf_floor: Decimal, journal: Journal) -> None:
    metrics.observe_hf(snapshot.health_factor)
    metrics.observe_control(journal.control()[0])
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

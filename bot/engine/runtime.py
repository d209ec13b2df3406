"""Build the daemon from settings: adapters, mode guard, journal, executor, controller,
metrics, notifications. ``build_runtime(settings, *, live_flag)`` is the ONE factory.

The only piece that depends on the chain and exchange adapters is ``make_real_adapters``
(``bot.adapters.chain`` + ``bot.adapters.venue``). Everything else is mode-agnostic: in
dry-run the real adapters (a read-only Lending: no signer is built) are wrapped by
``bot.adapters.dryrun`` (real reads, simulated writes).

Settings are read by attribute with defaults (``bot.settings`` validates them; tests may pass
a partial namespace): ``engine.*`` (when to act, waits, retries, the kill-switch file — default
``STOP`` next to the journal), ``notify.*``, ``exchange.recv_window_ms``.

When the daemon acts: on every new block by default — the head is polled with one
``eth_blockNumber`` call every ``chain.poll_interval_s`` — or every ``engine.tick_interval_s``
seconds when that is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.adapters.dryrun import dry_run_pair
from bot.clock import SystemClock
from bot.domain.position import decimal_to_wad
from bot.engine import guards
from bot.engine.controller import Controller, ControllerConfig, policy_plan_fn
from bot.engine.executor import Executor
from bot.engine.executor_config import ExecutorConfig
from bot.engine.gas_policy import urgency_multiplier
from bot.engine.guards import KillSwitch
from bot.engine.journal import Journal
from bot.engine.metrics import Metrics
from bot.engine.notify import Notifier, NotifyConfig, Observers
from bot.errors import DeleverError
from bot.ports import Clock, Lending, Venue
from bot.redact import Redactor, install_log_redaction

log = logging.getLogger("delever.runtime")


class AdapterUnavailable(DeleverError):
    """This build has no adapter for the chain or the exchange yet."""


@dataclass(frozen=True, slots=True)
class RealAdapters:
    lending: Lending
    venue: Venue
    rpc_chain_id: int  # what the RPC reports (eth_chainId), not the config
    pool_addresses_provider: str  # what the chain reports (Pool.ADDRESSES_PROVIDER()), not the config
    head: Callable[[], int] | None = None  # the node's head block number (cheap); None: act on an interval


_ADDRESSES_PROVIDER_ABI = [
    {"inputs": [], "name": "ADDRESSES_PROVIDER", "outputs": [{"name": "", "type": "address"}],
     "stateMutability": "view", "type": "function"},
]


class ReadOnlyLending:
    """Aave reads for a wallet without a signer (dry-run). Every write refuses: the dry-run
    wrapper never calls them, and nothing here could sign anyway."""

    def __init__(self, reader: Any, wallet: str) -> None:
        self.reader = reader
        self.wallet = wallet

    def __repr__(self) -> str:
        return f"ReadOnlyLending(wallet={self.wallet})"

    def snapshot(self) -> Any:
        return self.reader.snapshot(self.wallet)

    def lookup(self, key: str) -> None:
        return None

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        from bot.errors import GuardRefused

        raise GuardRefused("read-only Lending: this mode signs nothing", reason="read_only")

    withdraw = repay = unwrap = transfer = _refuse


def make_real_adapters(settings: Any) -> RealAdapters:
    """Build the web3 Lending adapter and the ccxt Venue adapter from settings, and read the
    facts the mode guard compares with the config: the RPC's chain id, and the
    PoolAddressesProvider the market's pool reports (``Pool.ADDRESSES_PROVIDER()``)."""
    from web3 import Web3

    from bot.adapters.chain.aave_reader import AaveReader
    from bot.adapters.chain.factory import lending_from_settings
    from bot.adapters.chain.rpc import make_web3
    from bot.adapters.venue import CcxtVenue
    from bot.domain.position import Rounding

    rpc_url = str(settings.chain.rpc_url)
    w3 = make_web3(rpc_url)
    try:
        rpc_chain_id = int(w3.eth.chain_id)
    except Exception as e:  # noqa: BLE001 - one line, never the URL (it may carry an API key)
        raise AdapterUnavailable(f"the chain RPC does not answer ({type(e).__name__})") from None
    if getattr(settings, "signs", settings.mode in ("testnet", "live")):
        if rpc_chain_id != int(settings.chain.chain_id):
            # Checked again by the mode guard; refuse before a signer is even built.
            from bot.errors import UserInputError

            raise UserInputError(f"the RPC serves chain id {rpc_chain_id}, the config says {settings.chain.chain_id}")
        lending: Any = lending_from_settings(settings, settings.signer())
        reader = lending.reader
        lending.sender.reconcile_open()  # finish or re-find what the last run left in flight
    else:
        reader = AaveReader(w3, pool_addresses_provider=str(settings.chain.pool_addresses_provider),
                            rounding=Rounding(settings.chain.rounding))
        lending = ReadOnlyLending(reader, str(settings.wallet.address))
    market = reader.market()
    pool = w3.eth.contract(address=Web3.to_checksum_address(market.pool), abi=_ADDRESSES_PROVIDER_ABI)
    provider = str(pool.functions.ADDRESSES_PROVIDER().call())
    exchange = settings.exchange
    venue = CcxtVenue.connect(
        api_key=_secret(exchange.api_key), api_secret=_secret(exchange.api_secret),
        api_url=str(exchange.api_url) if exchange.api_url else None,
        withdrawal_allowlist=[str(a) for a in exchange.withdrawal_allowlist],
        timeout_ms=int(getattr(exchange, "timeout_ms", 10_000)),
        recv_window_ms=int(getattr(exchange, "recv_window_ms", None) or 10_000),
    )
    return RealAdapters(lending, venue, rpc_chain_id, provider, head=lambda: int(w3.eth.block_number))


@dataclass
class Runtime:
    mode: str
    journal: Journal
    executor: Executor
    controller: Controller
    metrics: Metrics
    notifier: Notifier
    kill_switch: KillSwitch
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"

    def run(self, *, once: bool) -> int:
        self.metrics.serve(self.metrics_port, self.metrics_host)
        try:
            return self.controller.run(once=once)
        finally:
            self.notifier.flush(timeout=5)
            self.journal.close()


def _opt(settings: Any, section: str, name: str, default: Any) -> Any:
    value = getattr(getattr(settings, section, None), name, None)
    return default if value is None else value


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    return getter() if getter else str(value)


def secret_values(settings: Any) -> list[str]:
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
        elif hasattr(obj, "__dict__"):
            children = vars(obj).values()
        else:
            return
        for child in children:
            walk(child, depth + 1)

    walk(settings)
    return [s for s in found if s]


def executor_config(settings: Any) -> ExecutorConfig:
    base, _, quote = str(_opt(settings, "exchange", "symbol", "ETH/USDT")).partition("/")
    wallet = str(_opt(settings, "wallet", "address", ""))
    return ExecutorConfig(
        market=f"{base}/{quote}",
        base_coin=base,
        quote_coin=quote,
        network=str(_opt(settings, "exchange", "deposit_network", "ETH")),
        wallet=wallet,
        withdrawal_allowlist=tuple(str(a) for a in _opt(settings, "exchange", "withdrawal_allowlist", ())),
        max_slippage_bps=int(_opt(settings, "limits", "max_slippage_bps", 100)),
        hf_floor_wad=decimal_to_wad(Decimal(str(_opt(settings, "limits", "hf_floor", "1.10")))),
        shock_bps=int(_opt(settings, "limits", "price_shock_bps", 300)),
        max_oracle_divergence_bps=int(_opt(settings, "limits", "max_oracle_divergence_bps", 300)),
        unwrap_native=_opt(settings, "engine", "unwrap_native", None),
        repay_idle=bool(_opt(settings, "engine", "repay_idle", True)),
        poll_interval_s=float(_opt(settings, "engine", "poll_interval_s", _opt(settings, "chain", "poll_interval_s", 5.0))),
        transfer_timeout_s=float(_opt(settings, "engine", "transfer_timeout_s", 3 * 3600.0)),
        reconcile_grace_s=float(_opt(settings, "engine", "reconcile_grace_s", 2.0)),
        max_retries=int(_opt(settings, "engine", "max_retries", 8)),
        backoff_s=float(_opt(settings, "engine", "backoff_s", 1.0)),
    )


def tick_timing(settings: Any, *, has_head: bool) -> dict[str, Any]:
    """When the controller acts: on each new block (the head polled every
    ``chain.poll_interval_s``), or every ``engine.tick_interval_s`` when set; without a head
    source, every ``chain.poll_interval_s``."""
    head_poll = float(_opt(settings, "chain", "poll_interval_s", 2.0))
    interval = _opt(settings, "engine", "tick_interval_s", None)
    return {
        "watch_blocks": interval is None and has_head,
        "interval_s": float(interval) if interval is not None else head_poll,
        "head_poll_s": head_poll,
        "max_tick_gap_s": float(_opt(settings, "engine", "max_tick_gap_s", 60.0)),
    }


def build_runtime(
    settings: Any,
    *,
    live_flag: bool,
    clock: Clock | None = None,
    adapters: Callable[[Any], RealAdapters] = make_real_adapters,
) -> Runtime:
    """Wire the daemon for ``settings.mode``. Raises ``UserInputError`` (exit 2) on a mode
    violation, ``AdapterUnavailable``/``JournalLocked`` (exit 1) when it cannot run."""
    mode = str(getattr(settings, "mode", "dry-run"))
    config_chain_id = int(_opt(settings, "chain", "chain_id", 0))
    config_provider = str(_opt(settings, "chain", "pool_addresses_provider", ""))
    # Refuse what the config alone already rules out, before touching any network.
    guards.check_mode(mode=mode, live_flag=live_flag, config_chain_id=config_chain_id, config_only=True)

    clock = clock or SystemClock()
    redactor = Redactor(secret_values(settings))
    install_log_redaction(redactor)
    # The single-instance lock comes first: a second daemon must be refused before its adapters
    # touch anything (the chain adapter re-finds in-flight transactions at start-up).
    journal = Journal(journal_path(settings), clock=clock, redact=redactor)
    try:
        journal.bind(mode=mode, chain_id=config_chain_id)
        real = adapters(settings)
        guards.check_mode(
            mode=mode, live_flag=live_flag, config_chain_id=config_chain_id, rpc_chain_id=real.rpc_chain_id,
            config_provider=config_provider, rpc_provider=real.pool_addresses_provider,
        )
    except BaseException:
        journal.close()
        raise
    lending, venue = real.lending, real.venue
    if mode == "dry-run":
        has_keys = _secret(_opt(settings, "exchange", "api_key", None)) is not None
        lending, venue = dry_run_pair(lending, venue, real_balances=has_keys)

    try:
        metrics = Metrics()
        notifier = Notifier(
            NotifyConfig(
                webhook_urls=tuple(u for u in (_secret(_opt(settings, "notify", "webhook_url", None)),) if u),
                telegram_api_url=str(_opt(settings, "notify", "telegram_api_url", "https://api.telegram.org")),
                telegram_token=_secret(_opt(settings, "notify", "telegram_token", None)),
                telegram_chat_id=_opt(settings, "notify", "telegram_chat_id", None),
                on_batches=bool(_opt(settings, "notify", "on_batches", True)),
                min_alert_level=str(_opt(settings, "notify", "min_alert_level", "warning")),
            ),
            redact=redactor,
        )
        observer = Observers(metrics, notifier, redact=redactor)
        # Default kill-switch file: next to the journal (``touch .delever/STOP`` stops the daemon).
        kill_switch = KillSwitch(_opt(settings, "engine", "kill_switch_path", journal.path.with_name("STOP")))
        exec_cfg = executor_config(settings)
        executor = Executor(
            journal=journal, lending=lending, venue=venue, clock=clock, config=exec_cfg, observer=observer,
            stop_requested=lambda: kill_switch.tripped,
        )
        first = executor.read(lending.snapshot)
        from strategies import load_policy
        from strategies.helpers import main_collateral, main_debt

        collateral, debt = main_collateral(first.position), main_debt(first.position)
        if collateral is None or debt is None:
            raise DeleverError("the wallet has no Aave collateral or no debt to manage")
        policy = load_policy(
            str(_opt(settings, "policy", "name", "threshold")), dict(_opt(settings, "policy", "params", {}))
        )
        limits = _plan_limits(settings)
        controller_cfg = ControllerConfig(
            collateral=collateral.symbol, debt=debt.symbol, market=exec_cfg.market, base_coin=exec_cfg.base_coin,
            quote_coin=exec_cfg.quote_coin,
            cooldown_s=float(_opt(settings, "limits", "cooldown_s", 0.0)),
            max_consecutive_failures=int(_opt(settings, "engine", "max_consecutive_failures", 3)),
            sweep_min_usd=Decimal(str(_opt(settings, "engine", "sweep_min_usd", "10"))),
            **tick_timing(settings, has_head=real.head is not None),
            max_daily_usd=_decimal_or_none(_opt(settings, "limits", "max_daily_usd", None)),
            max_oracle_divergence_bps=exec_cfg.max_oracle_divergence_bps,
        )
        controller = Controller(
            executor=executor, lending=lending, venue=venue, clock=clock,
            plan_fn=policy_plan_fn(policy, limits=limits, venue=venue, market=exec_cfg.market,
                                   hold_to_target=bool(_opt(settings, "engine", "hold_to_target", False))),
            config=controller_cfg, observer=observer, stop_requested=lambda: kill_switch.tripped,
            on_snapshot=lambda s: _observe(s, metrics=metrics, lending=real.lending, hf_floor=limits.hf_floor),
            head=real.head,
        )
    except BaseException:
        journal.close()
        raise
    metrics_on = bool(_opt(settings, "metrics", "enabled", True))
    port = int(_opt(settings, "metrics", "port", 0)) if metrics_on else 0
    return Runtime(
        mode=mode, journal=journal, executor=executor, controller=controller, metrics=metrics, notifier=notifier,
        kill_switch=kill_switch, metrics_port=port, metrics_host=str(_opt(settings, "metrics", "host", "127.0.0.1")),
    )


def _observe(snapshot: Any, *, metrics: Metrics, lending: Any, hf_floor: Decimal) -> None:
    metrics.observe_hf(snapshot.health_factor)
    apply_gas_urgency(lending, hf=snapshot.health_factor, hf_floor=hf_floor)


def apply_gas_urgency(lending: Any, *, hf: Decimal | None, hf_floor: Decimal) -> Decimal | None:
    """Scale the tx sender's fee urgency with HF's distance to the floor (never "wait for cheap
    gas"). Works on any Lending whose ``sender.config`` is a dataclass with ``urgency``."""
    import dataclasses

    sender = getattr(lending, "sender", None)
    config = getattr(sender, "config", None)
    if config is None or not dataclasses.is_dataclass(config) or not hasattr(config, "urgency"):
        return None
    urgency = urgency_multiplier(hf=hf, hf_floor=hf_floor)
    sender.config = dataclasses.replace(config, urgency=urgency)
    return urgency


def journal_path(settings: Any) -> Path:
    """The configured journal; a dry-run keeps its own file next to it (``*.dry-run.sqlite``),
    so a simulation can never resume, or be resumed by, a batch that moved real funds."""
    path = Path(str(_opt(settings, "journal", "path", ".delever/journal.sqlite")))
    if str(getattr(settings, "mode", "dry-run")) == "dry-run":
        path = path.with_name(f"{path.stem}.dry-run{path.suffix or '.sqlite'}")
    return path


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _plan_limits(settings: Any) -> Any:
    from bot.engine.plan_types import PlanLimits

    shock = _opt(settings, "limits", "price_shock_bps", None)
    return PlanLimits(
        hf_floor=Decimal(str(_opt(settings, "limits", "hf_floor", "1.10"))),
        max_slippage_bps=int(_opt(settings, "limits", "max_slippage_bps", 100)),
        price_shock_bps=int(shock) if shock is not None else 300,
        max_batch_usd=_decimal_or_none(_opt(settings, "limits", "max_batch_usd", None)),
        max_daily_usd=_decimal_or_none(_opt(settings, "limits", "max_daily_usd", None)),
        min_batch_usd=Decimal(str(_opt(settings, "limits", "min_batch_usd", "0"))),
    )

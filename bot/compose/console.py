"""Build the operator's console from ``Settings``: the same reads as ``status --json``,
``plan --json`` and ``history`` (through ``bot.compose.live``), the daemon's kill switch as its
stop control and ``run --clear-halt``'s function as its clear-halt control.

    source = console_source(settings)                      # beside a daemon (`delever console`)
    source = console_source(settings, stop=runtime.kill_switch.trip)   # inside it (`run --console`)
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.compose import configs
from bot.console.app import build_app
from bot.console.server import Bind, ConsoleServer
from bot.console.source import ConsoleSource, ControlRefused, Thresholds
from bot.engine.journal import Journal, JournalLocked
from bot.errors import ConfigError, UserInputError
from bot.redact import register_secrets
from bot.settings import ConsoleConfig, Settings
from bot.settings.types import is_loopback_host

STOP_ASKED = "console: stop after the current step"


def console_source(settings: Settings, *, stop: Callable[[str], None] | None = None) -> ConsoleSource:
    """``stop``: the running daemon's kill switch (``run --console``); without it the console
    writes the kill-switch file the daemon of ``settings`` watches."""

    def status() -> dict[str, Any]:
        from bot.cli.status_cmd import status_json

        return status_json(settings)

    def plan() -> dict[str, Any]:
        from bot.cli.plan_cmd import build_input, make_plan

        plan_input = build_input(
            settings=settings,
            saved=None,
            target_hf=None,
            policy_name=None,
            policy_sets=[],
            limit_overrides={},
            depth_usd=None,
            gas_usd=None,
        )
        return make_plan(plan_input).to_dict()

    def open_journal() -> Journal | None:
        from bot.compose.live import open_journal_read_only

        try:
            return open_journal_read_only(settings)
        except UserInputError:
            return None

    def stop_daemon() -> str:
        if stop is not None:
            stop(STOP_ASKED)
            return "the daemon stops after its current step"
        path = configs.kill_switch_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(STOP_ASKED + "\n")
        return f"the daemon stops after its current step (kill-switch file {path}: remove it to run again)"

    def clear() -> str:
        from bot.compose.daemon import clear_halt

        try:
            was, marked = clear_halt(settings, by="delever console")
        except JournalLocked:
            raise ControlRefused("the daemon holds the journal: stop it, then clear the halt") from None
        except UserInputError as exc:
            raise ControlRefused(str(exc)) from None
        return f"was {was}; cleared" + (
            f"; {len(marked)} step(s) will be reconciled on the next start" if marked else ""
        )

    return ConsoleSource(
        status=status,
        plan=plan,
        open_journal=open_journal,
        thresholds=thresholds(settings),
        stop=stop_daemon,
        clear_halt=clear,
        simulated=settings.mode == "dry-run",
    )


def thresholds(settings: Settings) -> Thresholds:
    params = dict(settings.policy.params)
    try:
        params = {**configs.policy(settings.policy).params_dict(), **params}
    except Exception:  # noqa: BLE001 - a policy file that fails to load: the lines the config names
        pass
    return Thresholds(
        mode=settings.mode,
        hf_trigger=_decimal(params.get("trigger_hf")),
        hf_target=_decimal(params.get("target_hf")),
        hf_floor=settings.limits.hf_floor,
        max_batch_usd=settings.limits.max_batch_usd,
        max_daily_usd=settings.limits.max_daily_usd,
    )


def console_config(settings: Settings, *, host: str | None = None, port: int | None = None) -> ConsoleConfig:
    """The ``[console]`` section with the command line's ``--host``/``--port`` on top, checked
    again (a non-loopback host needs the token and TLS): ``ConfigError`` (exit 2)."""
    section = settings.console
    if host is None and port is None:
        return section
    from pydantic import ValidationError

    data = section.model_dump()
    data.update({k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    try:
        return ConsoleConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "host"
        raise ConfigError(f"console.{where}: {first['msg'].removeprefix('Value error, ')}") from None


def console_server(
    settings: Settings,
    *,
    section: ConsoleConfig,
    stop: Callable[[str], None] | None = None,
    port: int | None = None,
) -> ConsoleServer:
    """The console's server over ``settings`` (not started). ``port`` overrides the section's (0: any free)."""
    from bot.compose.daemon import secret_values

    register_secrets(secret_values(settings))  # masked in every answer, however the settings were made
    token = section.token.get_secret_value() if section.token is not None else None
    hosts = ["127.0.0.1", "localhost", "::1", "[::1]"]
    if not is_loopback_host(section.host):
        hosts = ["*"]  # beyond loopback, the token and TLS guard the controls (the settings require both)
    app = build_app(console_source(settings, stop=stop), token=token, allowed_hosts=hosts)
    return ConsoleServer(
        app,
        Bind(
            host=section.host,
            port=section.port if port is None else port,
            tls_certfile=section.tls_certfile,
            tls_keyfile=section.tls_keyfile,
        ),
    )


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None

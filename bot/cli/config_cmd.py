"""`delever config check`: validate a config and print it with secrets masked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.common import print_json

if TYPE_CHECKING:
    from bot.settings import Settings


def register(app: typer.Typer) -> None:
    config = typer.Typer(help="Configuration.", no_args_is_help=True)
    app.add_typer(config, name="config")

    @config.command("check")
    def check(
        ctx: typer.Context,
        config_file: str = typer.Option(
            None, "--config", "-c", help="Config TOML file (overrides the global --config and DELEVER_CONFIG)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        unlock: bool = typer.Option(
            True,
            "--unlock/--no-unlock",
            help="Also decrypt the keystore to check its password (slow with a default scrypt keystore).",
        ),
    ) -> None:
        """Validate the config (--config or DELEVER_CONFIG) and print it with every secret masked."""
        # Imported here so that `delever --help` and other commands do not pay for them.
        from bot.logs import configure_from_context, get_logger
        from bot.redact import scrub
        from bot.settings import load_settings
        from bot.settings.view import masked_view, secret_status

        configure_from_context(ctx.obj)
        path = config_file or getattr(ctx.obj, "config_path", None)
        settings = load_settings(path)  # ConfigError -> one stderr line, exit 2
        signer = _check_signer(settings) if unlock else None
        policy = _check_policy(settings)
        get_logger("delever.config").debug("config_checked", mode=settings.mode, signer=signer, policy=policy)
        if as_json:
            status = secret_status(settings)
            print_json(
                {
                    "ok": True,
                    "config_path": scrub(str(path or "")),
                    "signer": signer,
                    "policy": policy,
                    "secrets": status,
                    "secret_sources": {key: secret_source(settings, key) for key, is_set in status.items() if is_set},
                    "settings": masked_view(settings),
                }
            )
        else:
            typer.echo(render_text(settings, path=str(path or ""), signer=signer, policy=policy))


def _check_signer(settings: Settings) -> str | None:
    """The signing address, proving the key (or keystore password) works; None when read-only."""
    if settings.wallet.key_source == "none":
        return None
    return settings.signer().address


def _check_policy(settings: Settings) -> str:
    """Bind the policy to its params, as the daemon does (unknown or invalid params are a
    ConfigError); its name."""
    from bot.compose import configs

    return configs.policy(settings.policy).name


def render_text(settings: Settings, *, path: str, signer: str | None, policy: str | None = None) -> str:
    """TOML-like text of the masked settings, with a header saying what was checked."""
    from bot.redact import scrub
    from bot.settings.view import masked_view, secret_status

    lines = [f"# config {scrub(path)}: ok (mode {settings.mode})"]
    if signer:
        lines.append(f"# signer {signer} ({settings.wallet.key_source})")
    if policy:
        lines.append(f"# policy {policy}: params ok")
    view = masked_view(settings)
    status = secret_status(settings)
    tables = {k: v for k, v in view.items() if isinstance(v, dict)}
    for key, value in view.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables.items():
        lines.append("")
        lines.append(f"[{name}]")
        for key, value in table.items():
            secret = status.get(f"{name}.{key}")
            if secret is not None:
                shown = _toml_value(value) if secret else "(not set)"
                where = secret_source(settings, f"{name}.{key}", is_set=secret)
                lines.append(f"{key} = {shown}  # secret, from {where}")
            elif isinstance(value, dict):
                inner = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines)


def secret_source(settings: Settings, dotted: str, *, is_set: bool = True, env: Mapping[str, str] | None = None) -> str:
    """Where a set secret came from: its environment variable when that is set, else the devnet
    state file the config names (which fills only what the file and the environment leave out).
    An unset secret names the variable that would set it."""
    from bot.settings.sections import MASKED_SECRET_PATHS

    section, _, key = dotted.partition(".")
    variable = MASKED_SECRET_PATHS.get((section, key))
    env = os.environ if env is None else env
    if variable is not None and (not is_set or any(name.upper() == variable and v for name, v in env.items())):
        return variable
    if variable is not None and settings.devnet_state is not None:
        return f"the devnet state file {settings.devnet_state}"
    return variable or "the config file or the environment"


def _toml_value(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

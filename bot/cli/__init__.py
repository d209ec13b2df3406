"""The ``delever`` command line. Each command lives in its own module and registers itself."""

from __future__ import annotations

import sys

import typer

from bot.cli import (
    backtest_cmd,
    config_cmd,
    console_cmd,
    data_cmd,
    demo_cmd,
    devnet_cmd,
    history_cmd,
    plan_cmd,
    run_cmd,
    status_cmd,
    stress_cmd,
)
from bot.cli.common import CliContext, hide_flag_types, run_guarded
from bot.logs import configure_from_context

hide_flag_types()

app = typer.Typer(
    name="delever",
    help="Automated deleveraging for Aave v3: withdraw collateral, sell it on an exchange under a "
    "hard slippage cap, repay the debt — with the health factor held above a floor throughout.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: str = typer.Option(
        None, "--config", "-c", envvar="DELEVER_CONFIG", help="Config TOML file (or DELEVER_CONFIG)."
    ),
    log_json: bool = typer.Option(False, "--log-json", help="JSON log lines on stderr, even on a terminal."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
) -> None:
    ctx.obj = CliContext(config_path=config, log_json=log_json, log_level=log_level)
    configure_from_context(ctx.obj)


_COMMANDS = (status_cmd, plan_cmd, run_cmd, history_cmd, backtest_cmd, stress_cmd, data_cmd, devnet_cmd, config_cmd)
for _module in (*_COMMANDS, demo_cmd, console_cmd):
    _module.register(app)


def main() -> None:
    sys.exit(run_guarded(app))

"""What every command shares: global options, one-line errors and exit codes.

Exit codes: 0 ok, 2 bad input (config, arguments), 1 runtime failure. Errors print one line on
stderr; tracebacks are never shown (they could carry secrets), unless DELEVER_DEBUG=1.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import typer

from bot.errors import UserInputError

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USER = 2


@dataclass(frozen=True, slots=True)
class CliContext:
    config_path: str | None
    log_json: bool
    log_level: str


def fail(message: str, code: int = EXIT_RUNTIME) -> NoReturn:
    typer.echo(f"delever: error: {message}", err=True)
    raise typer.Exit(code)


def print_json(payload: dict[str, Any]) -> None:
    """One JSON object on stdout and nothing else there (Decimals as strings)."""
    sys.stdout.write(json.dumps(payload, default=_json_default, sort_keys=False) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run_guarded(app: typer.Typer) -> int:
    """Run the app, mapping every failure to one stderr line and the contract's exit codes.

    Typer's own usage errors (unknown option, missing argument) already exit 2.
    """
    try:
        app()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_RUNTIME
    except UserInputError as exc:
        typer.echo(f"delever: error: {exc}", err=True)
        return EXIT_USER
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence, one line only
        if os.environ.get("DELEVER_DEBUG") == "1":
            raise
        typer.echo(f"delever: error: {type(exc).__name__}: {exc}", err=True)
        return EXIT_RUNTIME
    return EXIT_OK

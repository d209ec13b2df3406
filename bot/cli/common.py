"""What every command shares: global options, one-line errors and exit codes.

Exit codes: 0 ok, 2 bad input (config, arguments), 1 runtime failure. Errors print one line on
stderr; tracebacks are never shown (they could carry secrets), unless DELEVER_DEBUG=1. Everything
printed, on stdout and stderr, passes ``bot.redact.scrub`` (``run_guarded``).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import typer

from bot.errors import UserInputError
from bot.redact import json_default, redact_payload, scrub, scrubbed_stdio

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USER = 2


@dataclass(frozen=True, slots=True)
class CliContext:
    config_path: str | None
    log_json: bool
    log_level: str


def hide_flag_types() -> None:
    """Typer's help shows ``<bool>`` beside every flag (``--json <bool>``), as if it took a value;
    a flag takes none, so show no type for it."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "_hides_flags", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._hides_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


def fail(message: str, code: int = EXIT_RUNTIME) -> NoReturn:
    error_line(message)
    raise typer.Exit(code)


def error_line(message: str) -> None:
    """``delever: error: …`` on stderr: one line, secrets masked."""
    one_line = " ".join(scrub(str(message)).split())
    typer.echo(f"delever: error: {one_line}", err=True)


def print_json(payload: dict[str, Any]) -> None:
    """One JSON object on stdout and nothing else there (Decimals as strings)."""
    sys.stdout.write(json.dumps(redact_payload(payload), default=json_default, sort_keys=False) + "\n")
    sys.stdout.flush()


@functools.cache
def _command(app: typer.Typer) -> Any:
    """The click command Typer builds from ``app`` (built once: it inspects every signature)."""
    return typer.main.get_command(app)


def run_guarded(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run the app (on ``args``, default the command line), mapping every failure to one stderr
    line and the contract's exit codes, with all output scrubbed of secrets.

    A usage error (unknown option, missing argument, a value of the wrong type) is one line too,
    exit 2; ``--help`` and a group called without a command print the help.
    """
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
    from typer.exceptions import Abort

    with scrubbed_stdio():
        try:
            code = _command(app).main(args=args, prog_name="delever", standalone_mode=False)
        except NoArgsIsHelpError as exc:
            exc.show()
            return EXIT_USER
        except ClickException as exc:
            command = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "delever"  # type: ignore[attr-defined]
            error_line(f"{exc.format_message()} (see `{command} --help`)")
            return exc.exit_code
        except Abort:
            error_line("aborted")
            return EXIT_RUNTIME
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else EXIT_RUNTIME
        except UserInputError as exc:
            error_line(str(exc))
            return EXIT_USER
        except KeyboardInterrupt:
            return 130
        except RecursionError:
            error_line("input nested too deeply")
            return EXIT_USER
        except Exception as exc:  # noqa: BLE001 - the last line of defence, one line only
            if os.environ.get("DELEVER_DEBUG") == "1":
                raise
            error_line(f"{type(exc).__name__}: {exc}")
            return EXIT_RUNTIME
    return code if isinstance(code, int) else EXIT_OK

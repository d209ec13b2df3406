"""`delever run`: the daemon.

``--clear-halt`` (after a human review) clears a HALTED/REDUCE_ONLY journal and marks steps
awaiting review to be looked up by key again on the next start; it trades nothing. It opens
the journal the daemon of the same config uses (a dry-run's ``*.dry-run.sqlite``) and refuses
one bound to another mode or chain (exit 2).

A journal belongs to the chain it was written on (chain id and genesis block). On another
chain — e.g. the devnet after `devnet down`/`devnet up` — `run` refuses in one line (exit 2);
``--new-journal`` moves the old file aside to ``<name>.<tag>.bak`` (with its WAL) and starts a
new journal. It refuses (exit 2) to move aside a journal with a batch open on this very chain.
The same flag is the explicit way past a journal refused as damaged, or as missing while the
wallet already ran on this chain.

Exit codes: 0 stopped cleanly (``--once`` done, SIGTERM/SIGINT/SIGUSR1, kill-switch file: within
seconds, even while a step waits; the batch resumes on the next start);
1 halted (needs review, verify failed with --once, consecutive failures), another process
holds the journal or signs for the same wallet on the same chain, or the adapters are
unavailable; 2 bad config, a mode violation (testnet on a mainnet chain id, live without both
the config and ``--live``), or a journal that cannot be used here (another chain, damaged,
missing, or with nonces the chain can never reach).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from bot.cli.common import EXIT_RUNTIME, EXIT_USER, fail
from bot.errors import UserInputError

if TYPE_CHECKING:
    from bot.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        ctx: typer.Context,
        once: bool = typer.Option(False, "--once", help="Evaluate once, execute what the plan asks now, exit."),
        live: bool = typer.Option(False, "--live", help='Required, with mode = "live" in the config, to trade live.'),
        clear_halt_flag: bool = typer.Option(
            False,
            "--clear-halt",
            help="After a human review: clear a halt or reduce-only state, mark steps awaiting review to be "
            "reconciled by key on the next start, and exit. Nothing is traded.",
        ),
        new_journal: bool = typer.Option(
            False,
            "--new-journal",
            help="Move the journal aside (renamed <name>.<tag>.bak) and start a new one: for a journal written on "
            "another chain (e.g. a restarted devnet). Refused while it holds a batch open on this chain.",
        ),
        console: bool = typer.Option(
            False, "--console", help="Serve the web console (console.host:console.port) from this process too."
        ),
    ) -> None:
        """Watch the health factor and deleverage per the configured policy."""
        from bot.clock import StopRequested
        from bot.compose.adapters import AdapterUnavailable
        from bot.compose.daemon import build_runtime
        from bot.engine.journal import JournalLocked, WalletLocked
        from bot.settings import load_settings

        settings = load_settings(ctx.obj.config_path)  # ConfigError: one line, exit 2
        if clear_halt_flag:
            if new_journal:
                fail("--clear-halt and --new-journal do not go together", EXIT_USER)
            raise typer.Exit(_clear_halt(settings))
        try:
            runtime = build_runtime(settings, live_flag=live, new_journal=new_journal)
        except UserInputError as e:
            fail(str(e), EXIT_USER)
        except (JournalLocked, WalletLocked, AdapterUnavailable) as e:
            fail(str(e), EXIT_RUNTIME)
        except StopRequested:  # the kill-switch file was there while starting up
            typer.echo("delever: stop requested while starting (the kill-switch file exists?)", err=True)
            raise typer.Exit(0) from None
        runtime.kill_switch.install_signal_handlers()
        server = _start_console(settings, runtime) if console else None
        try:
            code = runtime.run(once=once)
        finally:
            if server is not None:
                server.stop()
        raise typer.Exit(code)


def _start_console(settings: Settings, runtime: Any) -> Any:
    """The console in a thread of this process; its stop control trips the daemon's kill switch."""
    from bot.compose.console import console_config, console_server

    try:
        server = console_server(settings, section=console_config(settings), stop=runtime.kill_switch.trip)
    except UserInputError as e:
        runtime.journal.close()
        fail(str(e), EXIT_USER)
    server.start()
    typer.echo(f"delever: console at {server.url}", err=True)
    return server


def _clear_halt(settings: Settings) -> int:
    from bot.compose.daemon import clear_halt
    from bot.engine.journal import JournalLocked

    try:
        was, marked = clear_halt(settings)
    except UserInputError as e:  # no such journal, or one of another mode or chain
        fail(str(e), EXIT_USER)
    except JournalLocked as e:
        fail(str(e), EXIT_RUNTIME)
    typer.echo(f"delever: was {was}; cleared", err=True)
    for key in marked:
        typer.echo(f"delever: {key} will be reconciled by key on the next start", err=True)
    return 0

"""`delever run`: the daemon.

``--clear-halt`` (after a human review) clears a HALTED/REDUCE_ONLY journal and marks steps
awaiting review to be looked up by key again on the next start; it trades nothing.

Exit codes: 0 stopped cleanly (``--once`` done, SIGTERM/SIGUSR1, kill-switch file);
1 halted (needs review, verify failed with --once, consecutive failures), another process
holds the journal, or the adapters are unavailable; 2 bad config or a mode violation
(testnet on a mainnet chain id, live without both the config and ``--live``).
"""

from __future__ import annotations

import typer

from bot.cli.common import EXIT_RUNTIME, EXIT_USER, fail


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        ctx: typer.Context,
        once: bool = typer.Option(False, "--once", help="Evaluate once, execute what the plan asks now, exit."),
        live: bool = typer.Option(False, "--live", help="Required, with mode = \"live\" in the config, to trade live."),
        clear_halt: bool = typer.Option(
            False, "--clear-halt",
            help="After a human review: clear a halt or reduce-only state, mark steps awaiting review to be "
            "reconciled by key on the next start, and exit. Nothing is traded.",
        ),
    ) -> None:
        """Watch the health factor and deleverage per the configured policy."""
        from bot.engine.journal import JournalLocked
        from bot.engine.runtime import AdapterUnavailable, build_runtime
        from bot.errors import UserInputError

        try:
            from bot.settings import load_settings
        except ImportError:
            fail("settings are not available in this build (bot.settings)", EXIT_RUNTIME)
        if clear_halt:
            raise typer.Exit(_clear_halt(load_settings(ctx.obj.config_path)))
        try:
            settings = load_settings(ctx.obj.config_path)
            runtime = build_runtime(settings, live_flag=live)
        except UserInputError as e:
            fail(str(e), EXIT_USER)
        except (JournalLocked, AdapterUnavailable) as e:
            fail(str(e), EXIT_RUNTIME)
        runtime.kill_switch.install_signal_handlers()
        raise typer.Exit(runtime.run(once=once))


def _clear_halt(settings: object) -> int:
    from pathlib import Path

    from bot.clock import SystemClock
    from bot.engine.journal import Journal, JournalLocked, StepStatus

    path = Path(str(settings.journal.path))  # type: ignore[attr-defined]
    if not path.exists():
        fail(f"no journal at {path}", EXIT_USER)
    try:
        journal = Journal(path, clock=SystemClock())
    except JournalLocked as e:
        fail(f"{e}: stop the daemon first", EXIT_RUNTIME)
    with journal:
        state, reason = journal.control()
        marked = []
        for batch in journal.open_batches():
            for row in journal.steps(batch.id):
                if row.status is StepStatus.NEEDS_REVIEW:
                    journal.mark_for_reconcile(batch.id, row.step, by="delever run --clear-halt")
                    marked.append(row.key)
        journal.clear_control(by="delever run --clear-halt")
    typer.echo(f"delever: was {state.value}{f' ({reason})' if reason else ''}; cleared", err=True)
    for key in marked:
        typer.echo(f"delever: {key} will be reconciled by key on the next start", err=True)
    return 0

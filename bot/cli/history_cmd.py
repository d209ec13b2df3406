"""`delever history`: the batches the daemon ran, from its journal.

The journal is the one ``run`` writes for the same config (a dry-run's ``*.dry-run.sqlite``),
opened read-only and without the writer lock, so this works while the daemon runs. No journal:
one line, exit 2.
"""

from __future__ import annotations

from typing import Any

import typer

from bot.cli.common import EXIT_USER, fail, print_json
from bot.errors import UserInputError


def register(app: typer.Typer) -> None:
    @app.command("history")
    def history(
        ctx: typer.Context,
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
        limit: int = typer.Option(20, "--limit", min=1, help="The newest N batches."),
        batch: str = typer.Option(None, "--batch", help="One batch in detail: its id or its number."),
    ) -> None:
        """Past batches: status, times, legs, fills, withdrawals, repaid, HF before/after, costs."""
        from bot.compose.live import open_journal_read_only
        from bot.engine.history import batch_json, summarize
        from bot.settings import load_settings_or_devnet

        settings = load_settings_or_devnet(ctx.obj.config_path if ctx.obj else None)
        simulated = settings.mode == "dry-run"
        try:
            opened = open_journal_read_only(settings)
        except UserInputError as e:  # no journal yet, or not a delever journal
            fail(str(e), EXIT_USER)
        with opened as journal:
            rows = journal.batches()
            if batch is not None:
                rows = [r for r in rows if batch in (r.id, str(r.seq))]
                if not rows:
                    fail(f"no batch {batch!r} in {journal.path}", EXIT_USER)
            else:
                rows = rows[-limit:]
            summaries = [summarize(r, journal.steps(r.id), simulated=simulated) for r in rows]
            state, reason = journal.control()
            path = journal.path
        if json_out:
            payload: dict[str, Any] = {
                "journal": str(path),
                "mode": settings.mode,
                "control": {"state": state.value, "reason": reason},
                "batches": [batch_json(s) for s in summaries],
            }
            print_json(payload)
            return
        _render(summaries, detail=batch is not None, path=str(path), control=(state.value, reason), simulated=simulated)


def _render(summaries: list[Any], *, detail: bool, path: str, control: tuple[str, str | None], simulated: bool) -> None:
    from rich.console import Console

    from bot.cli.history_view import batch_detail, batch_table

    console = Console(highlight=False, soft_wrap=False, width=None if _tty() else 200)
    kind = "dry-run (simulated) " if simulated else ""
    console.print(f"{kind}journal {path} · control {control[0]}{f' ({control[1]})' if control[1] else ''}")
    if detail:
        for summary in summaries:
            console.print(batch_detail(summary))
        return
    console.print(batch_table(summaries))
    if summaries:
        console.print("[dim]`delever history --batch N` shows one batch's legs, fill, withdrawal and costs[/]")


def _tty() -> bool:
    import sys

    return sys.stdout.isatty()

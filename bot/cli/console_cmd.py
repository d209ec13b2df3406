"""`delever console`: the operator's web console beside a running daemon.

    delever console [--port P] [--host H]

A local page (and its JSON API) over the journal, chain and exchange of the config's daemon:
HF against its lines, the batch in progress leg by leg, the plan now, halts and alerts, the
day's sales against the limit, every batch (CSV export). Serves until Ctrl-C. ``delever run
--console`` serves the same page from the daemon's own process.

Exit codes: 0 stopped; 2 a bad config or flag (a non-loopback host without
DELEVER_CONSOLE__TOKEN and TLS files, a port in use).
"""

from __future__ import annotations

import typer

from bot.cli.common import EXIT_USER, fail
from bot.errors import UserInputError


def register(app: typer.Typer) -> None:
    @app.command("console")
    def console(
        ctx: typer.Context,
        port: int = typer.Option(None, "--port", min=1, max=65535, help="TCP port (default: console.port, 8765)."),
        host: str = typer.Option(None, "--host", help="Address to bind (default: console.host, 127.0.0.1)."),
    ) -> None:
        """A live web page of the daemon: HF, the batch in progress, the plan, halts, history."""
        from bot.compose.console import console_config, console_server
        from bot.settings import load_settings_or_devnet

        settings = load_settings_or_devnet(ctx.obj.config_path if ctx.obj else None)
        try:
            section = console_config(settings, host=host, port=port)
            server = console_server(settings, section=section)
        except UserInputError as e:
            fail(str(e), EXIT_USER)
        controls = "stop and clear-halt need the token" if section.token is not None else "read-only (no token)"
        typer.echo(f"delever: console at {server.url} ({controls}); Ctrl-C stops it", err=True)
        server.serve()

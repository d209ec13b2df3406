"""`delever run`: the daemon.

Exit codes: 0 stopped cleanly (``--once`` done, SIGTERM/SIGUSR1, kill-switch file);
1 halted (needs review, verify failed with --once, consecutive failures), another process
holds the journal, or the adapters are unavailable; 2 bad config or a mode violation
(testnet on a mainnet chain id, live without both the config and ``--live``).
"""

from __future__ import annotations

import logging

import typer

from bot.cli.common import EXIT_RUNTIME, EXIT_USER, fail


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        ctx: typer.Context,
        once: bool = typer.Option(False, "--once", help="Evaluate once, execute what the plan asks now, exit."),
        live: bool = typer.Option(False, "--live", help="Required, with mode = \"live\" in the config, to trade live."),
    ) -> None:
        """Watch the health factor and deleverage per the configured policy."""
        from bot.engine.journal import JournalLocked
        from bot.engine.runtime import AdapterUnavailable, build_runtime
        from bot.errors import UserInputError

        logging.basicConfig(level=getattr(logging, str(ctx.obj.log_level).upper(), logging.INFO),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            from bot.settings import load_settings
        except ImportError:
            fail("settings are not available in this build (bot.settings)", EXIT_RUNTIME)
        try:
            settings = load_settings(ctx.obj.config_path)
            runtime = build_runtime(settings, live_flag=live)
        except UserInputError as e:
            fail(str(e), EXIT_USER)
        except (JournalLocked, AdapterUnavailable) as e:
            fail(str(e), EXIT_RUNTIME)
        runtime.kill_switch.install_signal_handlers()
        raise typer.Exit(runtime.run(once=once))

"""`delever demo`: what `make demo` runs.

Starts the devnet (anvil + Aave v3 + the exchange emulator) in ``.delever/demo/``, opens a
100 WETH position borrowed to HF 1.45, replays a real ETH crash on the oracle while the daemon
(``delever --config config/devnet.toml run``, a real subprocess) deleverages, then prints what
happened and tears everything down. Exit codes: 0 done, 1 the demo failed, 2 bad arguments,
130 interrupted.
"""

from __future__ import annotations

import signal
from pathlib import Path

import typer

from bot.cli.common import EXIT_RUNTIME, EXIT_USER, fail


class _Terminated(Exception):
    """SIGTERM to the demo: unwind like Ctrl-C so every process gets stopped."""


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        speed: float = typer.Option(
            1.0, "--speed", help="Fast-forward factor while the bot is idle (a batch always runs at round-trip scale)."
        ),
        window: str = typer.Option("2026-02", "--window", help="Crash to replay: 2026-02 or 2022-06."),
        keep: bool = typer.Option(False, "--keep", help="Leave the devnet running afterwards."),
        state_dir: Path = typer.Option(
            Path(".delever/demo"), "--state-dir", help="Where the devnet, journal and outputs go."
        ),
        png: bool = typer.Option(True, "--png/--no-png", help="Also write the HF chart as a PNG."),
    ) -> None:
        """Devnet up, replay a real ETH crash, run the daemon, show what happened."""
        from bot.demo.path import WINDOWS

        if window not in WINDOWS:
            fail(f"unknown --window {window!r}: one of {', '.join(WINDOWS)}", EXIT_USER)
        if not 0.1 <= speed <= 20:
            fail(f"--speed must be in 0.1..20, got {speed}", EXIT_USER)

        from bot.demo.runner import DemoOptions, run_demo
        from bot.demo.view import DemoView

        def on_signal(signum: int, _frame: object) -> None:
            # Once: the clean-up that follows must not be cut short by a second Ctrl-C.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            raise KeyboardInterrupt if signum == signal.SIGINT else _Terminated()

        # Installed explicitly: a shell may start the demo with SIGINT ignored (a background job).
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        view = DemoView()
        try:
            run_demo(DemoOptions(speed=speed, window=window, keep=keep, state_dir=state_dir, png=png), view)
        except (KeyboardInterrupt, _Terminated):
            view.console.print("[bold red]interrupted[/]: everything the demo started is stopped")
            raise typer.Exit(130) from None
        except Exception as e:  # noqa: BLE001 - one line for the user; the processes are already stopped
            fail(f"demo failed: {type(e).__name__}: {e}", EXIT_RUNTIME)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

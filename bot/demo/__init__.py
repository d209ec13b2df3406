"""`delever demo`: the devnet, a real ETH crash replayed on its oracle, the daemon as a real
subprocess, and a report of what it did (``runner.run_demo``; the CLI is ``bot/cli/demo_cmd.py``).

Modules: ``path`` (the shipped crash paths and the time-lapse clock, pure), ``chain`` (oracle
moves and HF reads on the devnet), ``daemon`` (the subprocess), ``journal_view`` (the daemon's
journal, read-only), ``view`` (rich output and the PNG), ``runner`` (the whole run, clean-up).
"""

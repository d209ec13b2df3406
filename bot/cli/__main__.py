"""`python -m bot.cli` — the same as the `delever` entry point (handy for subprocess tests)."""

from bot.cli import main

main()

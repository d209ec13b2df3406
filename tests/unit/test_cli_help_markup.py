"""Every help text reaches the terminal whole: typer renders help through rich markup, which
silently drops a bracketed lowercase word such as ``[limits]`` unless it is escaped."""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text

from bot.cli import app


def _help_texts(command: Any, path: str) -> list[tuple[str, str]]:
    texts = [(path, command.help or "")]
    texts += [(f"{path} {param.name}", getattr(param, "help", None) or "") for param in command.params]
    for name, sub in getattr(command, "commands", {}).items():
        texts += _help_texts(sub, f"{path} {name}")
    return texts


def test_no_help_text_loses_a_bracketed_word_to_rich_markup() -> None:
    texts = _help_texts(typer.main.get_command(app), "delever")
    assert len(texts) > 50

    swallowed = [(where, text) for where, text in texts if Text.from_markup(text).plain != text.replace("\\[", "[")]

    assert swallowed == []

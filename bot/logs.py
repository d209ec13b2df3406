"""Logging: structlog on stderr, human-readable on a terminal, JSON lines otherwise; secrets masked.

    configure_logging(json=None, level="info")   # once, at start-up
    log = get_logger(__name__)
    log.info("batch_planned", withdraw_eth="12.5", hf_after="1.42")

Both structlog loggers and the standard library's (web3, urllib3, asyncio) go through one
handler, so every line passes the same redaction: secret-looking keys are masked, registered
secret values (``bot.redact.register_secret``, done when the settings load) are replaced, and
the rendered line is scrubbed once more. Tracebacks are formatted as plain text *before*
redaction, so an exception whose message quotes a secret is masked too, and never with locals.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from bot.errors import UserInputError
from bot.redact import redact_event, scrub

LEVELS = ("debug", "info", "warning", "error")

_HANDLER_NAME = "delever-stderr"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (so captured streams work)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.set_name(_HANDLER_NAME)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class _ScrubbingFormatter(structlog.stdlib.ProcessorFormatter):
    """The last line of defence: scrub the rendered text for registered secrets."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def configure_logging(*, json: bool | None = None, level: str = "info") -> None:
    """Send all logs to stderr: JSON lines if ``json`` (or, when None, if stderr is not a TTY).

    Calling it again reconfigures (the CLI calls it once per process).
    """
    name = level.lower()
    if name not in LEVELS:
        raise UserInputError(f"--log-level: must be one of {', '.join(LEVELS)}")
    as_json = (not _stderr_is_tty()) if json is None else json
    numeric = getattr(logging, name.upper())

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=_stderr_is_tty(), exception_formatter=structlog.dev.plain_traceback)
    )
    formatter = _ScrubbingFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Render the traceback to text first, so redaction sees (and masks) its content.
            structlog.processors.format_exc_info,
            redact_event,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric)
    for noisy in ("urllib3", "web3", "asyncio", "aiohttp"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def configure_from_context(ctx_obj: Any) -> None:
    """Configure from the CLI's global options (``CliContext``: ``log_json``, ``log_level``).

    ``--log-json`` forces JSON; without it the choice follows whether stderr is a terminal.
    """
    log_json = bool(getattr(ctx_obj, "log_json", False))
    configure_logging(json=True if log_json else None, level=getattr(ctx_obj, "log_level", "info") or "info")


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False

"""Secret redaction: mask known secret values and secret-looking keys wherever text leaves the process.

Secrets are registered once, when the settings are loaded (``register_secret``); every log line,
config dump, error message, journal row and notification can then be passed through ``scrub``.
Key names that look secret (``private_key``, ``api_secret``, ``password``, ``token``,
``signature``, …) are masked whatever their value. The registry is process-wide on purpose: a
secret that reaches any log line through any path must be caught, and the logging pipeline has no
other handle on the settings.

Components that take a text filter (the journal, the notifier) get ``scrub`` itself, or a
``Redactor``, which registers more secrets and then is ``scrub``; ``install_log_redaction`` puts
the same filter on the engine's standard-library loggers, whatever handler records them.
``scrubbed_stdio`` routes stdout and stderr through ``scrub`` line by line: the command line runs
inside it, so every line it prints (text, JSON, errors, logs) is scrubbed, whatever printed it.
A secret is also masked in the spellings JSON and ``repr`` give it (escaped quotes, backslashes,
non-ASCII letters).
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

MASK = "********"

# Shorter values would mask ordinary words in every log line; they are still never printed by us.
MIN_SECRET_LENGTH = 4

_SECRET_KEY_SUFFIXES = (
    "private_key",
    "privatekey",
    "secret",
    "password",
    "passphrase",
    "passwd",
    "api_key",
    "apikey",
    "token",
    "signature",
    "mnemonic",
    "seed_phrase",
    "authorization",
    "cookie",
)
_TOKEN_LIKE = re.compile(r"^[A-Za-z0-9_\-]{16,}$")


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        variants = {value}
        body = value[2:] if value[:2] in ("0x", "0X") else value
        if len(body) >= 32 and all(c in "0123456789abcdefABCDEF" for c in body):
            variants |= {body, body.lower(), body.upper()}  # hex keys appear with and without 0x
        variants |= {_escaped for v in list(variants) for _escaped in _quoted_spellings(v)}
        variants = {v for v in variants if len(v) >= MIN_SECRET_LENGTH}
        with self._lock:
            if variants <= self._values:
                return
            self._values |= variants
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)


def _quoted_spellings(value: str) -> set[str]:
    """How ``value`` reads inside JSON (ASCII or not) and inside a Python repr: a password with a
    quote, a backslash or a non-ASCII letter is printed escaped by ``--json`` and by ``{exc}``."""
    return {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1]}


_REGISTRY = _Registry()


def register_secret(value: str | SecretStr | None) -> None:
    """Mask ``value`` (and, for hex keys, its other spellings) in everything ``scrub`` sees."""
    if value is None:
        return
    raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    raw = raw.strip()
    if raw:
        _REGISTRY.add(raw)


def register_secrets(values: Iterable[str | SecretStr | None]) -> None:
    for value in values:
        register_secret(value)


def register_url_secrets(url: str | None) -> None:
    """Register the parts of a URL that usually carry credentials (RPC API keys, webhook tokens)."""
    for part in url_secret_parts(url):
        register_secret(part)


def clear_secrets() -> None:
    """Forget every registered secret (tests only)."""
    _REGISTRY.clear()


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by the mask."""
    return _REGISTRY.scrub(text)


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret (``wallet_private_key``, ``X-MBX-APIKEY``, ``token``…)."""
    if not isinstance(key, str):
        return False
    name = key.lower().replace("-", "_")
    return name.endswith(_SECRET_KEY_SUFFIXES)


def redact(value: Any) -> Any:
    """A copy of ``value`` safe to render: secret keys masked, registered secrets scrubbed.

    Containers are walked; strings are scrubbed; numbers, booleans and None pass through;
    anything else becomes its scrubbed ``repr`` (Decimal, dates and paths as plain strings).
    """
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, Mapping):
        return {k: (_mask_secret_value(v) if is_secret_key(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v) for v in value]
    if isinstance(value, (Decimal, PurePath)):
        return scrub(str(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, BaseException):
        return scrub(f"{type(value).__name__}: {value}")
    if isinstance(value, bytes):
        return scrub(repr(value)) if len(value) < 32 else MASK  # 32+ raw bytes may be a key
    return scrub(repr(value))


def redact_payload(payload: Any) -> Any:
    """``payload`` with every registered secret masked in its strings and keys (Decimals kept, so
    JSON shows them exactly through :func:`json_default`)."""
    if isinstance(payload, dict):
        return {scrub(str(k)): redact_payload(v) for k, v in payload.items()}
    if isinstance(payload, (list, tuple)):
        return [redact_payload(v) for v in payload]
    if isinstance(payload, Decimal) or payload is None or isinstance(payload, (bool, int, float)):
        return payload
    return redact(payload)


def json_default(value: Any) -> Any:
    """``json.dumps``'s fallback: a Decimal as its exact text, anything else refused."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _mask_secret_value(value: Any) -> Any:
    if value is None or value == "":
        return value
    return MASK


def redact_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask secrets anywhere in the event dict."""
    return redact(event_dict)


def url_secret_parts(url: str | None) -> list[str]:
    """Credentials inside a URL: the userinfo, token-like path segments and query values.

    ``https://eth-mainnet.g.alchemy.com/v2/AbC…`` carries its API key in the path; Infura puts it
    there too; Slack and Discord webhooks put their secret in the last segments.
    """
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if parts.password:
        found.append(parts.password)
    if parts.username and parts.password:
        found.append(parts.username)
    found += [seg for seg in parts.path.split("/") if _TOKEN_LIKE.match(seg)]
    for pair in parts.query.split("&"):
        _, _, val = pair.partition("=")
        if _TOKEN_LIKE.match(val):
            found.append(val)
    return found


def mask_url(url: str | None) -> str | None:
    """The URL with its credential parts masked, for display."""
    if url is None:
        return None
    masked = url
    for part in sorted(url_secret_parts(url), key=len, reverse=True):
        masked = masked.replace(part, MASK)
    return scrub(masked)


class Redactor:
    """``scrub`` as an object to hand to the journal and the notifier: constructing one registers
    ``secrets`` (e.g. every ``SecretStr`` of hand-built settings) in the process-wide registry."""

    def __init__(self, secrets: Iterable[str | SecretStr | None] = ()) -> None:
        register_secrets(secrets)

    def __call__(self, text: str) -> str:
        return scrub(text)


ENGINE_LOGGERS = ("delever.executor", "delever.controller", "delever.notify", "delever.runtime")


class RedactingFilter(logging.Filter):
    """Render each record once and mask every registered secret in it, before any handler
    (ours, a test's, a host application's) sees it."""

    def __init__(self, redact: Callable[[str], str] = scrub) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redact(record.getMessage())
        record.args = ()
        return True


def install_log_redaction(redact: Callable[[str], str] = scrub) -> None:
    """Attach the filter to the engine's loggers (a logger's filters see only its own records)."""
    for name in ENGINE_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(old)
        logger.addFilter(RedactingFilter(redact))


class ScrubbingStream(io.TextIOBase):
    """A text stream that masks every registered secret in what is written to it, line by line
    (a secret never holds a newline, so one split across two writes of a line is still caught)."""

    def __init__(self, target: Any) -> None:
        super().__init__()
        self.target = target
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        head, newline, tail = self._pending.rpartition("\n")
        if newline:
            self._pending = tail
            self.target.write(scrub(head + newline))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            self.target.write(scrub(pending))
        self.target.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.target, "isatty", lambda: False)())

    def fileno(self) -> int:
        return int(self.target.fileno())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return getattr(self.target, "errors", None) or "strict"


@contextmanager
def scrubbed_stdio() -> Iterator[None]:
    """Route everything written to stdout and stderr (echo, rich tables, JSON, log lines, error
    lines) through ``scrub`` for the duration: the one gate every line the CLI prints passes."""
    saved = sys.stdout, sys.stderr
    if isinstance(sys.stdout, ScrubbingStream) and isinstance(sys.stderr, ScrubbingStream):
        yield
        return
    sys.stdout, sys.stderr = ScrubbingStream(saved[0]), ScrubbingStream(saved[1])
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed pipe: nothing more can be shown
        sys.stdout, sys.stderr = saved

"""Notifications: a JSON webhook and Telegram, on batches, halts and errors.

Sending happens on a background thread with short timeouts: a slow or failing endpoint never
delays or stops trading. Every message passes ``bot.redact.scrub`` (every registered secret
masked) before it leaves the process; the Telegram bot token is registered too, and lives only
in the request URL, which is never logged.

Alerts pass one gate (``Observers``): the same alert — its level and its words, numbers aside
(a divergence of 212 bps and one of 215 bps are the same alert) — within ``repeat_after_s`` of
the last one sent is counted, not logged above debug nor sent; the next one sent says how many
were held back.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.engine.executor import Observer
from bot.engine.journal import BatchStatus, StepStatus
from bot.redact import register_secret, scrub

log = logging.getLogger("delever.notify")


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    webhook_urls: tuple[str, ...] = ()
    telegram_api_url: str = "https://api.telegram.org"
    telegram_token: str | None = None  # a secret: from the environment only
    telegram_chat_id: str | None = None
    timeout_s: float = 3.0
    on_batches: bool = True
    min_alert_level: str = "warning"  # info < warning < critical
    repeat_after_s: float = 0.0  # the same alert again within this: counted, not sent (0: every one)


_LEVELS = {"info": 0, "warning": 1, "critical": 2}


class Notifier(Observer):
    def __init__(self, config: NotifyConfig, *, redact: Callable[[str], str] = scrub, source: str = "delever") -> None:
        self.config = config
        register_secret(config.telegram_token)
        self._redact = redact
        self._source = source
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1000)
        self.sent = 0
        self.failed = 0
        self._worker: threading.Thread | None = None
        if self.enabled:
            self._worker = threading.Thread(target=self._run, name="delever-notify", daemon=True)
            self._worker.start()

    @property
    def enabled(self) -> bool:
        return bool(self.config.webhook_urls or (self.config.telegram_token and self.config.telegram_chat_id))

    # Observer
    def batch_done(self, *, batch_id: str, status: BatchStatus, accounting: dict[str, Any]) -> None:
        if not self.config.on_batches and status is BatchStatus.DONE:
            return
        level = "info" if status is BatchStatus.DONE else "warning"
        summary = {k: v for k, v in accounting.items() if k != "steps"}
        self.send(
            "batch",
            level,
            f"batch {batch_id} {status.value}",
            {"batch_id": batch_id, "status": status.value, **summary},
        )

    def alert(self, level: str, message: str) -> None:
        if _LEVELS.get(level, 2) >= _LEVELS.get(self.config.min_alert_level, 1):
            self.send("alert", level, message, {})

    def step_done(self, *, batch_id: str, step: str, status: StepStatus, seconds: float) -> None:
        return None

    # sending
    def send(self, kind: str, level: str, text: str, fields: dict[str, Any]) -> None:
        if not self.enabled:
            return
        payload = {"source": self._source, "kind": kind, "level": level, "text": text, **fields}
        safe = json.loads(self._redact(json.dumps(payload, default=str)))
        try:
            self._queue.put_nowait(safe)
        except queue.Full:
            self.failed += 1

    def flush(self, timeout: float = 10.0) -> None:
        """Wait (bounded) until everything queued has been tried (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                for url in self.config.webhook_urls:
                    self._post(url, item, label="webhook")
                if self.config.telegram_token and self.config.telegram_chat_id:
                    url = f"{self.config.telegram_api_url.rstrip('/')}/bot{self.config.telegram_token}/sendMessage"
                    text = f"[{item['level']}] {item['text']}"
                    self._post(url, {"chat_id": self.config.telegram_chat_id, "text": text}, label="telegram")
            finally:
                self._queue.task_done()

    def _post(self, url: str, body: dict[str, Any], *, label: str) -> None:
        data = json.dumps(body, default=str).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:  # noqa: S310 - configured URL
                response.read()
            self.sent += 1
        except Exception as e:  # noqa: BLE001 - notifying must never stop trading
            self.failed += 1
            # Never the URL: a Telegram URL carries the bot token.
            log.warning("%s notification failed: %s", label, type(e).__name__)


class AlertGate:
    """Lets an alert through unless the same one (level and words, numbers masked) went
    through less than ``window_s`` ago; counts the ones it holds back."""

    _NUMBERS = re.compile(r"\d+(?:[.,]\d+)*")
    _MAX_KEYS = 1000  # a long run's distinct alerts: forget the stale ones past this

    def __init__(self, window_s: float, *, now: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._now = now
        self._sent_at: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def admit(self, level: str, message: str) -> int | None:
        """None: hold this one back; otherwise how many alike were held back since the last."""
        if self.window_s <= 0:
            return 0
        key = f"{level}|{self._NUMBERS.sub('#', message)}"
        now = self._now()
        last = self._sent_at.get(key)
        if last is not None and now - last < self.window_s:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        if len(self._sent_at) >= self._MAX_KEYS:
            for stale in [k for k, t in self._sent_at.items() if now - t >= self.window_s]:
                del self._sent_at[stale]
        self._sent_at[key] = now
        return self._held.pop(key, 0)


_LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL}


class Observers(Observer):
    """Fan out to several observers; one failing observer never reaches the executor.
    Alert text is redacted once, here, before anything logs or sends it; an alert repeated
    within ``repeat_after_s`` is held back (``AlertGate``) and counted in the next one."""

    def __init__(
        self,
        *observers: Observer,
        redact: Callable[[str], str] = scrub,
        repeat_after_s: float = 0.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._observers = [o for o in observers if o is not None]
        self._redact = redact
        self.gate = AlertGate(repeat_after_s, now=now)

    def step_done(self, **kw: Any) -> None:
        self._each("step_done", **kw)

    def batch_done(self, **kw: Any) -> None:
        self._each("batch_done", **kw)

    def blocked(self, **kw: Any) -> None:
        self._each("blocked", **kw)

    def alert(self, level: str, message: str) -> None:
        message = self._redact(message)
        held = self.gate.admit(level, message)
        if held is None:
            log.debug("alert [%s] repeated, not sent: %s", level, message)
            return
        if held:
            message = f"{message} (and {held} more like it since the last alert)"
        if level == "info":
            log.info("%s", message)
        else:
            log.log(_LOG_LEVELS.get(level, logging.CRITICAL), "alert [%s] %s", level, message)
        self._each("alert", level, message)

    def _each(self, method: str, *args: Any, **kw: Any) -> None:
        for o in self._observers:
            try:
                getattr(o, method)(*args, **kw)
            except Exception as e:  # noqa: BLE001 - observers must never stop trading
                log.warning("observer %s.%s failed: %s", type(o).__name__, method, type(e).__name__)

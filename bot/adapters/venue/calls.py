"""How the adapter talks to the ccxt client: retried reads, single-shot writes, and the
in-flight window that decides when "not found" is conclusive.

Reads are retried with tenacity on an explicit predicate (transient network trouble and
malformed bodies, never rate limits: the caller waits those out). Writes are sent once;
a failure without a definite refusal raises ``WriteOutcomeUnknown`` for the caller to
reconcile by id.

In-flight window: a request we sent (or that a previous process may have sent just before
it died) can still reach the exchange after our lookup said "not found". Binance drops a
signed request older than ``recvWindow``, so a lookup made at least ``in_flight_window_s``
after the last possible send of an id is conclusive. Ids not sent by this process were, if
at all, sent before this process started. With a ``SendLog`` (the journal), each keyed write
is recorded durably before it leaves the process, so after a restart an id's last possible
send is the recorded one (or, for an id never recorded, before the log began) and a restart
after the window has passed need not wait it out again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import ccxt
import tenacity

from bot.adapters.venue import errors as venue_errors
from bot.errors import DeleverError, Halt, RateLimited, Rejected, Retryable
from bot.ports import Clock

T = TypeVar("T")


class MalformedResponse(Exception):
    """A 2xx answer that cannot be right (empty book, order without id): never guess."""


class WriteOutcomeUnknown(Exception):
    """A write got no definite answer; reconcile its id before anything else."""

    def __init__(self, op_id: str, message: str) -> None:
        super().__init__(f"{op_id}: {message}")
        self.op_id = op_id


class SendLog(Protocol):
    """Where keyed writes are recorded before they are sent, across processes."""

    def note_send(self, op_id: str, at: float) -> None: ...

    def last_send(self, op_id: str) -> float | None: ...

    def sends_recorded_since(self) -> float:
        """From when on every send is recorded (an unrecorded id was never sent after it)."""
        ...


class Calls:
    def __init__(
        self,
        client: Any,
        clock: Clock,
        *,
        in_flight_window_s: float,
        read_attempts: int = 4,
        read_backoff_s: float = 0.25,
        read_backoff_max_s: float = 4.0,
    ) -> None:
        self.client = client
        self.clock = clock
        self.in_flight_window_s = in_flight_window_s
        self.started_at = clock.now()
        self._read_attempts = read_attempts
        self._read_backoff_s = read_backoff_s
        self._read_backoff_max_s = read_backoff_max_s
        self._sent_at: dict[str, float] = {}
        self._rate_limit_streak = 0
        self._send_log: SendLog | None = None

    def record_sends_in(self, log: SendLog) -> None:
        self._send_log = log

    # -- reads -------------------------------------------------------------------------
    def read(
        self, fn: Callable[..., T], *args: Any, passthrough: tuple[type[BaseException], ...] = (), **kwargs: Any
    ) -> T:
        """Call ``fn`` with retries on transient failures; ccxt errors come out translated,
        except the classes in ``passthrough`` (e.g. OrderNotFound for lookups)."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._read_attempts),
            wait=tenacity.wait_exponential(multiplier=self._read_backoff_s, max=self._read_backoff_max_s),
            retry=tenacity.retry_if_exception(lambda e: _retry_read(e, passthrough)),
            sleep=self.clock.sleep,
            reraise=True,
        )
        try:
            result = retrying(fn, *args, **kwargs)
        except passthrough:
            self._rate_limit_streak = 0
            raise
        except MalformedResponse as exc:
            raise Retryable(f"malformed exchange response: {exc}") from None
        except ccxt.BaseError as exc:
            raise self._translated(exc, write=False) from None
        self._rate_limit_streak = 0
        return result

    # -- writes ------------------------------------------------------------------------
    def write(self, op_id: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Send once. Definite refusals raise Rejected / RateLimited / Halt / Retryable;
        anything else that fails raises ``WriteOutcomeUnknown``."""
        now = self.clock.now()
        if self._send_log is not None:
            self._send_log.note_send(op_id, now)  # durable before the request can leave
        self._sent_at[op_id] = now
        try:
            result = fn(*args, **kwargs)
        except ccxt.BaseError as exc:
            translated = self._translated(exc, write=True)
            if isinstance(translated, (RateLimited, Rejected, Halt, Retryable)):
                raise translated from None
            raise WriteOutcomeUnknown(op_id, venue_errors.safe_message(exc)) from None
        except OSError as exc:  # a transport error ccxt did not wrap
            raise WriteOutcomeUnknown(op_id, venue_errors.safe_message(exc)) from None
        self._rate_limit_streak = 0
        return result

    # -- in-flight window --------------------------------------------------------------
    def conclusive_at(self, op_id: str) -> float:
        """Time from which "not found" for ``op_id`` is conclusive."""
        return self._last_possible_send(op_id) + self.in_flight_window_s

    def _last_possible_send(self, op_id: str) -> float:
        if op_id in self._sent_at:
            return self._sent_at[op_id]
        if self._send_log is None:
            return self.started_at
        recorded = self._send_log.last_send(op_id)
        last = recorded if recorded is not None else self._send_log.sends_recorded_since()
        # An earlier process sent it, if at all, before this one started (also caps a clock
        # that jumped back since).
        return min(last, self.started_at)

    def is_conclusive(self, op_id: str) -> bool:
        return self.clock.now() >= self.conclusive_at(op_id)

    def wait_until_conclusive(self, op_id: str) -> None:
        delay = self.conclusive_at(op_id) - self.clock.now()
        if delay > 0:
            self.clock.sleep(delay)

    def was_sent(self, op_id: str) -> bool:
        return op_id in self._sent_at

    # -- helpers -----------------------------------------------------------------------
    def _translated(self, exc: ccxt.BaseError, *, write: bool) -> DeleverError:
        retry_after = None
        if venue_errors.is_rate_limit(exc):
            headers = getattr(self.client, "last_response_headers", None)
            retry_after = venue_errors.retry_after_seconds(headers, self._rate_limit_streak)
            self._rate_limit_streak += 1
        return venue_errors.translate(exc, write=write, retry_after=retry_after)


def _retry_read(exc: BaseException, passthrough: tuple[type[BaseException], ...]) -> bool:
    if passthrough and isinstance(exc, passthrough):
        return False
    return isinstance(exc, MalformedResponse) or venue_errors.is_transient(exc)

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
at all, sent before this process started.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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
        self._sent_at[op_id] = self.clock.now()
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
        last_send = max(self.started_at, self._sent_at.get(op_id, self.started_at))
        return last_send + self.in_flight_window_s

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

"""The project's exception tree, grouped by what the caller must do.

Adapters translate web3 / ccxt / HTTP errors into these; the engine never sees library errors.
"""

from __future__ import annotations


class DeleverError(Exception):
    """Base class."""


class UserInputError(DeleverError):
    """Bad configuration or arguments: report in one line, exit 2."""


class ConfigError(UserInputError):
    pass


class Halt(DeleverError):
    """Stop trading now and ask a human (reduce-only). Never retried."""


class NeedsReview(Halt):
    """The venue shows something the journal does not know about (a foreign order, a consumed nonce)."""


class Retryable(DeleverError):
    """A transient failure of a read, or of a write known not to have happened: safe to retry."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Retryable):
    """Back off (honour ``retry_after``); the request was refused, not executed."""


class OutcomeUnknown(DeleverError):
    """A write may or may not have happened (timeout, lost response, 5xx): reconcile by key first."""


class Rejected(DeleverError):
    """A write was refused for good (insufficient funds, invalid order, revert): do not retry as is."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class GuardRefused(Rejected):
    """Refused locally before anything was signed or sent (HF floor, allowlist, chain id, gas)."""


class VenueUnreachable(OutcomeUnknown):
    """The outcome is unknown because the venue does not answer (an outage): keep looking it
    up by key, with alerts, for as long as the configured bound allows; never re-send blind."""

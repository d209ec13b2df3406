"""Fault injection per route, switchable at runtime, and the request log.

A fault matches a route ``"METHOD /path"`` (method ``*`` matches any) and fires ``times``
times (None = until cleared). Kinds:

- ``delay``: sleep ``seconds`` before handling (longer than the client's timeout gives
  RequestTimeout); ``execute`` (default True) says whether the request is still carried out
  afterwards — a late order the client never hears about.
- ``status``: answer HTTP ``status`` (e.g. 503) with ``body`` (default empty) without acting.
- ``rate_limit``: HTTP 429 with Retry-After ``retry_after`` s; after ``times`` of those,
  ``ban_times`` answers of HTTP 418 (the IP ban).
- ``lost``: carry the request out, then lose the answer: ``how`` = "504" (an empty 504;
  any other 5xx code works too, e.g. "503": Binance documents 5xx as "status unknown")
  or "drop" (close the connection without an answer).
- ``partial``: order POSTs fill at most ``fraction`` of what they would have filled.
- ``reject``: answer ``status`` (default 400) with ``{"code": code, "msg": msg}``.
- ``outage``: carry the request out and lose its answer like ``lost``; from then on EVERY
  route answers an empty HTTP 503 for ``seconds`` (the exchange goes down right after taking
  an order), or until the faults are cleared.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

KINDS = ("delay", "status", "rate_limit", "lost", "partial", "reject", "outage")


@dataclass(slots=True)
class Fault:
    route: str  # "POST /api/v3/order", "* /sapi/v1/capital/withdraw/apply"
    kind: str
    times: int | None = 1
    seconds: float = 0.0
    execute: bool = True
    status: int = 503
    body: Any = ""
    retry_after: int = 1
    ban_times: int = 0
    how: str = "504"
    fraction: Decimal = Decimal("0.5")
    code: int = -2010
    msg: str = ""
    fired: int = 0
    _banning: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {', '.join(KINDS)})")
        method, _, path = self.route.strip().partition(" ")
        if not path.startswith("/"):
            raise ValueError("route must look like 'POST /api/v3/order' ('*' for any method)")
        self.route = f"{method.upper()} {path}"
        self.fraction = Decimal(str(self.fraction))
        if self.kind == "reject" and self.status == 503:
            self.status = 400
        self.how = str(self.how)
        if not (self.how == "drop" or (self.how.isdigit() and 500 <= int(self.how) <= 599)):
            raise ValueError("lost faults take how = 'drop' or a 5xx status such as '504'")

    def matches(self, method: str, path: str) -> bool:
        want_method, _, want_path = self.route.partition(" ")
        return (want_method in ("*", method)) and want_path == path

    def as_json(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, Decimal) else v)
            for k, v in (
                ("route", self.route),
                ("kind", self.kind),
                ("times", self.times),
                ("seconds", self.seconds),
                ("execute", self.execute),
                ("status", self.status),
                ("retry_after", self.retry_after),
                ("ban_times", self.ban_times),
                ("how", self.how),
                ("fraction", self.fraction),
                ("code", self.code),
                ("msg", self.msg),
                ("fired", self.fired),
            )
        }


@dataclass(frozen=True, slots=True)
class Firing:
    """What the server must do for one request."""

    fault: Fault
    kind: str  # the effective kind ("ban" for a rate-limit fault in its 418 phase, "down" in an outage)


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._down: tuple[Fault, float] | None = None  # an outage fault and when it ends

    def add(self, fault: Fault | None = None, **spec: Any) -> Fault:
        fault = fault or Fault(**spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._down = None

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Firing | None:
        """The first active fault for this request, counted as fired."""
        with self._lock:
            if self._down is not None:
                outage, until = self._down
                if time.time() < until:
                    return Firing(outage, "down")
                self._down = None
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                kind = fault.kind
                if fault.kind == "rate_limit" and fault.times is not None and fault.fired >= fault.times:
                    if fault._banning >= fault.ban_times:
                        continue
                    fault._banning += 1
                    kind = "ban"
                elif fault.times is not None and fault.fired >= fault.times:
                    continue
                else:
                    fault.fired += 1
                if kind == "outage":
                    self._down = (fault, time.time() + fault.seconds)
                self._faults = [f for f in self._faults if not _spent(f)]
                return Firing(fault, kind)
            return None


def _spent(fault: Fault) -> bool:
    if fault.times is None:
        return False
    if fault.kind == "rate_limit":
        return fault.fired >= fault.times and fault._banning >= fault.ban_times
    return fault.fired >= fault.times


@dataclass(slots=True)
class RequestRecord:
    time: float
    method: str
    path: str
    params: dict[str, str]
    status: int
    fault: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "params": self.params,
            "status": self.status,
            "fault": self.fault,
        }


class RequestLog:
    def __init__(self, limit: int = 10_000) -> None:
        self._records: list[RequestRecord] = []
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, method: str, path: str, params: dict[str, str], status: int, fault: str | None = None) -> None:
        clean = {k: v for k, v in params.items() if k != "signature"}
        with self._lock:
            self._records.append(RequestRecord(time.time(), method, path, clean, status, fault))
            if len(self._records) > self._limit:
                del self._records[: len(self._records) - self._limit]

    def records(self, path: str | None = None, method: str | None = None) -> list[RequestRecord]:
        with self._lock:
            return [
                r for r in self._records if (path is None or r.path == path) and (method is None or r.method == method)
            ]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

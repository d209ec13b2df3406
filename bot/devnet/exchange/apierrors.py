"""Binance error bodies the emulator answers with.

Only codes and messages that ccxt maps the same against a local URL and against
``https://api.binance.com`` (so the bot sees in tests what it will see in production).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."


def insufficient_balance() -> ApiError:
    return ApiError(400, -2010, INSUFFICIENT_BALANCE)


def mandatory(name: str) -> ApiError:
    return ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def bad_param(name: str) -> ApiError:
    return ApiError(
        400,
        -1100,
        f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.",
    )


def invalid_symbol() -> ApiError:
    return ApiError(400, -1121, "Invalid symbol.")


def filter_failure(name: str) -> ApiError:
    return ApiError(400, -1013, f"Filter failure: {name}")


def order_does_not_exist() -> ApiError:
    return ApiError(400, -2013, "Order does not exist.")


def unknown_order_sent() -> ApiError:
    return ApiError(400, -2011, "Unknown order sent.")


def new_order_rejected(msg: str) -> ApiError:
    return ApiError(400, -2010, msg)

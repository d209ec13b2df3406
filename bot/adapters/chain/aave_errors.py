"""Aave revert reasons: numeric codes → names, and decoding revert data from web3 errors.

Aave v3.0 reverts with ``Error(string)`` where the string is a number ("35"). The table in
``aave_error_codes.py`` is generated from the pinned package's ``Errors.sol``::

    python -m bot.adapters.chain.aave_errors --generate \
        devnet-deps/node_modules/@aave/core-v3/contracts/protocol/libraries/helpers/Errors.sol

and a unit test checks that it still matches the file.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode

from bot.adapters.chain.aave_error_codes import AAVE_ERRORS
from bot.errors import GuardRefused

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

_CONSTANT = re.compile(r"string public constant ([A-Z0-9_]+) = '(\d+)';\s*//\s*'?(.*?)'?\s*$", re.M)


def parse_errors_sol(text: str) -> dict[int, tuple[str, str]]:
    """``Errors.sol`` source → {code: (NAME, description)}."""
    return {int(code): (name, desc.strip()) for name, code, desc in _CONSTANT.findall(text)}


def error_name(code: int | str) -> str | None:
    try:
        entry = AAVE_ERRORS.get(int(code))
    except (TypeError, ValueError):
        return None
    return entry[0] if entry else None


@dataclass(frozen=True, slots=True)
class RevertReason:
    """A decoded revert: ``name`` is the Aave name when the message is a known code."""

    message: str  # the raw reason string ("35"), a panic description, or "" when unknown
    code: int | None = None
    name: str | None = None

    def __str__(self) -> str:
        if self.name:
            return f"{self.name} ({self.code})"
        return self.message or "reverted without a reason"


def reason_from_message(message: str) -> RevertReason:
    text = message.strip()
    if text.isdigit():
        name = error_name(text)
        return RevertReason(text, int(text), name)
    return RevertReason(text)


def decode_revert_data(data: bytes | str | None) -> RevertReason:
    """ABI revert data (``Error(string)``, ``Panic(uint256)``, or anything else) → reason."""
    raw = _as_bytes(data)
    if raw.startswith(ERROR_STRING_SELECTOR):
        try:
            (msg,) = abi_decode(["string"], raw[4:])
        except Exception:  # noqa: BLE001 - malformed revert payload: report it raw
            return RevertReason("0x" + raw.hex())
        return reason_from_message(msg)
    if raw.startswith(PANIC_SELECTOR) and len(raw) >= 36:
        return RevertReason(f"panic 0x{int.from_bytes(raw[4:36], 'big'):02x}")
    return RevertReason("0x" + raw.hex() if raw else "")


def decode_exception(exc: BaseException) -> RevertReason:
    """Reason from a web3 ``ContractLogicError`` (or any error carrying revert data)."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str | bytes) and _as_bytes(data):
        decoded = decode_revert_data(data)
        if decoded.message:
            return decoded
    message = getattr(exc, "message", None) or str(exc)
    match = re.search(r"execution reverted:?\s*(.*)", message)
    if match:
        return reason_from_message(match.group(1).strip().strip("'\""))
    return RevertReason(message)


class RevertPredicted(GuardRefused):
    """The ``eth_call`` simulation reverted: nothing was signed."""

    def __init__(self, what: str, reason: RevertReason) -> None:
        super().__init__(f"{what} would revert: {reason}", reason=str(reason))
        self.revert = reason


def _as_bytes(data: Any) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    text = str(data)
    text = text[2:] if text.startswith("0x") else text
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


def _generate(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        table = parse_errors_sol(fh.read())
    lines = [
        '"""Aave v3.0 revert codes → (name, description), generated from the pinned Errors.sol."""',
        "",
        "# Regenerate: python -m bot.adapters.chain.aave_errors --generate PATH/TO/Errors.sol",
        "AAVE_ERRORS: dict[int, tuple[str, str]] = {",
    ]
    lines += [f"    {code}: ({name!r}, {desc!r})," for code, (name, desc) in sorted(table.items())]
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - developer tool
    if len(sys.argv) != 3 or sys.argv[1] != "--generate":
        sys.exit("usage: python -m bot.adapters.chain.aave_errors --generate PATH/TO/Errors.sol")
    sys.stdout.write(_generate(sys.argv[2]))

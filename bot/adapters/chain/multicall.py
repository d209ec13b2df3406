"""Multicall3 ``aggregate3``: many view calls in one ``eth_call``, so they share one block.

Every sub-call is ``allowFailure = true`` so the batch itself never reverts; a failed sub-call,
or return data of the wrong shape, is then reported as a ``ChainDataError`` naming the call,
never replaced by a guessed value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError

from bot.adapters.chain.abis import AGGREGATE3, AbiDecodeError, Fn
from bot.adapters.chain.rpc import retrying_read
from bot.errors import Retryable

MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"


class ChainDataError(Retryable):
    """The RPC answered with something we cannot trust (a failed sub-call, wrong lengths)."""


@dataclass(frozen=True, slots=True)
class Call:
    target: str
    fn: Fn
    args: tuple[Any, ...] = ()
    label: str = ""

    def describe(self) -> str:
        return self.label or f"{self.fn.signature} on {self.target}"


class Multicall:
    def __init__(self, w3: Web3, address: str = MULTICALL3_ADDRESS, *, gas: int | None = None) -> None:
        self._w3 = w3
        self.address = Web3.to_checksum_address(address)
        self._gas = gas

    def raw(self, calls: Sequence[Call], *, block: int | str = "latest") -> list[tuple[bool, bytes]]:
        """One ``eth_call`` of ``aggregate3``; returns (success, returnData) per call."""
        payload = AGGREGATE3.encode([(Web3.to_checksum_address(c.target), True, c.fn.encode(*c.args)) for c in calls])
        params: dict[str, Any] = {"to": self.address, "data": "0x" + payload.hex()}
        if self._gas:
            params["gas"] = self._gas
        try:
            raw = retrying_read(lambda: self._w3.eth.call(params, block), what="multicall")  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise ChainDataError(f"aggregate3 reverted: {exc}") from None
        try:
            (results,) = AGGREGATE3.decode(bytes(raw))
        except AbiDecodeError as exc:
            raise ChainDataError(f"aggregate3 returned garbage: {exc}") from None
        if len(results) != len(calls):
            raise ChainDataError(f"aggregate3 returned {len(results)} results for {len(calls)} calls")
        return [(bool(ok), bytes(data)) for ok, data in results]

    def call(self, calls: Sequence[Call], *, block: int | str = "latest") -> list[tuple[Any, ...]]:
        """Decoded outputs per call; any failed or malformed sub-call raises ``ChainDataError``."""
        out = []
        for call, (ok, data) in zip(calls, self.raw(calls, block=block), strict=True):
            if not ok:
                raise ChainDataError(f"{call.describe()} failed inside aggregate3")
            try:
                out.append(call.fn.decode(data))
            except AbiDecodeError as exc:
                raise ChainDataError(f"{call.describe()}: {exc}") from None
        return out

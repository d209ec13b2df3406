"""The DEX route on chain: one atomic deleverage through the project's adapter contract.

It goes through the same ``TxSender`` as every other write (one idempotency key → one nonce,
the same reconciliation after a crash). Before signing: the position is read fresh; the owner's
aTokens are approved to the adapter for exactly the cap (``{key}/approve``; the adapter's pull
consumes it, and a refused pre-flight revokes it: nothing stays open) unless the owner keeps a
standing approval (only the owner can start a pull), which makes the deleverage one transaction; an ``eth_call`` pre-flight of the very call must succeed and
show HF rising. The contract itself also reverts unless HF ends above where it started
(``min_health_factor_wad`` = HF now + 1 wei).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from web3 import Web3
from web3.exceptions import ContractLogicError

from bot.adapters.chain import abis
from bot.adapters.chain.aave_lending import AaveLending, require_ok
from bot.adapters.chain.dex_adapter import DeleverageOrder, DeleverageResult, decode_result, describe_revert
from bot.adapters.chain.multicall import Call
from bot.adapters.chain.rpc import retrying_read
from bot.adapters.chain.tx_sender import TxRequest
from bot.domain import from_units, health_factor_wad
from bot.errors import GuardRefused
from bot.ports import TxResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Preflight:
    """What the simulated call would do, at the block it was simulated on."""

    health_factor_before_wad: int
    result: DeleverageResult


class DexRoute:
    """``atomic_deleverage`` for the wallet of ``lending`` (the adapter's owner)."""

    def __init__(self, w3: Web3, lending: AaveLending, adapter: str) -> None:
        self.w3 = w3
        self.lending = lending
        self.sender = lending.sender
        self.wallet = lending.wallet
        self.adapter = Web3.to_checksum_address(adapter)

    def __repr__(self) -> str:
        return f"DexRoute(wallet={self.wallet}, adapter={self.adapter})"

    def order(
        self, *, collateral: str, debt: str, repay_units: int, max_collateral_in_units: int, pool_fee: int
    ) -> DeleverageOrder:
        """The adapter call for these symbols, requiring HF to end above where it is now."""
        snapshot = self.lending.snapshot()
        market = self.lending.reader.market()
        position = snapshot.position
        if position.reserve(debt).debt == 0:
            raise GuardRefused(f"atomic deleverage: no {debt} debt", reason="no debt")
        supplied = position.reserve(collateral).collateral
        if max_collateral_in_units > supplied:
            raise GuardRefused(
                f"atomic deleverage: the cap {max_collateral_in_units} exceeds the supplied {supplied} {collateral}",
                reason="more than supplied",
            )
        return DeleverageOrder(
            collateral=market.reserve(collateral).asset,
            debt=market.reserve(debt).asset,
            repay_units=repay_units,
            max_collateral_in_units=max_collateral_in_units,
            pool_fee=pool_fee,
            min_health_factor_wad=health_factor_wad(position) + 1,
        )

    def preflight(self, order: DeleverageOrder) -> Preflight:
        """``eth_call`` of the adapter call from the owner at the latest block; refuses (nothing
        signed) unless it succeeds with HF rising."""
        hf_before = health_factor_wad(self.lending.snapshot().position)
        call = {"from": self.wallet, "to": self.adapter, "data": "0x" + order.calldata().hex()}
        try:
            raw = retrying_read(lambda: self.w3.eth.call(call, "latest"), what="pre-flight")  # type: ignore[arg-type]
        except ContractLogicError as exc:
            reason = describe_revert(_revert_bytes(exc))
            raise GuardRefused(f"atomic deleverage would revert: {reason}; refusing to sign", reason=reason) from None
        result = decode_result(bytes(raw))
        if result.health_factor_wad <= hf_before:
            raise GuardRefused(
                f"atomic deleverage would not raise HF ({hf_before} -> {result.health_factor_wad} wad); refusing",
                reason="hf not rising",
            )
        return Preflight(hf_before, result)

    def atomic_deleverage(
        self, *, key: str, collateral: str, debt: str, repay_units: int, max_collateral_in_units: int, pool_fee: int
    ) -> TxResult:
        """Repay ``repay_units`` of ``debt`` selling at most ``max_collateral_in_units`` of
        ``collateral`` on the Uniswap v3 pool of ``pool_fee``, in one transaction under ``key``."""
        if self.sender.record(key) is not None:
            return self._resume(key)
        order = self.order(
            collateral=collateral,
            debt=debt,
            repay_units=repay_units,
            max_collateral_in_units=max_collateral_in_units,
            pool_fee=pool_fee,
        )
        approved_now = self._approve_a_tokens(key, collateral, max_collateral_in_units)
        try:
            checked = self.preflight(order)
        except GuardRefused:
            if approved_now:
                self._revoke_a_tokens(key, collateral)  # no approval stays open for a call never sent
            raise
        decimals = {r.symbol: r.decimals for r in self.lending.reader.market().reserves}
        log.info(
            "atomic deleverage pre-flight: repays %s %s selling %s %s, HF %s -> %s",
            from_units(checked.result.repaid_units, decimals[debt]),
            debt,
            from_units(checked.result.collateral_sold_units, decimals[collateral]),
            collateral,
            checked.health_factor_before_wad,
            checked.result.health_factor_wad,
        )
        request = TxRequest(
            to=self.adapter,
            data=order.calldata(),
            description=(
                f"atomic deleverage: repay {from_units(repay_units, decimals[debt])} {debt} selling at most "
                f"{from_units(max_collateral_in_units, decimals[collateral])} {collateral} (pool fee {pool_fee})"
            ),
        )
        return self._send(key, request)

    def _approve_a_tokens(self, key: str, collateral: str, amount: int) -> bool:
        """The owner's aTokens approved to the adapter for exactly ``amount`` (sub-key
        ``/approve``), unless a standing approval covers it (then the deleverage is the only
        transaction). True when this call approved."""
        approve_key = f"{key}/approve"
        if self.sender.record(approve_key) is not None:
            require_ok(self._resume(approve_key))
            return True
        a_token = self.lending.reader.market().reserve(collateral).a_token
        ((allowance,),) = self.lending.reader.multicall.call(
            [Call(a_token, abis.ALLOWANCE, (self.wallet, self.adapter), label=f"a{collateral}.allowance")]
        )
        if int(allowance) >= amount:
            return False
        request = TxRequest(
            to=a_token,
            data=abis.APPROVE.encode(self.adapter, amount),
            description=f"approve a{collateral} {amount} for the deleverage adapter {self.adapter}",
        )
        require_ok(self._send(approve_key, request))
        return True

    def _revoke_a_tokens(self, key: str, collateral: str) -> None:
        a_token = self.lending.reader.market().reserve(collateral).a_token
        request = TxRequest(
            to=a_token,
            data=abis.APPROVE.encode(self.adapter, 0),
            description=f"revoke the a{collateral} approval of the deleverage adapter {self.adapter}",
        )
        require_ok(self._send(f"{key}/revoke", request))

    def _send(self, key: str, request: TxRequest) -> TxResult:
        config = self.lending.config
        return self.sender.send(key, request, wait=config.wait, timeout=config.wait_timeout)

    def _resume(self, key: str) -> TxResult:
        config = self.lending.config
        return self.sender.wait(key, timeout=config.wait_timeout) if config.wait else self.sender.poll(key)


def _revert_bytes(exc: ContractLogicError) -> bytes:
    data = exc.data.get("data") if isinstance(exc.data, dict) else exc.data
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    text = str(data or "").removeprefix("0x")
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""

"""``bot.ports.Lending`` on a real Aave v3 pool: reads through ``AaveReader``, writes through
``TxSender`` (one idempotency key → one nonce; see ``tx_sender.py``).

Guards run before anything is signed, on a position read fresh at one block:
- withdraw: ``bot.domain.max_withdraw`` at the configured HF floor (the contract only refuses
  below 1.0, error 35); more than the maximum → ``GuardRefused``;
- repay / transfer / unwrap: the wallet holds what is asked; addresses are checksummed;
- every call is simulated with ``eth_call`` first (decoded Aave reason on revert), and the sender
  checks the chain id and the ETH for gas.

A key that was already signed is never re-guarded (the state moved since): it is reconciled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from web3 import Web3

from bot.adapters.chain import abis
from bot.adapters.chain.aave_reader import ETH, AaveReader
from bot.adapters.chain.multicall import Call
from bot.adapters.chain.tx_sender import TxRequest, TxSender
from bot.domain import Snapshot, from_units, max_withdraw, wad_to_decimal
from bot.domain.wadray import MAX_UINT256
from bot.errors import GuardRefused, Halt, Rejected, Retryable
from bot.ports import Outcome, TxResult

log = logging.getLogger(__name__)

VARIABLE_RATE_MODE = 2


@dataclass(frozen=True, slots=True)
class LendingConfig:
    hf_floor_wad: int  # a withdrawal must leave HF ≥ this (1e18 = 1.0)
    repay_buffer_bps: int = 10  # repay-all approves debt · (1 + 0.1 %): minutes of interest at any sane rate
    wait: bool = True  # wait for the confirmation depth before returning
    wait_timeout: float | None = None  # None: the sender's default


class AaveLending:
    def __init__(self, reader: AaveReader, sender: TxSender, config: LendingConfig) -> None:
        self.reader = reader
        self.sender = sender
        self.config = config
        self.wallet = sender.address

    def __repr__(self) -> str:
        return f"AaveLending(wallet={self.wallet})"

    # -- reads -------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        snapshot = self.reader.snapshot(self.wallet)
        if snapshot.chain_id != self.sender.config.chain_id:  # the provider switched chains under us
            raise Halt(f"the RPC now serves chain id {snapshot.chain_id}, configured {self.sender.config.chain_id}")
        return snapshot

    def lookup(self, key: str) -> TxResult | None:
        return self.sender.lookup(key)

    # -- writes --------------------------------------------------------------------------------
    def withdraw(self, *, key: str, symbol: str, amount: int) -> TxResult:
        if self.sender.record(key) is not None:
            return self._resume(key)
        position = self.snapshot().position
        reserve = position.reserve(symbol)
        effective = reserve.collateral if amount == MAX_UINT256 else amount
        if effective <= 0:
            raise GuardRefused(
                f"withdraw {symbol}: amount must be positive (have {reserve.collateral})", reason="invalid amount"
            )
        if effective > reserve.collateral:
            raise GuardRefused(
                f"withdraw {symbol}: {effective} exceeds the supplied {reserve.collateral}", reason="more than supplied"
            )
        limit = max_withdraw(position, symbol, min_hf_wad=self.config.hf_floor_wad)
        if effective > limit:
            raise GuardRefused(
                f"withdraw {symbol}: {effective} base units would take HF below the floor "
                f"{wad_to_decimal(self.config.hf_floor_wad)}; the most is {limit}",
                reason="hf floor",
            )
        market = self.reader.market()
        request = TxRequest(
            to=market.pool,
            data=abis.POOL_WITHDRAW.encode(reserve.asset, amount, self.wallet),
            description=f"withdraw {_human(amount, reserve.decimals)} {symbol}",
        )
        return self._send(key, request)

    def repay(self, *, key: str, symbol: str, amount: int) -> TxResult:
        """Repay ``amount`` (or everything with MAX_UINT256) of the variable debt in ``symbol``."""
        if self.sender.record(key) is not None:
            return self._resume(key)
        snapshot = self.snapshot()
        reserve = snapshot.position.reserve(symbol)
        if reserve.debt == 0:
            raise GuardRefused(f"repay {symbol}: no {symbol} debt", reason="no debt")
        if amount <= 0:
            raise GuardRefused(f"repay {symbol}: amount must be positive", reason="invalid amount")
        held = snapshot.wallet_balances.get(symbol, 0)
        pays = min(amount, reserve.debt)
        if held < pays:
            raise GuardRefused(f"repay {symbol}: wallet holds {held}, the repay needs {pays}", reason="balance")
        if amount == MAX_UINT256:
            allowance = -((-reserve.debt * (10_000 + self.config.repay_buffer_bps)) // 10_000) + 1
            allowance = min(allowance, held)  # never approve more than the wallet holds
        else:
            allowance = amount
        market = self.reader.market()
        self._ensure_allowance(key, symbol, spender=market.pool, amount=allowance)
        request = TxRequest(
            to=market.pool,
            data=abis.POOL_REPAY.encode(reserve.asset, amount, VARIABLE_RATE_MODE, self.wallet),
            description=f"repay {'all' if amount == MAX_UINT256 else _human(amount, reserve.decimals)} {symbol}",
        )
        return self._send(key, request)

    def approve(self, *, key: str, symbol: str, spender: str, amount: int) -> TxResult:
        """Set ``spender``'s allowance to at least ``amount`` (zero first when the token demands it)."""
        _checked_address(spender)
        self._ensure_allowance(key, symbol, spender=spender, amount=amount)
        return self.sender.lookup(f"{key}/approve") or TxResult(key=key, outcome=Outcome.OK)

    def unwrap(self, *, key: str, amount: int) -> TxResult:
        """WETH → ETH (``WETH9.withdraw``)."""
        if self.sender.record(key) is not None:
            return self._resume(key)
        weth = self.reader.market().reserve("WETH")
        held = self.snapshot().wallet_balances.get("WETH", 0)
        if not 0 < amount <= held:
            raise GuardRefused(f"unwrap: {amount} WETH base units asked, wallet holds {held}", reason="balance")
        request = TxRequest(
            to=weth.asset, data=abis.WETH_WITHDRAW.encode(amount), description=f"unwrap {_human(amount, 18)} WETH"
        )
        return self._send(key, request)

    def transfer(self, *, key: str, symbol: str, to: str, amount: int) -> TxResult:
        """ERC-20 transfer, or native ETH when ``symbol == "ETH"``."""
        if self.sender.record(key) is not None:
            return self._resume(key)
        to = _checked_address(to)
        held = self.snapshot().wallet_balances.get(symbol)
        if held is None:
            raise GuardRefused(f"transfer: unknown token {symbol}", reason="unknown token")
        if not 0 < amount <= held:
            raise GuardRefused(f"transfer {symbol}: {amount} base units asked, wallet holds {held}", reason="balance")
        if symbol == ETH:
            request = TxRequest(to=to, value=amount, description=f"send {_human(amount, 18)} ETH to {to}")
        else:
            reserve = self.reader.market().reserve(symbol)
            request = TxRequest(
                to=reserve.asset,
                data=abis.TRANSFER.encode(to, amount),
                description=f"transfer {_human(amount, reserve.decimals)} {symbol} to {to}",
            )
        return self._send(key, request)

    # -- helpers ---------------------------------------------------------------------------------
    def allowance(self, symbol: str, spender: str) -> int:
        token = self.reader.market().reserve(symbol).asset
        ((value,),) = self.reader.multicall.call(
            [Call(token, abis.ALLOWANCE, (self.wallet, Web3.to_checksum_address(spender)), label=f"{symbol}.allowance")]
        )
        return int(value)

    def _ensure_allowance(self, key: str, symbol: str, *, spender: str, amount: int) -> None:
        """Raise the allowance to ≥ ``amount`` under sub-keys ``{key}/approve-zero`` and ``{key}/approve``.

        USDT-style tokens revert on a non-zero → non-zero approve, so a non-zero allowance that
        is too small is first set to 0. Each step must be OK before the next is simulated; steps
        already signed (a resumed key) are reconciled, never signed again.
        """
        zero_key, approve_key = f"{key}/approve-zero", f"{key}/approve"
        if self.sender.record(zero_key) is not None:
            require_ok(self._resume(zero_key))
        if self.sender.record(approve_key) is not None:
            require_ok(self._resume(approve_key))
            return
        current = self.allowance(symbol, spender)
        if current >= amount:
            return
        token = self.reader.market().reserve(symbol).asset
        if current > 0:
            require_ok(self._send(zero_key, _approve_request(token, symbol, spender, 0)))
        require_ok(self._send(approve_key, _approve_request(token, symbol, spender, amount)))

    def _send(self, key: str, request: TxRequest) -> TxResult:
        return self.sender.send(key, request, wait=self.config.wait, timeout=self.config.wait_timeout)

    def _resume(self, key: str) -> TxResult:
        if self.config.wait:
            return self.sender.wait(key, timeout=self.config.wait_timeout)
        return self.sender.poll(key)


def _approve_request(token: str, symbol: str, spender: str, amount: int) -> TxRequest:
    return TxRequest(
        to=token,
        data=abis.APPROVE.encode(Web3.to_checksum_address(spender), amount),
        description=f"approve {symbol} {amount} for {spender}",
    )


def _checked_address(address: str) -> str:
    if not Web3.is_checksum_address(address):
        raise GuardRefused(f"{address!r} is not a checksummed address; refusing", reason="address")
    return address


def _human(amount: int, decimals: int) -> str:
    return "all" if amount == MAX_UINT256 else f"{from_units(amount, decimals):f}"


def require_ok(result: TxResult) -> None:
    """Go on only after a confirmed transaction: a revert is final, anything else is resumed."""
    if result.outcome is Outcome.OK:
        return
    if result.outcome is Outcome.FAILED:
        raise Rejected(f"{result.key} failed: {result.error}", reason=result.error)
    raise Retryable(f"{result.key} is not confirmed yet ({result.outcome.value}); call again to resume")

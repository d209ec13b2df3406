"""The transaction sender: one idempotency key → one nonce → one effective transaction.

Flow for ``send(key, request)``:

1. The key is known → never sign for another nonce: reconcile (``poll``) its attempts.
2. Otherwise guard before signing: RPC chain id == configured; the ``eth_call`` simulation does
   not revert (decoded Aave reason); enough ETH for ``gas · maxFee + value``.
3. Nonce = max(chain ``pending`` nonce, persisted next nonce), refused (``nonce_gap``) when the
   store runs ahead of the chain with nothing in flight to fill the gap (the chain was reset
   under the journal: such a transaction could never be mined); EIP-1559 fees from the latest
   base fee and the urgency (``fees.py``); gas = estimate · (1 + margin); sign locally.
   ``reconcile_open`` (at start) checks the same first and raises ``NonceGap`` in one line.
4. Persist the raw signed bytes and hash (fsync) BEFORE broadcasting, then broadcast. A transport
   failure of the broadcast leaves the outcome UNKNOWN; reconciliation rebroadcasts the SAME bytes.
5. ``poll`` (what ``wait`` loops on): look for a receipt of EVERY hash sent for the nonce (an
   older, replaced one may be the one mined); a receipt whose block is no longer canonical is a
   reorg → back to pending; N confirmations → OK, or FAILED with the decoded revert reason.
   No receipt: our nonce consumed anyway → a tx we never signed → ``NeedsReview``; none of our
   hashes in the pool → dropped → rebroadcast identical bytes; stuck K blocks or seconds →
   replace at the same nonce with both fee fields bumped ≥ 12.5 %, up to the cap (then alert).

Node facts seen on anvil 1.7.1 (tests rely on them): a pooled tx whose maxFee falls below the
next block's base fee is EVICTED when that block is mined (so a spike looks like a drop, and its
identical bytes are then refused: "max fee per gas less than block base fee" → we re-price);
anvil only requires a higher maxFee for a replacement (geth's both-fields rule is enforced by
``fees.is_valid_replacement`` for real nodes); ``anvil_reorg`` forgets the reorged-out tx.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from bot.adapters.chain.aave_errors import RevertPredicted, RevertReason, decode_exception
from bot.adapters.chain.fees import (
    DEFAULT_BUMP_BPS,
    DEFAULT_MIN_TIP,
    MAX_FEE_CAP_WEI,
    FeeCapReached,
    Fees,
    initial_fees,
    replacement_fees,
)
from bot.adapters.chain.rpc import is_transport_error, retrying_read, scrubbed
from bot.adapters.chain.tx_store import Attempt, TxRecord, TxStatus, TxStore
from bot.clock import SystemClock
from bot.errors import GuardRefused, Halt, NeedsReview, Retryable, UserInputError
from bot.ports import Outcome, TxResult

log = logging.getLogger(__name__)

_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "transaction already exists")
_NONCE_TOO_LOW = ("nonce too low", "nonce too small", "noncetoolow", "nonce has already been used")
_UNDERPRICED = ("underpriced", "replacement transaction", "fee too low")


class NonceGap(UserInputError):
    """The journal's nonces run ahead of the chain with nothing that can fill the gap."""


def nonce_gap(store: TxStore, sender: str, chain_id: int, pending_nonce: int) -> str | None:
    """Why nonce ``pending_nonce`` (the chain's next for ``sender``) can never be filled by a
    journalled transaction while the journal holds higher ones, or None when there is no gap.
    A nonce in the gap is fillable only by a key still in flight (signed, pending or mined:
    its stored bytes are rebroadcast); a key that finished there was mined on another chain."""
    expected = store.next_nonce(sender, chain_id)
    if expected <= pending_nonce:
        return None
    held = store.live_nonces(sender, chain_id, pending_nonce)
    for nonce in range(pending_nonce, expected):
        status = held.get(nonce)
        if status in (TxStatus.SIGNED, TxStatus.PENDING, TxStatus.MINED):
            continue
        why = "no journalled transaction holds it" if status is None else f"the journal has it {status.value}"
        return (
            f"journal {store.path} expects {sender} at nonce {expected} but the chain's next nonce is "
            f"{pending_nonce} and {why} (the chain was reset, or the journal was written on another chain): "
            f"`delever run --new-journal` moves it aside to {store.path.name}.<tag>.bak and starts a new one"
        )
    return None


@dataclass(frozen=True, slots=True)
class TxRequest:
    """What to call. ``gas`` fixes the gas limit (no estimate), e.g. 21000 for an ETH transfer."""

    to: str
    data: bytes = b""
    value: int = 0
    gas: int | None = None
    description: str = ""  # for logs and the store ("withdraw WETH 1.5"); never a secret


@dataclass(frozen=True, slots=True)
class SenderConfig:
    chain_id: int
    confirmations: int = 1
    urgency: Decimal = Decimal(1)  # ≥ 1; scales the base-fee headroom and the tip
    max_fee_cap_wei: int = MAX_FEE_CAP_WEI  # no maxFeePerGas above this, ever
    min_tip_wei: int = DEFAULT_MIN_TIP
    bump_bps: int = DEFAULT_BUMP_BPS
    gas_margin_bps: int = 2_000  # gas limit = estimate · 1.2
    stuck_blocks: int = 3  # replace after this many blocks without inclusion...
    stuck_seconds: float = 60.0  # ...or this many seconds, whichever comes first
    poll_interval: float = 0.25
    wait_timeout: float = 120.0


class TxSender:
    """Signs with a local account and owns its nonces through ``store``. Thread-safe per process;
    one sender per (account, chain) — run a single daemon per wallet."""

    def __init__(
        self, w3: Web3, account: LocalAccount, store: TxStore, config: SenderConfig, *, clock: Any = None
    ) -> None:
        self._w3 = w3
        self._account = account
        self._store = store
        self.config = config
        self._clock = clock or SystemClock()
        self.address: str = Web3.to_checksum_address(account.address)
        self._alerted: set[str] = set()
        self._lock = threading.RLock()  # one nonce allocation / reconciliation at a time

    @property
    def store(self) -> TxStore:
        """Where every key, nonce and signed hash of this sender is kept (read it, never write)."""
        return self._store

    def __repr__(self) -> str:  # never show the account object
        return f"TxSender(address={self.address}, chain_id={self.config.chain_id})"

    # -- public API --------------------------------------------------------------------------
    def send(self, key: str, request: TxRequest, *, wait: bool = True, timeout: float | None = None) -> TxResult:
        """Submit under ``key`` (or resume it), then wait for the confirmation depth."""
        result = self.submit(key, request)
        if not wait or _is_final(result):
            return result
        return self.wait(key, timeout=timeout)

    def submit(self, key: str, request: TxRequest) -> TxResult:
        """Sign, persist and broadcast once; for a known key reconcile instead of signing."""
        with self._lock:
            return self._submit(key, request)

    def _submit(self, key: str, request: TxRequest) -> TxResult:
        if self._store.get(key) is not None:
            return self.poll(key)
        self._guard_chain_id()
        self._simulate(request)
        gas = request.gas or self._estimate_gas(request)
        try:
            fees = self._market_fees()
        except FeeCapReached as exc:
            raise GuardRefused(f"{exc}; refusing to sign", reason="fee cap") from None
        self._guard_gas_funds(gas=gas, fees=fees, value=request.value)
        pending_nonce = self._read(lambda: self._w3.eth.get_transaction_count(self.address, "pending"), "nonce")
        gap = nonce_gap(self._store, self.address, self.config.chain_id, pending_nonce)
        if gap is not None:  # never sign at a nonce the chain can never reach
            raise GuardRefused(f"{gap}; refusing to sign", reason="nonce gap")
        nonce = max(pending_nonce, self._store.next_nonce(self.address, self.config.chain_id))
        record = TxRecord(
            key=key,
            sender=self.address,
            chain_id=self.config.chain_id,
            nonce=nonce,
            to=Web3.to_checksum_address(request.to),
            data="0x" + bytes(request.data).hex(),
            value=request.value,
            gas=gas,
            status=TxStatus.SIGNED,
            description=request.description,
        )
        attempt = self._sign(record, fees, index=0)
        self._store.insert_signed(record, attempt)  # durable BEFORE anything leaves the process
        log.info("tx signed key=%s nonce=%d hash=%s %s", key, nonce, attempt.tx_hash, request.description)
        self._broadcast(record, attempt, first=True)
        return self._result(key)

    def poll(self, key: str) -> TxResult:
        """One reconciliation step for ``key`` (see the module docstring). Raises ``NeedsReview``."""
        with self._lock:
            return self._poll(key)

    def _poll(self, key: str) -> TxResult:
        record = self._store.get(key)
        if record is None:
            raise KeyError(f"unknown tx key {key!r}")
        if record.status is TxStatus.NEEDS_REVIEW:
            raise NeedsReview(f"tx {key}: {record.error}")
        if record.status.terminal:
            return self._result(key)
        attempts = self._store.attempts(key)
        head = self._read(lambda: self._w3.eth.block_number, "block number")
        mined = self._canonical_receipt(attempts)
        if mined is not None:
            return self._on_receipt(record, *mined, head=head)
        if record.status is TxStatus.MINED:
            log.warning(
                "tx %s: receipt in block %s is no longer canonical (reorg); back to pending", key, record.block_number
            )
            self._store.update(
                key,
                status=TxStatus.PENDING,
                tx_hash=None,
                block_number=None,
                block_hash=None,
                gas_used=None,
                gas_cost_wei=None,
            )
        latest_nonce = self._read(lambda: self._w3.eth.get_transaction_count(self.address, "latest"), "nonce")
        if latest_nonce > record.nonce:
            mined = self._canonical_receipt(attempts)  # it may have landed between the two reads
            if mined is not None:
                return self._on_receipt(record, *mined, head=head)
            message = (
                f"nonce {record.nonce} of {self.address} was consumed by a transaction this sender never "
                f"signed for key {key}"
            )
            self._store.update(key, status=TxStatus.NEEDS_REVIEW, error=message)
            log.error("%s", message)
            raise NeedsReview(message)
        live = [a for a in attempts if not a.rejected]
        seen = [a for a in live if self._in_pool(a.tx_hash)]
        for a in seen:
            if a.broadcast != "ok":  # an uncertain broadcast that did reach the node
                self._store.set_broadcast(a.tx_hash, "ok")
        if not seen:
            best = live[-1]
            log.warning(
                "tx %s: nonce %d not in the pool (dropped?); rebroadcasting identical bytes %s",
                key,
                record.nonce,
                best.tx_hash,
            )
            if not self._broadcast(record, best, first=False, rebroadcast=True):
                # The node refuses those bytes now (e.g. maxFee below a spiked base fee): re-price.
                self._replace(record, best, head=head, next_index=attempts[-1].index + 1)
            return self._result(key)
        last = live[-1]
        if (
            head - last.sent_block >= self.config.stuck_blocks
            or self._clock.now() - last.sent_at >= self.config.stuck_seconds
        ):
            self._replace(record, last, head=head, next_index=attempts[-1].index + 1)
        return self._result(key)

    def wait(self, key: str, *, timeout: float | None = None) -> TxResult:
        """Poll until OK/FAILED or ``timeout`` (→ the PENDING/UNKNOWN result as it stands)."""
        deadline = self._clock.now() + (self.config.wait_timeout if timeout is None else timeout)
        while True:
            try:
                result = self.poll(key)
            except Retryable as exc:
                log.warning("tx %s: reconciliation read failed (%s); will retry", key, exc)
                result = self._result(key)
                if result.outcome is Outcome.PENDING:
                    result = _with_outcome(result, Outcome.UNKNOWN)
            if _is_final(result) or self._clock.now() >= deadline:
                return result
            self._clock.sleep(self.config.poll_interval)

    def lookup(self, key: str) -> TxResult | None:
        """The key's outcome after one reconciliation step, or None if it was never signed."""
        if self._store.get(key) is None:
            return None
        return self.poll(key)

    def reconcile_open(self) -> list[TxResult]:
        """Startup: refuse a nonce gap (``NonceGap``), then one reconciliation step for every
        non-final key of this sender, in nonce order."""
        self.check_nonces()
        return [self.poll(k) for k in self._store.open_keys(self.address, self.config.chain_id)]

    def check_nonces(self) -> None:
        """``NonceGap`` when the journal expects a higher nonce than the chain's next one and no
        journalled transaction can fill the gap (the chain was reset, or the journal is from
        another chain): every later transaction would wait forever, replaced up to the fee cap."""
        pending = self._read(lambda: self._w3.eth.get_transaction_count(self.address, "pending"), "nonce")
        gap = nonce_gap(self._store, self.address, self.config.chain_id, pending)
        if gap is not None:
            log.error("%s", gap)
            raise NonceGap(gap)

    def attempts(self, key: str) -> list[Attempt]:
        return self._store.attempts(key)

    def record(self, key: str) -> TxRecord | None:
        return self._store.get(key)

    # -- guards --------------------------------------------------------------------------------
    def _guard_chain_id(self) -> None:
        rpc_chain = self._read(lambda: self._w3.eth.chain_id, "chain id")
        if rpc_chain != self.config.chain_id:
            raise GuardRefused(
                f"RPC chain id {rpc_chain} differs from the configured {self.config.chain_id}; refusing to sign",
                reason="chain id mismatch",
            )

    def _simulate(self, request: TxRequest) -> None:
        call = self._call_params(request)
        try:
            self._read(lambda: self._w3.eth.call(call, "latest"), "simulation")
        except ContractLogicError as exc:
            raise RevertPredicted(request.description or "transaction", decode_exception(exc)) from None
        except Web3RPCError as exc:  # e.g. "insufficient funds for gas * price + value"
            raise GuardRefused(
                f"{request.description or 'transaction'}: the node refuses the call: "
                f"{_node_message(exc)}; refusing to sign",
                reason="node refused",
            ) from None

    def _estimate_gas(self, request: TxRequest) -> int:
        try:
            estimate = self._read(lambda: self._w3.eth.estimate_gas(self._call_params(request)), "gas estimate")
        except ContractLogicError as exc:
            raise RevertPredicted(request.description or "transaction", decode_exception(exc)) from None
        except Web3RPCError as exc:
            raise GuardRefused(
                f"{request.description or 'transaction'}: gas estimation refused: "
                f"{_node_message(exc)}; refusing to sign",
                reason="node refused",
            ) from None
        return estimate * (10_000 + self.config.gas_margin_bps) // 10_000

    def _guard_gas_funds(self, *, gas: int, fees: Fees, value: int) -> None:
        balance = self._read(lambda: self._w3.eth.get_balance(self.address, "latest"), "balance")
        need = gas * fees.max_fee_per_gas + value
        if balance < need:
            raise GuardRefused(
                f"{self.address} holds {balance} wei; needs {need} wei (gas {gas} × maxFee {fees.max_fee_per_gas}"
                f" + value {value}); refusing to sign",
                reason="insufficient ETH for gas",
            )

    # -- signing and broadcasting ------------------------------------------------------------------
    def _market_fees(self) -> Fees:
        base_fee = max(self._base_fee("latest"), self._base_fee("pending"))
        tip = self._read(lambda: self._w3.eth.max_priority_fee, "priority fee")
        return initial_fees(
            base_fee=base_fee,
            suggested_tip=tip,
            urgency=self.config.urgency,
            min_tip=self.config.min_tip_wei,
            cap=self.config.max_fee_cap_wei,
        )

    def _base_fee(self, tag: str) -> int:
        """The block's base fee; "pending" is the next block's where the node exposes it."""

        def fetch() -> int:
            try:
                block = self._w3.eth.get_block(tag)  # type: ignore[arg-type]
            except (ValueError, TypeError):  # some nodes do not serve a pending block
                return 0
            return int((block or {}).get("baseFeePerGas") or 0)

        return self._read(fetch, f"{tag} block")

    def _sign(self, record: TxRecord, fees: Fees, *, index: int) -> Attempt:
        tx = {
            "type": 2,
            "chainId": record.chain_id,
            "nonce": record.nonce,
            "to": record.to,
            "data": record.data,
            "value": record.value,
            "gas": record.gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }
        signed = self._account.sign_transaction(tx)
        head = self._read(lambda: self._w3.eth.block_number, "block number")
        return Attempt(
            tx_hash="0x" + bytes(signed.hash).hex(),
            key=record.key,
            index=index,
            raw_tx="0x" + bytes(signed.raw_transaction).hex(),
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
            sent_block=head,
            sent_at=self._clock.now(),
        )

    def _broadcast(self, record: TxRecord, attempt: Attempt, *, first: bool, rebroadcast: bool = False) -> bool:
        """Send the stored bytes once. False when the node refused them for good."""
        try:
            self._w3.eth.send_raw_transaction(HexBytes(attempt.raw_tx))
        except Exception as exc:  # noqa: BLE001 - classified below, never retried blindly
            return self._on_broadcast_error(record, attempt, exc, first=first)
        head = self._safe_head()
        if rebroadcast:
            self._store.set_broadcast(attempt.tx_hash, "ok", sent_block=head, sent_at=self._clock.now())
        else:
            self._store.set_broadcast(attempt.tx_hash, "ok")
        current = self._store.get(record.key)
        if current is not None and current.status is TxStatus.SIGNED:
            self._store.update(record.key, status=TxStatus.PENDING)
        return True

    def _on_broadcast_error(self, record: TxRecord, attempt: Attempt, exc: Exception, *, first: bool) -> bool:
        message = _node_message(exc)
        lowered = message.lower()
        if is_transport_error(exc):
            # It may or may not have reached the node: UNKNOWN, reconciled by hash and nonce.
            log.warning(
                "tx %s: broadcast of %s hit a transport error (%s); outcome unknown",
                record.key,
                attempt.tx_hash,
                type(exc).__name__,
            )
            self._store.set_broadcast(attempt.tx_hash, "unknown")
            self._store.update(record.key, status=TxStatus.PENDING)
            return True
        if any(s in lowered for s in _ALREADY_KNOWN):
            self._store.set_broadcast(attempt.tx_hash, "ok")
            self._store.update(record.key, status=TxStatus.PENDING)
            return True
        if any(s in lowered for s in _NONCE_TOO_LOW):
            log.warning("tx %s: node says nonce %d is used; reconciling", record.key, record.nonce)
            self._store.set_broadcast(attempt.tx_hash, "unknown")
            self._store.update(record.key, status=TxStatus.PENDING)
            return True
        if not first:
            # A replacement or a rebroadcast: the earlier attempts stand; a refused replacement is never mined.
            log.warning("tx %s: node refused %s: %s", record.key, attempt.tx_hash, message)
            if attempt.index > 0 and attempt.broadcast != "ok":
                self._store.set_broadcast(attempt.tx_hash, f"rejected: {message[:200]}")
            return False
        log.error("tx %s: node refused %s: %s", record.key, attempt.tx_hash, message)
        self._store.set_broadcast(attempt.tx_hash, f"rejected: {message[:200]}")
        self._store.update(record.key, status=TxStatus.REJECTED, error=f"rejected by the node: {message[:200]}")
        return False

    def _replace(self, record: TxRecord, last: Attempt, *, head: int, next_index: int) -> None:
        old = Fees(last.max_fee_per_gas, last.max_priority_fee_per_gas)
        try:
            self._guard_chain_id()  # a replacement is a new signature: same guard as the first
        except GuardRefused as exc:  # the provider changed chains under a live tx: stop everything
            raise Halt(f"tx {record.key} in flight: {exc}") from None
        try:
            market = self._market_fees()
        except FeeCapReached:
            market = None
        try:
            fees = replacement_fees(old, market=market, cap=self.config.max_fee_cap_wei, bump_bps=self.config.bump_bps)
        except FeeCapReached as exc:
            if record.key not in self._alerted:
                self._alerted.add(record.key)
                log.error("ALERT tx %s stuck at nonce %d and the fee cap is reached: %s", record.key, record.nonce, exc)
                self._store.update(record.key, error=f"fee cap reached: {exc}")
            return
        attempt = self._sign(record, fees, index=next_index)
        self._store.add_attempt(attempt)  # durable before broadcast, like the first one
        log.warning(
            "tx %s stuck since block %d; replacing at nonce %d: maxFee %d→%d tip %d→%d hash %s",
            record.key,
            last.sent_block,
            record.nonce,
            old.max_fee_per_gas,
            fees.max_fee_per_gas,
            old.max_priority_fee_per_gas,
            fees.max_priority_fee_per_gas,
            attempt.tx_hash,
        )
        self._broadcast(record, attempt, first=False)

    # -- receipts ------------------------------------------------------------------------------
    def _canonical_receipt(self, attempts: list[Attempt]) -> tuple[Attempt, Any] | None:
        for attempt in attempts:
            receipt = self._receipt(attempt.tx_hash)
            if receipt is None:
                continue
            block = self._read(lambda r=receipt: self._w3.eth.get_block(r["blockNumber"]), "block")
            if block is not None and bytes(block["hash"]) == bytes(receipt["blockHash"]):
                return attempt, receipt
        return None

    def _on_receipt(self, record: TxRecord, attempt: Attempt, receipt: Any, *, head: int) -> TxResult:
        block_number = int(receipt["blockNumber"])
        fields: dict[str, Any] = dict(
            tx_hash=attempt.tx_hash,
            block_number=block_number,
            block_hash="0x" + bytes(receipt["blockHash"]).hex(),
            gas_used=int(receipt["gasUsed"]),
            gas_cost_wei=int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice") or 0),
        )
        if head - block_number + 1 < self.config.confirmations:
            if record.status is not TxStatus.MINED or record.block_hash != fields["block_hash"]:
                self._store.update(record.key, status=TxStatus.MINED, **fields)
            return self._result(record.key)
        if int(receipt["status"]) == 1:
            self._store.update(record.key, status=TxStatus.OK, error=None, **fields)
            log.info("tx %s OK in block %d (%s)", record.key, block_number, attempt.tx_hash)
        else:
            reason = self._replay_reason(record, block_number)
            self._store.update(record.key, status=TxStatus.FAILED, error=str(reason), **fields)
            log.error("tx %s FAILED in block %d: %s", record.key, block_number, reason)
        return self._result(record.key)

    def _replay_reason(self, record: TxRecord, block_number: int) -> RevertReason:
        """Replay the reverted call with ``eth_call`` at its block to read the reason."""
        call = {"from": record.sender, "to": record.to, "data": record.data, "value": record.value, "gas": record.gas}
        try:
            self._read(lambda: self._w3.eth.call(call, block_number), "revert replay")
        except ContractLogicError as exc:
            return decode_exception(exc)
        except Retryable:
            pass
        return RevertReason("reverted (the replay did not reproduce a reason)")

    def _receipt(self, tx_hash: str) -> Any | None:
        def fetch() -> Any | None:
            try:
                return self._w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                return None

        return self._read(fetch, "receipt")

    def _in_pool(self, tx_hash: str) -> bool:
        def fetch() -> bool:
            try:
                return self._w3.eth.get_transaction(tx_hash) is not None
            except TransactionNotFound:
                return False

        return self._read(fetch, "transaction")

    # -- helpers -------------------------------------------------------------------------------
    def _call_params(self, request: TxRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "from": self.address,
            "to": Web3.to_checksum_address(request.to),
            "data": "0x" + bytes(request.data).hex(),
            "value": request.value,
        }
        if request.gas:
            params["gas"] = request.gas
        return params

    def _read(self, fn: Callable[[], Any], what: str) -> Any:
        return retrying_read(fn, what=what)

    def _safe_head(self) -> int | None:
        try:
            return self._read(lambda: self._w3.eth.block_number, "block number")
        except Retryable:
            return None

    def _result(self, key: str) -> TxResult:
        record = self._store.get(key)
        assert record is not None
        attempts = self._store.attempts(key)
        outcome = {
            TxStatus.OK: Outcome.OK,
            TxStatus.FAILED: Outcome.FAILED,
            TxStatus.REJECTED: Outcome.FAILED,
            TxStatus.MINED: Outcome.PENDING,
            TxStatus.PENDING: Outcome.PENDING,
            TxStatus.SIGNED: Outcome.UNKNOWN,
            TxStatus.NEEDS_REVIEW: Outcome.UNKNOWN,
        }[record.status]
        if outcome is Outcome.PENDING and attempts and all(a.broadcast in ("unknown", "pending") for a in attempts):
            outcome = Outcome.UNKNOWN  # never confirmed by the node
        tx_hash = record.tx_hash or (attempts[-1].tx_hash if attempts else None)
        return TxResult(
            key=key,
            outcome=outcome,
            tx_hash=tx_hash,
            block=record.block_number,
            nonce=record.nonce,
            error=record.error,
            gas_used=record.gas_used,
            gas_cost_wei=record.gas_cost_wei,
        )


def _is_final(result: TxResult) -> bool:
    return result.outcome in (Outcome.OK, Outcome.FAILED)


def _with_outcome(result: TxResult, outcome: Outcome) -> TxResult:
    return TxResult(
        key=result.key,
        outcome=outcome,
        tx_hash=result.tx_hash,
        block=result.block,
        nonce=result.nonce,
        error=result.error,
        gas_used=result.gas_used,
        gas_cost_wei=result.gas_cost_wei,
    )


def _node_message(exc: Exception) -> str:
    """The node's error message (web3 RPC errors carry a dict), never the request or its URL."""
    if isinstance(exc, requests.RequestException):
        return scrubbed(exc)
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], dict):
        return str(args[0].get("message", args[0]))
    rpc = getattr(exc, "rpc_response", None)
    if isinstance(rpc, dict) and isinstance(rpc.get("error"), dict):
        return str(rpc["error"].get("message"))
    return str(getattr(exc, "message", None) or exc)

"""Deposits and withdrawals on the exchange, keyed for reconciliation.

Withdrawal: at most one per step key. Its ``withdrawOrderId`` derives from the key; the
history is searched for it BEFORE anything is sent, so a retry after a lost response, a
crash or an exception never withdraws twice. The destination must be on the configured
allowlist (checksummed compare), checked locally before any network call.

Deposit: identified by its on-chain tx hash; credited only when the exchange says ``ok``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from eth_utils import is_address, is_checksum_address, to_checksum_address

from bot.adapters.venue.calls import Calls, MalformedResponse, WriteOutcomeUnknown
from bot.adapters.venue.fills import dec, plain, round_down
from bot.adapters.venue.ids import WITHDRAW_ID_PREFIX, withdraw_order_id
from bot.errors import (
    ConfigError,
    GuardRefused,
    NeedsReview,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Retryable,
    VenueUnreachable,
)
from bot.ports import Transfer, TransferState

DEFAULT_LOOKBACK_S = 30 * 86_400  # ccxt filters history by ``since`` on the client side: be generous
FALLBACK_WITHDRAW_STEP = Decimal("0.00000001")
_STATES = {
    "ok": TransferState.OK,
    "pending": TransferState.PENDING,
    "failed": TransferState.FAILED,
    "canceled": TransferState.FAILED,
}
_INFO_FIELDS = (
    "id",
    "withdrawOrderId",
    "status",
    "network",
    "address",
    "applyTime",
    "insertTime",
    "txId",
    "coin",
    "amount",
    "transactionFee",
)


def checksummed_allowlist(addresses: Iterable[str]) -> frozenset[str]:
    allowed = set()
    for address in addresses:
        if not is_address(address):
            raise ConfigError(f"withdrawal allowlist entry {address!r} is not an address")
        allowed.add(to_checksum_address(address))
    return frozenset(allowed)


class TransferDesk:
    def __init__(self, calls: Calls, *, allowlist: Iterable[str], lookback_s: float = DEFAULT_LOOKBACK_S) -> None:
        self._calls = calls
        self._client = calls.client
        self._allowlist = checksummed_allowlist(allowlist)
        self._lookback_s = lookback_s

    # -- deposits ----------------------------------------------------------------------
    def deposit_address(self, coin: str, network: str) -> str:
        answer = self._calls.read(self._client.fetch_deposit_address, coin, {"network": network})
        address = answer.get("address") if isinstance(answer, dict) else None
        if not address:
            raise Retryable(f"no {coin} deposit address on {network} in the exchange's answer")
        if str(address).startswith("0x"):
            if not is_address(address):
                raise Rejected(f"exchange gave a malformed {coin} deposit address", reason="invalid_address")
            return to_checksum_address(address)
        return str(address)

    def deposit(self, *, coin: str, txid: str) -> Transfer:
        records = self._calls.read(self._client.fetch_deposits, coin, self._since_ms(), None)
        wanted = txid.lower()
        matches = [r for r in records if _txid(r) is not None and _txid(r).lower() == wanted]
        if not matches:
            return Transfer(key=txid, coin=coin, amount=Decimal(0), state=TransferState.UNKNOWN, txid=txid)
        if len(matches) > 1:
            raise NeedsReview(f"{len(matches)} {coin} deposits share tx {txid}")
        record = matches[0]
        return _deposit_transfer(txid, coin, record)

    def wait_for_deposit(self, *, coin: str, txid: str, timeout_s: float, poll_s: float = 5.0) -> Transfer:
        """Poll until the exchange credits ``txid`` (or fails it); the last view on timeout."""
        deadline = self._calls.clock.now() + timeout_s
        while True:
            try:
                transfer = self.deposit(coin=coin, txid=txid)
            except Retryable as exc:  # rate limited or unreachable: keep waiting, slower if told
                transfer = None
                pause = max(poll_s, exc.retry_after or 0)
            else:
                pause = poll_s
                if transfer.state in (TransferState.OK, TransferState.FAILED):
                    return transfer
            now = self._calls.clock.now()
            if now >= deadline:
                if transfer is None:
                    return Transfer(key=txid, coin=coin, amount=Decimal(0), state=TransferState.UNKNOWN, txid=txid)
                return transfer
            self._calls.clock.sleep(min(pause, deadline - now))

    # -- withdrawals -------------------------------------------------------------------
    def withdraw(self, *, key: str, coin: str, amount: Decimal, address: str, network: str) -> Transfer:
        destination = self._allowed(address)
        if amount <= 0:
            raise GuardRefused(f"withdrawal amount must be positive, got {amount}", reason="bad_amount")
        wid = withdraw_order_id(key)
        existing = self._lookup(wid, coin, destination)
        if existing is not None:
            return existing
        step, minimum, enabled = self._withdraw_rules(coin, network)
        if not enabled:
            raise GuardRefused(
                f"{coin} withdrawals on {network} are disabled on the exchange", reason="withdraw_disabled"
            )
        sendable = round_down(amount, step)
        if sendable <= 0 or sendable < minimum:
            raise GuardRefused(
                f"{amount} {coin} is below the withdrawal minimum {minimum} (step {step})", reason="below_minimums"
            )
        params = {"network": network, "withdrawOrderId": wid}
        try:
            answer = self._calls.write(wid, self._client.withdraw, coin, plain(sendable), destination, params)
        except WriteOutcomeUnknown as exc:
            found = self._lookup(wid, coin, destination)
            if found is not None:
                return found
            raise OutcomeUnknown(
                f"withdrawal {wid}: no answer and not in the history yet ({exc}); call again to reconcile"
            ) from None
        withdrawal_id = answer.get("id") if isinstance(answer, dict) else None
        found = self._find(wid, coin)
        if found is not None:
            self._check_destination(found, destination, wid)
            return _withdrawal_transfer(wid, coin, found)
        if not withdrawal_id:
            raise OutcomeUnknown(f"withdrawal {wid}: answer without an id and not in the history yet")
        return Transfer(
            key=wid,
            coin=coin,
            amount=sendable,
            state=TransferState.PENDING,
            info={"id": str(withdrawal_id), "withdrawOrderId": wid},
        )

    def withdrawal(self, *, key: str, coin: str) -> Transfer:
        wid = withdraw_order_id(key)
        found = self._find(wid, coin)
        if found is None:
            return Transfer(key=wid, coin=coin, amount=Decimal(0), state=TransferState.UNKNOWN)
        return _withdrawal_transfer(wid, coin, found)

    def withdrawal_ids_to(self, coin: str, address: str) -> tuple[str, ...]:
        """The withdrawOrderIds of this bot's withdrawals (``dlw-…``) of ``coin`` to ``address``
        in the history window: the wallet's past on the exchange, whatever journal made them."""
        records = self._calls.read(self._client.fetch_withdrawals, coin, self._since_ms(), None)
        wanted = address.lower()
        found = []
        for record in records if isinstance(records, list) else []:
            if not isinstance(record, dict):
                continue
            wid = str(_info(record).get("withdrawOrderId") or "")
            to = str(_info(record).get("address") or record.get("address") or "")
            if wid.startswith(WITHDRAW_ID_PREFIX) and to.lower() == wanted:
                found.append(wid)
        return tuple(found)

    # -- helpers -----------------------------------------------------------------------
    def _allowed(self, address: str) -> str:
        if not isinstance(address, str) or not is_address(address):
            raise GuardRefused("withdrawal destination is not an address", reason="not_allowlisted")
        if not is_checksum_address(address):
            raise GuardRefused(f"withdrawal destination {address} is not checksummed", reason="not_allowlisted")
        if address not in self._allowlist:
            raise GuardRefused(f"withdrawal destination {address} is not on the allowlist", reason="not_allowlisted")
        return address

    def _lookup(self, wid: str, coin: str, destination: str) -> Transfer | None:
        """The withdrawal already made under ``wid``, or None once its absence is conclusive."""
        found = self._find(wid, coin)
        if found is None and not self._calls.is_conclusive(wid):
            self._calls.wait_until_conclusive(wid)
            found = self._find(wid, coin)
        if found is None:
            return None
        self._check_destination(found, destination, wid)
        return _withdrawal_transfer(wid, coin, found)

    def _find(self, wid: str, coin: str) -> dict[str, Any] | None:
        try:
            records = self._calls.read(
                self._client.fetch_withdrawals, coin, self._since_ms(), None, {"withdrawOrderId": wid}
            )
        except RateLimited:
            raise
        except Retryable as exc:
            if self._calls.was_sent(wid):
                raise VenueUnreachable(f"withdrawal {wid}: history unreadable ({exc})") from None
            raise
        matches = [r for r in records if isinstance(r, dict) and _info(r).get("withdrawOrderId") == wid]
        if len(matches) > 1:
            raise NeedsReview(f"{len(matches)} withdrawals carry withdrawOrderId {wid}")
        return matches[0] if matches else None

    def _check_destination(self, record: dict[str, Any], destination: str, wid: str) -> None:
        recorded = _info(record).get("address") or record.get("address")
        if recorded and is_address(recorded) and to_checksum_address(recorded) != destination:
            raise NeedsReview(f"withdrawal {wid} went to {recorded}, not {destination}")

    def _withdraw_rules(self, coin: str, network: str) -> tuple[Decimal, Decimal, bool]:
        """(amount step, minimum, enabled) for ``coin`` on ``network`` from capital/config/getall."""
        self._calls.read(self._client.load_markets)
        currency = (self._client.currencies or {}).get(coin)
        if not currency:
            return FALLBACK_WITHDRAW_STEP, Decimal(0), True
        network_ids = {network}
        try:
            network_ids.add(self._client.network_code_to_id(network, coin))
        except Exception:  # noqa: BLE001 - an unknown code simply matches nothing extra
            pass
        for entry in _info(currency).get("networkList") or []:
            if entry.get("network") in network_ids:
                try:
                    step = dec(
                        entry.get("withdrawIntegerMultiple") or FALLBACK_WITHDRAW_STEP, "withdrawIntegerMultiple"
                    )
                    minimum = dec(entry.get("withdrawMin") or "0", "withdrawMin")
                except MalformedResponse as exc:
                    raise Retryable(f"{coin} withdrawal rules unreadable: {exc}") from None
                enabled = entry.get("withdrawEnable", True) not in (False, "false")
                return (step if step > 0 else FALLBACK_WITHDRAW_STEP), minimum, enabled
        raise GuardRefused(f"the exchange lists no {network} network for {coin}", reason="unknown_network")

    def _since_ms(self) -> int:
        return max(0, int((self._calls.clock.now() - self._lookback_s) * 1000))


def _info(record: dict[str, Any]) -> dict[str, Any]:
    info = record.get("info")
    return info if isinstance(info, dict) else {}


def _txid(record: dict[str, Any]) -> str | None:
    value = record.get("txid") or _info(record).get("txId")
    return str(value) if value else None


def _deposit_transfer(key: str, coin: str, record: dict[str, Any]) -> Transfer:
    """A deposit: ``amount`` is what the exchange credits."""
    info = _info(record)
    try:
        amount = dec(info.get("amount", record.get("amount")), "deposit amount")
    except MalformedResponse as exc:
        raise Retryable(f"deposit {key}: {exc}") from None
    state = _STATES.get(str(record.get("status")), TransferState.PENDING)  # other words: not final yet
    if str(info.get("status")) == "7":  # "wrong deposit": never credited
        state = TransferState.FAILED
    return Transfer(
        key=key, coin=coin, amount=amount, state=state, txid=_txid(record), fee=Decimal(0), info=_kept(info)
    )


def _withdrawal_transfer(key: str, coin: str, record: dict[str, Any]) -> Transfer:
    """A withdrawal: ``amount`` is the gross amount taken from the exchange balance (what was
    requested), ``fee`` the network fee, so ``amount - fee`` is what lands on chain. Binance's
    history reports ``amount`` net of ``transactionFee`` (the raw value stays in ``info``)."""
    info = _info(record)
    try:
        net = dec(info.get("amount", record.get("amount")), "withdrawal amount")
        fee = dec(info.get("transactionFee") or "0", "transactionFee")
    except MalformedResponse as exc:
        raise Retryable(f"withdrawal {key}: {exc}") from None
    state = _STATES.get(str(record.get("status")), TransferState.PENDING)
    return Transfer(key=key, coin=coin, amount=net + fee, state=state, txid=_txid(record), fee=fee, info=_kept(info))


def _kept(info: dict[str, Any]) -> dict[str, str]:
    return {k: str(info[k]) for k in _INFO_FIELDS if info.get(k) not in (None, "")}

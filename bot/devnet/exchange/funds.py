"""Deposits and withdrawals: the ledger side (routes, statuses, fees) of the transfer legs.

On-chain effects live in ``chain.py``: a watcher reports transfers to the deposit address
(``on_transfer``) and the head block (``on_head``); the payer sends withdrawals. Without a
chain the ledger still works: tests credit deposits through the admin API.

Deposit status: 0 pending until ``deposit_confirmations`` blocks, then 1 (credited).
Withdrawal status: 4 processing until ``withdrawal_delay_s`` has passed on the market clock
(or the admin advances it), then paid on chain and 6 completed with the txId; 5 failure
(and the amount refunded) when the payment reverts. The balance is debited by ``amount``;
the chain receives ``amount − fee``; history shows ``amount`` net of the fee and
``transactionFee``.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.devnet.exchange import apierrors
from bot.devnet.exchange.accounts import Account, fmt
from bot.devnet.exchange.apierrors import ApiError
from bot.devnet.exchange.config import CoinConfig, EmulatorConfig, MarketClock
from bot.devnet.exchange.matching import parse_int

NETWORK = "ETH"
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
NINETY_DAYS_MS = 90 * 86_400_000


@dataclass(slots=True)
class Deposit:
    deposit_id: str
    api_key: str
    coin: str
    amount: Decimal
    address: str
    tx_id: str
    block: int
    log_index: int
    insert_ms: int
    status: int = 0
    confirmations: int = 0
    complete_ms: int | None = None

    def as_json(self, needed: int) -> dict[str, Any]:
        body = {
            "id": self.deposit_id,
            "amount": fmt(self.amount),
            "coin": self.coin,
            "network": NETWORK,
            "status": self.status,
            "address": self.address,
            "addressTag": "",
            "txId": self.tx_id,
            "insertTime": self.insert_ms,
            "transferType": 0,
            "confirmTimes": f"{min(self.confirmations, needed)}/{needed}",
            "unlockConfirm": needed,
            "walletType": 0,
        }
        if self.complete_ms is not None:
            body["completeTime"] = self.complete_ms
        return body


@dataclass(slots=True)
class Withdrawal:
    withdrawal_id: str
    api_key: str
    withdraw_order_id: str | None
    coin: str
    amount: Decimal  # debited from the balance
    fee: Decimal
    address: str
    apply_ms: int
    due: float  # market-clock seconds
    status: int = 4
    tx_id: str = ""
    complete_ms: int | None = None
    info: str = ""

    @property
    def net(self) -> Decimal:
        return self.amount - self.fee

    def as_json(self) -> dict[str, Any]:
        body = {
            "id": self.withdrawal_id,
            "amount": fmt(self.net),
            "transactionFee": fmt(self.fee),
            "coin": self.coin,
            "status": self.status,
            "address": self.address,
            "txId": self.tx_id,
            "applyTime": _utc(self.apply_ms),
            "network": NETWORK,
            "transferType": 0,
            "info": self.info,
            "confirmNo": 1 if self.status == 6 else 0,
            "walletType": 0,
            "txKey": "",
        }
        if self.withdraw_order_id:
            body["withdrawOrderId"] = self.withdraw_order_id
        if self.complete_ms is not None:
            body["completeTime"] = _utc(self.complete_ms)
        return body


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _now_ms() -> int:
    return int(time.time() * 1000)


class Funds:
    """The ledger of transfers for every account. Callers hold the state lock."""

    def __init__(
        self,
        config: EmulatorConfig,
        accounts: Mapping[str, Account],
        clock: MarketClock,
        deposit_address: Callable[[Account], str],
    ) -> None:
        self.config = config
        self.coins: dict[str, CoinConfig] = dict(config.coins)
        self.accounts = accounts
        self.clock = clock
        self._deposit_address = deposit_address
        self.deposits: list[Deposit] = []
        self.withdrawals: list[Withdrawal] = []
        self._deposit_ids = itertools.count(700_000_000_001)
        self.head = 0
        self.payer: Callable[[CoinConfig, str, Decimal], str] | None = None  # set by the chain link

    def coin(self, name: str | None) -> CoinConfig:
        if not name:
            raise apierrors.mandatory("coin")
        coin = self.coins.get(name.upper())
        if coin is None:
            raise ApiError(400, -1100, f"Illegal characters found in parameter 'coin'; unknown coin {name}.")
        return coin

    def address_of(self, account: Account) -> str:
        return self._deposit_address(account)

    # -- routes ------------------------------------------------------------------------------
    def config_getall(self, account: Account) -> list[dict[str, Any]]:
        out = []
        for coin in self.coins.values():
            out.append(
                {
                    "coin": coin.coin,
                    "name": coin.name or coin.coin,
                    "depositAllEnable": True,
                    "withdrawAllEnable": True,
                    "free": fmt(account.free[coin.coin]),
                    "locked": fmt(account.locked[coin.coin]),
                    "freeze": "0",
                    "withdrawing": "0",
                    "ipoing": "0",
                    "ipoable": "0",
                    "storage": "0",
                    "isLegalMoney": False,
                    "trading": True,
                    "networkList": [
                        {
                            "network": NETWORK,
                            "coin": coin.coin,
                            "name": "Ethereum (ERC20)",
                            "isDefault": True,
                            "depositEnable": True,
                            "withdrawEnable": True,
                            "depositDesc": "",
                            "withdrawDesc": "",
                            "specialTips": "",
                            "resetAddressStatus": False,
                            "addressRegex": "^(0x)[0-9A-Fa-f]{40}$",
                            "memoRegex": "",
                            "withdrawFee": fmt(coin.withdraw_fee),
                            "withdrawMin": fmt(coin.withdraw_min),
                            "withdrawMax": fmt(coin.withdraw_max),
                            "withdrawIntegerMultiple": f"{coin.withdraw_multiple:f}",
                            "depositDust": "0.00000001",
                            "minConfirm": self.config.deposit_confirmations,
                            "unLockConfirm": self.config.deposit_confirmations,
                            "sameAddress": False,
                            "estimatedArrivalTime": 1,
                            "busy": False,
                            "contractAddress": coin.token or "",
                            "contractAddressUrl": "",
                        }
                    ],
                }
            )
        return out

    def _network(self, params: Mapping[str, str]) -> None:
        network = params.get("network")
        if network and network.upper() != NETWORK:
            raise ApiError(400, -1100, f"Illegal characters found in parameter 'network'; only {NETWORK} is served.")

    def deposit_address(self, account: Account, params: Mapping[str, str]) -> dict[str, Any]:
        coin = self.coin(params.get("coin"))
        self._network(params)
        address = self.address_of(account)
        return {"address": address, "coin": coin.coin, "tag": "", "url": f"https://etherscan.io/address/{address}"}

    def deposit_history(self, account: Account, params: Mapping[str, str]) -> list[dict[str, Any]]:
        rows = [d for d in self.deposits if d.api_key == account.api_key]
        if params.get("coin"):
            rows = [d for d in rows if d.coin == params["coin"].upper()]
        if params.get("txId"):
            rows = [d for d in rows if d.tx_id.lower() == params["txId"].lower()]
        status = parse_int(params, "status")
        if status is not None:
            rows = [d for d in rows if d.status == status]
        rows = _window(rows, params, lambda d: d.insert_ms)
        limit = min(parse_int(params, "limit") or 1000, 1000)
        offset = parse_int(params, "offset") or 0
        rows = sorted(rows, key=lambda d: d.insert_ms, reverse=True)
        return [d.as_json(self.config.deposit_confirmations) for d in rows[offset : offset + limit]]

    def withdraw(self, account: Account, params: Mapping[str, str]) -> dict[str, Any]:
        coin = self.coin(params.get("coin"))
        self._network(params)
        address = params.get("address") or ""
        if not address:
            raise apierrors.mandatory("address")
        if not ADDRESS.match(address):
            raise ApiError(400, -1100, "Illegal characters found in parameter 'address'.")
        raw_amount = params.get("amount")
        if not raw_amount:
            raise apierrors.mandatory("amount")
        try:
            amount = Decimal(raw_amount)
        except InvalidOperation:
            raise apierrors.bad_param("amount") from None
        if not amount.is_finite() or amount <= 0:
            raise apierrors.bad_param("amount")
        if amount < coin.withdraw_min or amount <= coin.withdraw_fee:
            raise ApiError(400, -1100, f"The withdrawal amount must be at least {fmt(coin.withdraw_min)} {coin.coin}.")
        if amount > coin.withdraw_max:
            raise ApiError(400, -1100, f"The withdrawal amount must be at most {fmt(coin.withdraw_max)} {coin.coin}.")
        if (amount / coin.withdraw_multiple) != (amount / coin.withdraw_multiple).to_integral_value():
            raise ApiError(400, -1111, "Precision is over the maximum defined for this asset.")
        account.debit(coin.coin, amount)  # insufficient -> Binance's insufficient-balance error
        withdrawal = Withdrawal(
            withdrawal_id=secrets.token_hex(16),
            api_key=account.api_key,
            withdraw_order_id=params.get("withdrawOrderId") or None,
            coin=coin.coin,
            amount=amount,
            fee=coin.withdraw_fee,
            address=address,
            apply_ms=_now_ms(),
            due=self.clock.now() + self.config.withdrawal_delay_s,
        )
        self.withdrawals.append(withdrawal)
        return {"id": withdrawal.withdrawal_id}

    def withdraw_history(self, account: Account, params: Mapping[str, str]) -> list[dict[str, Any]]:
        rows = [w for w in self.withdrawals if w.api_key == account.api_key]
        if params.get("coin"):
            rows = [w for w in rows if w.coin == params["coin"].upper()]
        if params.get("withdrawOrderId"):
            rows = [w for w in rows if w.withdraw_order_id == params["withdrawOrderId"]]
        if params.get("idList"):
            wanted = set(params["idList"].split(","))
            rows = [w for w in rows if w.withdrawal_id in wanted]
        status = parse_int(params, "status")
        if status is not None:
            rows = [w for w in rows if w.status == status]
        rows = _window(rows, params, lambda w: w.apply_ms)
        limit = min(parse_int(params, "limit") or 1000, 1000)
        offset = parse_int(params, "offset") or 0
        rows = sorted(rows, key=lambda w: w.apply_ms, reverse=True)
        return [w.as_json() for w in rows[offset : offset + limit]]

    # -- deposits ----------------------------------------------------------------------------
    def account_for_address(self, address: str) -> Account | None:
        for account in self.accounts.values():
            if self.address_of(account).lower() == address.lower():
                return account
        return None

    def on_transfer(
        self, *, coin: str, address: str, amount: Decimal, tx_id: str, block: int, log_index: int = -1
    ) -> Deposit | None:
        """A transfer to a deposit address was seen on chain (idempotent per tx and log)."""
        account = self.account_for_address(address)
        if account is None or amount <= 0:
            return None
        for known in self.deposits:
            if known.tx_id == tx_id and known.log_index == log_index:
                return known
        deposit = Deposit(
            str(next(self._deposit_ids)),
            account.api_key,
            coin,
            amount,
            self.address_of(account),
            tx_id,
            block,
            log_index,
            _now_ms(),
        )
        self.deposits.append(deposit)
        self.on_head(self.head)
        return deposit

    def credit_deposit(self, account: Account, coin: str, amount: Decimal, tx_id: str | None = None) -> Deposit:
        """Admin: a deposit credited at once, with no chain behind it."""
        deposit = Deposit(
            str(next(self._deposit_ids)),
            account.api_key,
            self.coin(coin).coin,
            amount,
            self.address_of(account),
            tx_id or "0x" + secrets.token_hex(32),
            self.head,
            -1,
            _now_ms(),
        )
        self.deposits.append(deposit)
        self._confirm(deposit, account)
        return deposit

    def on_head(self, head: int) -> None:
        self.head = max(self.head, head)
        for deposit in self.deposits:
            if deposit.status != 0:
                continue
            deposit.confirmations = max(0, self.head - deposit.block + 1)
            if deposit.confirmations >= self.config.deposit_confirmations:
                self._confirm(deposit, self.accounts[deposit.api_key])

    def _confirm(self, deposit: Deposit, account: Account) -> None:
        deposit.status = 1
        deposit.confirmations = max(deposit.confirmations, self.config.deposit_confirmations)
        deposit.complete_ms = _now_ms()
        account.credit(deposit.coin, deposit.amount)

    # -- withdrawals -------------------------------------------------------------------------
    def due_withdrawals(self, force: bool = False) -> list[Withdrawal]:
        now = self.clock.now()
        return [w for w in self.withdrawals if w.status == 4 and (force or w.due <= now)]

    def complete(self, withdrawal: Withdrawal, tx_id: str) -> None:
        withdrawal.status = 6
        withdrawal.tx_id = tx_id
        withdrawal.complete_ms = _now_ms()

    def fail(self, withdrawal: Withdrawal, reason: str) -> None:
        withdrawal.status = 5
        withdrawal.info = reason[:200]
        self.accounts[withdrawal.api_key].credit(withdrawal.coin, withdrawal.amount)


def _window(rows: list, params: Mapping[str, str], stamp: Callable[[Any], int]) -> list:
    """Binance's default window: the last 90 days when no time is given."""
    start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
    if start is None and end is None:
        start = _now_ms() - NINETY_DAYS_MS
    if start is not None:
        rows = [r for r in rows if stamp(r) >= start]
    if end is not None:
        rows = [r for r in rows if stamp(r) <= end]
    return rows

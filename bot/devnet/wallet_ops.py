"""`devnet send` and what `devnet down` does to the journals of the chain it stops.

``send``: move a token (or ETH) out of the demo wallet, signed by anvil (its accounts are
unlocked), e.g. the USDT the demo position borrowed: a fund that borrowed has spent it, and
only then does the bot have to sell collateral to repay (with the USDT still in the wallet
it rightly repays from it first). The default recipient is anvil account 5, which nothing
else on the devnet uses.

``archive_journals``: a journal belongs to the chain it was written on (its genesis block);
once `devnet down` has stopped that chain, nothing in it can be resumed. The journals in the
state directory bound to the stopped chain are moved aside to ``<name>.<tag>.bak`` (with their
WAL), so the next `devnet up` + `run` starts a new journal; one a process still holds is left
where it is.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bot.devnet import quick
from bot.devnet.anvil import rpc_call
from bot.devnet.state import DevnetState
from bot.engine.journal import Journal
from bot.engine.journal_files import move_aside
from bot.errors import UserInputError

SINK_INDEX = 5
BALANCE_OF = "0x70a08231"  # balanceOf(address)
DECIMALS = "0x313ce567"  # decimals()
TRANSFER = "0xa9059cbb"  # transfer(address,uint256)
ETH = "ETH"


@dataclass(frozen=True, slots=True)
class Sent:
    symbol: str
    amount: Decimal
    sender: str
    to: str
    tx_hash: str
    block: int


def parse_amount(text: str) -> Decimal | None:
    """A positive decimal, or None for ``all``."""
    if text.strip().lower() == "all":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UserInputError(f"amount must be a number or 'all', got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise UserInputError(f"amount must be positive, got {text!r}")
    return value


def sink_address(url: str) -> str:
    return str(rpc_call(url, "eth_accounts")[SINK_INDEX])


def token_balance(url: str, token: str, holder: str) -> int:
    """``holder``'s balance of the ERC-20 at ``token``, in base units."""
    return int(quick.eth_call(url, token, BALANCE_OF + quick._address_word(holder)), 16)


def send(devnet: DevnetState, symbol: str, amount: Decimal | None, to: str | None) -> Sent:
    """Send ``amount`` (None: the whole balance) of ``symbol`` from the demo wallet to ``to``
    (None: the devnet's sink account) and wait for the receipt."""
    url, wallet = devnet.rpc_url, devnet.wallet
    symbol = symbol.upper()
    recipient = to or sink_address(url)
    try:
        recipient_word = quick._address_word(recipient)
    except ValueError:
        raise UserInputError(f"--to must be a 0x address of 20 bytes, got {recipient!r}") from None
    if symbol == ETH:
        if amount is None:
            raise UserInputError("ETH pays the wallet's gas: give an amount, not 'all'")
        units = int(amount.scaleb(18))
        tx = {"from": wallet, "to": recipient, "value": hex(units)}
        decimals = 18
    elif symbol in devnet.tokens:
        token = devnet.tokens[symbol]
        decimals = int(quick.eth_call(url, token, DECIMALS), 16)
        held = token_balance(url, token, wallet)
        units = held if amount is None else int(amount.scaleb(decimals))
        if units != (amount.scaleb(decimals) if amount is not None else held):
            raise UserInputError(f"{symbol} has {decimals} decimals: {amount} is finer than that")
        if units > held:
            raise UserInputError(f"the wallet holds {Decimal(held).scaleb(-decimals)} {symbol}, not {amount}")
        if units == 0:
            raise UserInputError(f"the wallet holds no {symbol}")
        tx = {"from": wallet, "to": token, "data": TRANSFER + recipient_word + units.to_bytes(32, "big").hex()}
    else:
        raise UserInputError(f"unknown symbol {symbol}: one of {', '.join(sorted([ETH, *devnet.tokens]))}")
    tx_hash = str(rpc_call(url, "eth_sendTransaction", [tx]))
    block = _wait_receipt(url, tx_hash)
    return Sent(symbol, Decimal(units).scaleb(-decimals), wallet, recipient, tx_hash, block)


def _wait_receipt(url: str, tx_hash: str, timeout_s: float = 30.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        receipt = rpc_call(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            if int(receipt["status"], 16) != 1:
                raise RuntimeError(f"transaction {tx_hash} reverted")
            return int(receipt["blockNumber"], 16)
        time.sleep(0.1)
    raise TimeoutError(f"transaction {tx_hash} not mined in {timeout_s:.0f} s")


def genesis_hash(url: str) -> str:
    return str(rpc_call(url, "eth_getBlockByNumber", ["0x0", False])["hash"]).lower()


def archive_journals(directory: Path, genesis: str) -> list[tuple[Path, Path | None]]:
    """Move aside every journal in ``directory`` bound to the chain of ``genesis``. Returns
    (journal, where it went); None where a process still holds it."""
    done: list[tuple[Path, Path | None]] = []
    for path in sorted(directory.glob("*.sqlite")):
        bound = _bound_to(path)
        if bound is None or bound[0] != genesis.lower():
            continue
        lock = Journal.lock_path(path)
        fd = os.open(str(lock), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                done.append((path, None))
                continue
            done.append((path, move_aside(path, bound[1])))
        finally:
            os.close(fd)
    return done


def _bound_to(path: Path) -> tuple[str, str] | None:
    """(genesis hash, tag) a journal is bound to, or None (not a journal, unbound, unreadable)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            rows = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('genesis_hash', 'journal_tag')"))
        finally:
            db.close()
    except sqlite3.Error:
        return None
    if "genesis_hash" not in rows or "journal_tag" not in rows:
        return None
    return str(rows["genesis_hash"]), str(rows["journal_tag"])

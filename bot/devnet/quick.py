"""The few devnet reads and writes the CLI needs, over plain JSON-RPC (no web3 import).

`devnet set-price`, `advance` and `status` run in a fraction of a second this way (importing
web3 alone costs one to two seconds), which matters to scripts that call them in a loop.
Selectors are checked against their signatures in the unit tests.
"""

from __future__ import annotations

from decimal import Decimal

from bot.devnet.anvil import rpc_call
from bot.devnet.feeds import feed_answer
from bot.domain.position import AccountData
from bot.errors import UserInputError

GET_USER_ACCOUNT_DATA = "0xbf92857c"  # getUserAccountData(address)
LATEST_ANSWER = "0x50d25bcd"  # latestAnswer()


def _word(value: int) -> str:
    return (value % 2**256).to_bytes(32, "big").hex()


def _address_word(address: str) -> str:
    raw = address.lower().removeprefix("0x")
    if len(raw) != 40:
        raise ValueError(f"not an address: {address}")
    return raw.rjust(64, "0")


def _words(result: str) -> list[int]:
    data = result.removeprefix("0x")
    return [int(data[i : i + 64], 16) for i in range(0, len(data), 64)]


def eth_call(url: str, to: str, data: str, block: str = "latest") -> str:
    return str(rpc_call(url, "eth_call", [{"to": to, "data": data}, block]))


def block_number(url: str) -> int:
    return int(rpc_call(url, "eth_blockNumber"), 16)


def block_timestamp(url: str) -> int:
    return int(rpc_call(url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


def account_data(url: str, pool: str, wallet: str, block: str = "latest") -> AccountData:
    words = _words(eth_call(url, pool, GET_USER_ACCOUNT_DATA + _address_word(wallet), block))
    if len(words) != 6:
        raise RuntimeError(f"getUserAccountData returned {len(words)} words, expected 6")
    return AccountData(*words)


def latest_answer(url: str, feed: str) -> int:
    value = _words(eth_call(url, feed, LATEST_ANSWER))[0]
    return value - 2**256 if value >= 2**255 else value  # int256


def set_feed_price(url: str, feed: str, usd: Decimal, *, mine: bool = True) -> int:
    """Write MockAggregator ``_latestAnswer`` (slot 0), check it reads back, mine one block
    (``mine=False``: the caller mines it, e.g. with the DEX arbitrage in the same block)."""
    answer = feed_answer(usd)  # before writing: a wrapped or zero answer breaks every read
    rpc_call(url, "anvil_setStorageAt", [feed, "0x0", "0x" + _word(answer)])
    read_back = latest_answer(url, feed)
    if read_back != answer:
        raise RuntimeError(f"feed {feed} reads {read_back} after writing {answer}: storage layout changed?")
    if mine:
        rpc_call(url, "anvil_mine", ["0x1"])
    return answer


def advance(url: str, seconds: int) -> int:
    """``evm_increaseTime`` + one block; returns the new block timestamp."""
    if seconds <= 0:
        raise UserInputError(f"duration must be positive, got {seconds} s")
    rpc_call(url, "evm_increaseTime", [int(seconds)])
    rpc_call(url, "anvil_mine", ["0x1"])
    return block_timestamp(url)

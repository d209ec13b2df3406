"""The few devnet reads and writes the CLI needs, over plain JSON-RPC (no web3 import).

`devnet set-price`, `advance` and `status` run in a fraction of a second this way (importing
web3 alone costs one to two seconds), which matters to scripts that call them in a loop.
Selectors are checked against their signatures in the unit tests.
"""

from __future__ import annotations

import time
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


# --- the demo position over plain JSON-RPC (`devnet up` from the state cache: no web3 import) ---

WETH_DEPOSIT = "0xd0e30db0"  # deposit()
ERC20_MINT = "0x40c10f19"  # mint(address,uint256)
ERC20_APPROVE = "0x095ea7b3"  # approve(address,uint256)
POOL_SUPPLY = "0x617ba037"  # supply(address,uint256,address,uint16)
POOL_BORROW = "0xa415bcad"  # borrow(address,uint256,uint256,uint16,address)
ORACLE_ASSET_PRICE = "0xb3596f07"  # getAssetPrice(address)
VARIABLE_RATE = 2
_GAS = 3_000_000


def send_from(url: str, sender: str, to: str, data: str, *, value: int = 0, what: str) -> None:
    """One transaction from an unlocked anvil account, mined (automine) and checked."""
    tx = {"from": sender, "to": to, "data": data, "value": hex(value), "gas": hex(_GAS)}
    tx_hash = rpc_call(url, "eth_sendTransaction", [tx])
    deadline = time.monotonic() + 30
    receipt = None
    while receipt is None and time.monotonic() < deadline:  # automine: a few milliseconds
        receipt = rpc_call(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is None:
            time.sleep(0.005)
    if receipt is None or int(receipt["status"], 16) != 1:
        raise RuntimeError(f"{what} failed on the devnet (tx {tx_hash})")


def borrow_units_for(data: AccountData, *, target_hf_wad: int, debt_price: int, debt_decimals: int) -> int:
    """Debt to borrow (base units) so that HF lands at (not below) ``target_hf_wad``."""
    max_debt_base = (
        data.total_collateral_base * data.current_liquidation_threshold_bps * 10**18 // (10_000 * target_hf_wad)
    )
    return max(0, max_debt_base - data.total_debt_base) * 10**debt_decimals // debt_price


def open_position(
    url: str,
    *,
    pool: str,
    oracle: str,
    wallet: str,
    collateral: tuple[str, int, bool],  # (asset, units, is WETH)
    debt: tuple[str, int],  # (asset, decimals)
    target_hf_wad: int,
) -> tuple[int, AccountData]:
    """Supply the collateral from ``wallet`` and borrow the debt asset down to the target HF (the
    same position as ``scenario.open_position``); returns (borrowed units, account data)."""
    asset, units, is_weth = collateral
    if is_weth:
        balance = int(rpc_call(url, "eth_getBalance", [wallet, "latest"]), 16)
        if balance < units + 10 * 10**18:  # keep some for gas
            rpc_call(url, "anvil_setBalance", [wallet, hex(units + 100 * 10**18)])
        send_from(url, wallet, asset, WETH_DEPOSIT, value=units, what="wrap ETH")
    else:
        send_from(url, wallet, asset, ERC20_MINT + _address_word(wallet) + _word(units), what="mint collateral")
    send_from(url, wallet, asset, ERC20_APPROVE + _address_word(pool) + _word(units), what="approve the Pool")
    supply = POOL_SUPPLY + _address_word(asset) + _word(units) + _address_word(wallet) + _word(0)
    send_from(url, wallet, pool, supply, what="supply collateral")
    data = account_data(url, pool, wallet)
    if data.ltv_bps and target_hf_wad <= data.current_liquidation_threshold_bps * 10**18 // data.ltv_bps:
        floor = Decimal(data.current_liquidation_threshold_bps) / data.ltv_bps
        raise UserInputError(f"target HF {Decimal(target_hf_wad) / 10**18} is below what the LTV allows ({floor:.4f})")
    debt_asset, debt_decimals = debt
    price = _words(eth_call(url, oracle, ORACLE_ASSET_PRICE + _address_word(debt_asset)))[0]
    amount = borrow_units_for(data, target_hf_wad=target_hf_wad, debt_price=price, debt_decimals=debt_decimals)
    if amount <= 0:
        raise UserInputError(f"nothing to borrow at target HF {Decimal(target_hf_wad) / 10**18}")
    borrow = POOL_BORROW + _address_word(debt_asset) + _word(amount) + _word(VARIABLE_RATE) + _word(0)
    send_from(url, wallet, pool, borrow + _address_word(wallet), what="borrow")
    after = account_data(url, pool, wallet)
    if abs(after.health_factor_wad - target_hf_wad) * 10**6 > target_hf_wad:
        raise RuntimeError(f"HF after the borrow is {after.health_factor}, not about {Decimal(target_hf_wad) / 10**18}")
    return amount, after

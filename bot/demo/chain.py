"""The demo's view of the devnet: move the WETH oracle price, read HF per block, read the
position (with the reader ``bot.compose.adapters`` builds for the daemon), and one set-up step
(spend the borrowed USDT).

Price moves and per-block HF go over plain JSON-RPC (``bot.devnet.quick``): they run every
second and must not wait on web3.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.devnet import quick
from bot.devnet.anvil import rpc_call
from bot.devnet.state import DevnetState
from bot.domain import Position
from bot.settings import ChainConfig

COLLATERAL = "WETH"
DEBT = "USDT"
SINK_INDEX = 5  # anvil account that receives the borrowed USDT (spent elsewhere by the fund)
BALANCE_OF = "0x70a08231"
TRANSFER = "0xa9059cbb"


@dataclass(frozen=True, slots=True)
class BlockHF:
    block: int
    timestamp: int
    health_factor: Decimal | None


class DemoChain:
    def __init__(self, devnet: DevnetState, chain: ChainConfig) -> None:
        self.devnet = devnet
        self.chain = chain  # the daemon's own chain settings (its reader reads the same way)
        self.url = devnet.rpc_url
        self._reader: Any = None

    # ---- writes ------------------------------------------------------------------------------

    def set_price(self, usd: Decimal) -> None:
        quick.set_feed_price(self.url, self.devnet.price_feeds[COLLATERAL], usd)

    def spend_borrowed(self) -> Decimal:
        """Move the USDT the demo wallet borrowed to another account and return the amount.

        A fund that borrowed has spent it; left in the wallet, the bot would rightly repay it
        first and never need to sell collateral."""
        token = self.devnet.tokens[DEBT]
        held = int(quick.eth_call(self.url, token, BALANCE_OF + quick._address_word(self.devnet.wallet)), 16)
        if held == 0:
            return Decimal(0)
        sink = rpc_call(self.url, "eth_accounts")[SINK_INDEX]
        data = TRANSFER + quick._address_word(sink) + held.to_bytes(32, "big").hex()
        tx = rpc_call(self.url, "eth_sendTransaction", [{"from": self.devnet.wallet, "to": token, "data": data}])
        self._wait_receipt(tx)
        decimals = int(self.devnet.extra.get("decimals", {}).get(DEBT, 6))
        return Decimal(held).scaleb(-decimals)

    def _wait_receipt(self, tx: str, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            receipt = rpc_call(self.url, "eth_getTransactionReceipt", [tx])
            if receipt is not None:
                if int(receipt["status"], 16) != 1:
                    raise RuntimeError(f"set-up transaction {tx} reverted")
                return
            time.sleep(0.1)
        raise TimeoutError(f"set-up transaction {tx} not mined in {timeout_s:.0f} s")

    # ---- reads ---------------------------------------------------------------------------------

    def block_number(self) -> int:
        return quick.block_number(self.url)

    def health_factor(self, block: int | None = None) -> Decimal | None:
        tag = "latest" if block is None else hex(block)
        return quick.account_data(self.url, self.devnet.pool, self.devnet.wallet, tag).health_factor

    def hf_per_block(self, first: int, last: int) -> list[BlockHF]:
        """HF at every block in [first, last] (the chain state the contracts saw)."""
        out = []
        for number in range(first, last + 1):
            header = rpc_call(self.url, "eth_getBlockByNumber", [hex(number), False])
            out.append(BlockHF(number, int(header["timestamp"], 16), self.health_factor(number)))
        return out

    def position(self) -> Position:
        """The wallet's whole position, exact units (one multicall through AaveReader)."""
        if self._reader is None:
            from bot.compose.adapters import aave_reader, connect_chain

            self._reader = aave_reader(connect_chain(self.chain), self.chain)
        return self._reader.snapshot(self.devnet.wallet).position

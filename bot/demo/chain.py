"""The demo's view of the devnet: move the WETH oracle price, read HF per block, read the
position (with the reader ``bot.compose.adapters`` builds for the daemon), and one set-up step
(spend the borrowed USDT).

Price moves and per-block HF go over plain JSON-RPC (``bot.devnet.quick``): they run every
second and must not wait on web3.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.devnet import quick, wallet_ops
from bot.devnet.anvil import rpc_call
from bot.devnet.state import DevnetState
from bot.domain import Position
from bot.settings import ChainConfig

COLLATERAL = "WETH"
DEBT = "USDT"


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
        """Move the USDT the demo wallet borrowed to another account (what `devnet send USDT
        all` does) and return the amount.

        A fund that borrowed has spent it; left in the wallet, the bot would rightly repay it
        first and never need to sell collateral."""
        if wallet_ops.token_balance(self.url, self.devnet.tokens[DEBT], self.devnet.wallet) == 0:
            return Decimal(0)
        return wallet_ops.send(self.devnet, DEBT, None, None).amount

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

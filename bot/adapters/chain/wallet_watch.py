"""The chain side of foreign-activity detection (``bot.engine.foreign_activity``): the wallet's
ERC-20 ``Transfer`` logs of a few tokens (the collateral, the debt asset and their aTokens),
in or out, and the nonces it mined, each nonce checked against our transaction store."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from web3 import Web3

from bot.adapters.chain.rpc import retrying_read
from bot.adapters.chain.tx_store import TxStore
from bot.engine.foreign_activity import WalletActivity, WalletTransfer, normalise_hash

TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
MAX_BLOCKS = 2_000  # blocks of transfer logs read at most per check
log = logging.getLogger(__name__)


class ChainWalletWatch:
    def __init__(self, w3: Web3, store: TxStore, *, wallet: str, chain_id: int, tokens: Mapping[str, str]) -> None:
        """``tokens``: address → label of each token watched."""
        self._w3, self._store, self._chain_id = w3, store, chain_id
        self.wallet = Web3.to_checksum_address(wallet)
        self._tokens = {Web3.to_checksum_address(a): label for a, label in tokens.items()}
        self._wallet_topic = "0x" + "00" * 12 + self.wallet[2:].lower()

    def __repr__(self) -> str:
        return f"ChainWalletWatch(wallet={self.wallet})"

    def head(self) -> tuple[int, int]:
        block = int(retrying_read(lambda: self._w3.eth.block_number, what="head"))
        return block, self._nonce()

    def activity(self, from_block: int, *, nonce_before: int) -> WalletActivity:
        """Nonces over the whole gap (the mined count is read at the head, never at an old block:
        a pruned node keeps no old state); transfers over the last ``MAX_BLOCKS`` of it at most
        (providers refuse larger log queries; a longer stop leaves its older blocks unread)."""
        head = int(retrying_read(lambda: self._w3.eth.block_number, what="head"))
        if head < from_block:
            return WalletActivity(from_block, head, nonce_before, (), ())
        nonce = self._nonce()
        foreign = tuple(
            n for n in range(nonce_before, nonce) if self._store.key_for_nonce(self.wallet, self._chain_id, n) is None
        )
        first = max(from_block, head - MAX_BLOCKS + 1)
        if first > from_block:
            log.warning(
                "wallet watch: blocks %d-%d not read for transfers (%d blocks behind)",
                from_block,
                first - 1,
                head - from_block,
            )
        transfers = []
        for topics, incoming in (
            ([TRANSFER_TOPIC, self._wallet_topic], False),
            ([TRANSFER_TOPIC, None, self._wallet_topic], True),
        ):
            for entry in self._logs(first, head, topics):
                transfers.append(self._transfer(entry, incoming))
        transfers.sort(key=lambda t: (t.block, t.tx_hash))
        return WalletActivity(from_block, head, nonce, foreign, tuple(transfers))

    def own_tx_hashes(self) -> frozenset[str]:
        return self._store.sent_hashes(self.wallet, self._chain_id)

    def _nonce(self) -> int:
        return int(retrying_read(lambda: self._w3.eth.get_transaction_count(self.wallet, "latest"), what="nonce"))

    def _logs(self, from_block: int, to_block: int, topics: list[Any]) -> list[Any]:
        query = {"fromBlock": from_block, "toBlock": to_block, "address": list(self._tokens), "topics": topics}
        return list(retrying_read(lambda: self._w3.eth.get_logs(query), what="wallet transfers"))  # type: ignore[arg-type]

    def _transfer(self, entry: Any, incoming: bool) -> WalletTransfer:
        data = entry["data"]
        raw = bytes(data) if not isinstance(data, str) else bytes.fromhex(data.removeprefix("0x"))
        tx_hash = entry["transactionHash"]
        return WalletTransfer(
            tx_hash=normalise_hash(tx_hash if isinstance(tx_hash, str) else "0x" + bytes(tx_hash).hex()),
            block=int(entry["blockNumber"]),
            token=self._tokens.get(Web3.to_checksum_address(entry["address"]), entry["address"]),
            incoming=incoming,
            amount=int.from_bytes(raw[:32], "big") if raw else 0,
        )

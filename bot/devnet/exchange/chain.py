"""The emulator's link to the devnet chain: a deposit watcher and a withdrawal payer.

Deposits: every new block is scanned for native ETH sent to a deposit address (by a
successful transaction) and for ERC-20 ``Transfer`` logs of the configured tokens to it.
Withdrawals: paid from the hot wallet (ERC-20 ``transfer`` or a native send), one receipt
awaited per payment. With ``auto_mint`` a mock token the hot wallet is short of is minted
first (``mint(address,uint256)`` of MintableERC20 / WETH9Mocked).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from eth_account import Account as EthAccount
from web3 import HTTPProvider, Web3

from bot.devnet.exchange.config import CoinConfig

log = logging.getLogger(__name__)

TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
ERC20_ABI = [
    {
        "inputs": [{"type": "address"}, {"type": "uint256"}],
        "name": "transfer",
        "outputs": [{"type": "bool"}],
        "stateMutability": "nonpayable",
        "type": "function",
    },
    {
        "inputs": [{"type": "address"}],
        "name": "balanceOf",
        "outputs": [{"type": "uint256"}],
        "stateMutability": "view",
        "type": "function",
    },
    {
        "inputs": [{"type": "address"}, {"type": "uint256"}],
        "name": "mint",
        "outputs": [{"type": "bool"}],
        "stateMutability": "nonpayable",
        "type": "function",
    },
]


def to_units(amount: Decimal, decimals: int) -> int:
    return int((amount.scaleb(decimals)).to_integral_value())


def from_units(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)


class ChainLink:
    def __init__(
        self,
        rpc_url: str,
        coins: dict[str, CoinConfig],
        hot_wallet_key: str | None,
        auto_mint: bool = True,
        start_block: int | None = None,
    ) -> None:
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        self.coins = coins
        self._hot = EthAccount.from_key(hot_wallet_key) if hot_wallet_key else None
        self.auto_mint = auto_mint
        self.next_block: int | None = start_block
        self._token_coin = {Web3.to_checksum_address(c.token): c for c in coins.values() if c.token}

    @property
    def hot_wallet(self) -> str | None:
        return self._hot.address if self._hot else None

    def __repr__(self) -> str:
        return f"ChainLink(hot_wallet={self.hot_wallet})"

    # -- deposits ------------------------------------------------------------------------------
    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def scan(self, addresses: list[str], head: int) -> list[dict[str, Any]]:
        """Transfers to ``addresses`` in the blocks not scanned yet, up to ``head``."""
        if self.next_block is None:
            self.next_block = head + 1  # deposits count from the emulator's start
            return []
        if head - self.next_block > 2_000:  # a long gap (e.g. a start block far back): scan in slices
            head = self.next_block + 2_000
        if head < self.next_block:
            return []
        start, self.next_block = self.next_block, head + 1
        wanted = {a.lower() for a in addresses}
        found: list[dict[str, Any]] = []
        native = next((c for c in self.coins.values() if c.token is None and c.coin == "ETH"), None)
        if native is not None:
            for number in range(start, head + 1):
                block = self.w3.eth.get_block(number, full_transactions=True)
                for tx in block["transactions"]:
                    to = tx.get("to")
                    if not to or to.lower() not in wanted or int(tx["value"]) == 0:
                        continue
                    receipt = self.w3.eth.get_transaction_receipt(tx["hash"])
                    if receipt["status"] != 1:
                        continue
                    found.append(
                        {
                            "coin": native.coin,
                            "address": to,
                            "amount": from_units(int(tx["value"]), native.decimals),
                            "tx_id": _hex(tx["hash"]),
                            "block": number,
                            "log_index": -1,
                        }
                    )
        if self._token_coin:
            topics = [TRANSFER_TOPIC, None, ["0x" + "0" * 24 + a.lower().removeprefix("0x") for a in addresses]]
            logs = self.w3.eth.get_logs(
                {"fromBlock": start, "toBlock": head, "address": list(self._token_coin), "topics": topics}
            )
            for entry in logs:
                coin = self._token_coin.get(Web3.to_checksum_address(entry["address"]))
                if coin is None or len(entry["topics"]) < 3:
                    continue
                to = Web3.to_checksum_address("0x" + _hex(entry["topics"][2])[-40:])
                units = int.from_bytes(bytes(entry["data"]), "big") if entry["data"] else 0
                found.append(
                    {
                        "coin": coin.coin,
                        "address": to,
                        "amount": from_units(units, coin.decimals),
                        "tx_id": _hex(entry["transactionHash"]),
                        "block": int(entry["blockNumber"]),
                        "log_index": int(entry["logIndex"]),
                    }
                )
        return found

    # -- withdrawals ---------------------------------------------------------------------------
    def pay(self, coin: CoinConfig, to: str, amount: Decimal) -> str:
        """Send ``amount`` of ``coin`` from the hot wallet; the tx hash once mined with success."""
        if self._hot is None:
            raise RuntimeError("no hot wallet key configured: withdrawals cannot be paid")
        to = Web3.to_checksum_address(to)
        units = to_units(amount, coin.decimals)
        if coin.token is None:
            if coin.coin != "ETH":
                raise RuntimeError(f"no token address configured for {coin.coin}")
            tx = {"to": to, "value": units, "gas": 21_000}
            return self._send(tx)
        token = self.w3.eth.contract(address=Web3.to_checksum_address(coin.token), abi=ERC20_ABI)
        if self.auto_mint:
            balance = int(token.functions.balanceOf(self._hot.address).call())
            if balance < units:
                self._send(token.functions.mint(self._hot.address, units - balance).build_transaction(self._base_tx()))
        return self._send(token.functions.transfer(to, units).build_transaction(self._base_tx()))

    def _base_tx(self) -> dict[str, Any]:
        return {"from": self._hot.address, "nonce": self.w3.eth.get_transaction_count(self._hot.address, "pending")}

    def _send(self, tx: dict[str, Any]) -> str:
        tx = dict(tx)
        tx.setdefault("from", self._hot.address)
        tx["nonce"] = self.w3.eth.get_transaction_count(self._hot.address, "pending")
        tx.setdefault("chainId", self.w3.eth.chain_id)
        if "gasPrice" not in tx and "maxFeePerGas" not in tx:
            base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
            tx["maxPriorityFeePerGas"] = 1_000_000_000
            tx["maxFeePerGas"] = 2 * int(base) + 1_000_000_000
        if "gas" not in tx:
            tx["gas"] = int(self.w3.eth.estimate_gas(tx) * 1.3)
        signed = self._hot.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        if receipt["status"] != 1:
            raise RuntimeError(f"payment reverted: {_hex(tx_hash)}")
        return _hex(tx_hash)


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    text = value.hex() if hasattr(value, "hex") and not isinstance(value, str) else str(value)
    return text if text.startswith("0x") else "0x" + text

"""Move the devnet's Uniswap v3 pools to the oracle price, as arbitrageurs do on mainnet.

Called by `devnet set-price` after the feed moved, so that the DEX, the oracle and the exchange
emulator's book agree. Plain JSON-RPC (no web3 import: `set-price` stays a fraction of a second):
each pool gets one ``exactInputSingle`` from the maker account with the target price as
``sqrtPriceLimitX96`` and its whole balance as the input, so the swap stops exactly at the
target and pays only what it used. Selectors are checked against their signatures in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.devnet.anvil import rpc_call
from bot.devnet.dex import depth
from bot.devnet.dex.facts import Dex, DexPool

SLOT0 = "0x3850c7bd"  # slot0()
GET_ASSET_PRICE = "0xb3596f07"  # getAssetPrice(address)
BALANCE_OF = "0x70a08231"  # balanceOf(address)
MINT = "0x40c10f19"  # mint(address,uint256)
# exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))
EXACT_INPUT_SINGLE = "0x414bf389"
SWAP_GAS = 2_000_000
FAR_DEADLINE = 2**63
# A pool within this relative distance of its target (in sqrt price) is left alone.
TOLERANCE = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class PoolMove:
    stable: str
    fee: int
    usd_before: Decimal  # USD per collateral token
    usd_after: Decimal


def _word(value: int) -> str:
    return (value % 2**256).to_bytes(32, "big").hex()


def _address_word(address: str) -> str:
    return address.lower().removeprefix("0x").rjust(64, "0")


def _call_words(url: str, to: str, data: str) -> list[int]:
    result = str(rpc_call(url, "eth_call", [{"to": to, "data": data}, "latest"])).removeprefix("0x")
    return [int(result[i : i + 64], 16) for i in range(0, len(result), 64)]


def pool_sqrt_x96(url: str, pool: DexPool) -> int:
    return _call_words(url, pool.address, SLOT0)[0]


def pool_usd_price(pool: DexPool, sqrt_x96: int) -> Decimal:
    """USD (stablecoin) per whole collateral token at a pool price."""
    return depth.usd_price(
        depth.price_from_sqrt_x96(sqrt_x96),
        pool.collateral_decimals,
        pool.stable_decimals,
        collateral_is_token0=pool.collateral_is_token0,
    )


def oracle_target_sqrt_x96(url: str, oracle: str, pool: DexPool) -> int:
    collateral = _call_words(url, oracle, GET_ASSET_PRICE + _address_word(pool.collateral_token))[0]
    stable = _call_words(url, oracle, GET_ASSET_PRICE + _address_word(pool.stable_token))[0]
    usd_per_collateral = Decimal(collateral) / Decimal(stable)
    price = depth.raw_price(
        usd_per_collateral,
        pool.collateral_decimals,
        pool.stable_decimals,
        collateral_is_token0=pool.collateral_is_token0,
    )
    return depth.sqrt_price_x96(price)


def align_pools(url: str, oracle: str, dex: Dex) -> list[PoolMove]:
    """Swap every pool to the oracle price and mine one block; the moves made (pools already
    there are left out). Raises when a swap reverts."""
    sent: list[tuple[str, PoolMove]] = []
    for pool in dex.pools:
        current = pool_sqrt_x96(url, pool)
        target = oracle_target_sqrt_x96(url, oracle, pool)
        if abs(target - current) <= current * TOLERANCE:
            continue
        selling_token0 = target < current  # selling token0 lowers the token1-per-token0 price
        token0, token1 = pool.tokens
        token_in, token_out = (token0, token1) if selling_token0 else (token1, token0)
        amount_in = _funded_balance(url, dex, pool, token_in)
        data = (
            EXACT_INPUT_SINGLE
            + _address_word(token_in)
            + _address_word(token_out)
            + _word(pool.fee)
            + _address_word(dex.maker)
            + _word(FAR_DEADLINE)
            + _word(amount_in)
            + _word(0)  # amountOutMinimum: the price limit is what bounds this swap
            + _word(target)
        )
        tx_hash = str(
            rpc_call(
                url, "eth_sendTransaction", [{"from": dex.maker, "to": dex.router, "data": data, "gas": hex(SWAP_GAS)}]
            )
        )
        sent.append(
            (tx_hash, PoolMove(pool.stable, pool.fee, pool_usd_price(pool, current), pool_usd_price(pool, target)))
        )
    # One block with the swaps (and a price written just before): with interval mining they
    # would otherwise wait for the next one.
    rpc_call(url, "anvil_mine", ["0x1"])
    for tx_hash, move in sent:
        receipt = rpc_call(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is None or int(receipt["status"], 16) != 1:
            raise RuntimeError(f"arbitrage swap on the {move.stable} {move.fee} pool did not go through ({tx_hash})")
    return [move for _hash, move in sent]


def _funded_balance(url: str, dex: Dex, pool: DexPool, token: str) -> int:
    """The maker's balance of ``token``, topped up by minting when below half its reserve."""
    symbol = pool.collateral if token == pool.collateral_token else pool.stable
    reserve = dex.reserve_units[symbol]
    balance = _call_words(url, token, BALANCE_OF + _address_word(dex.maker))[0]
    if balance < reserve // 2:
        data = MINT + _address_word(dex.maker) + _word(reserve)
        rpc_call(url, "eth_sendTransaction", [{"from": dex.maker, "to": token, "data": data, "gas": hex(200_000)}])
        balance += reserve
    return balance

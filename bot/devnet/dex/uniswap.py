"""Uniswap v3 on the devnet from the pinned npm artifacts, with pools shaped to a depth profile.

The factory comes from ``@uniswap/v3-core`` 1.0.1 and the router, position manager and quoter
from ``@uniswap/v3-periphery`` 1.4.4, unmodified: the core artifact's pool bytecode hashes to the
periphery's ``POOL_INIT_CODE_HASH``, so the periphery finds the pools the factory creates. One
anvil account (``MAKER_INDEX``) provides the liquidity and later arbitrages the pools back to the
oracle price (``bot.devnet.dex.arbitrage``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from web3 import Web3

from bot.adapters.chain.abis import Fn
from bot.devnet import artifacts
from bot.devnet.aave_market import ZERO_ADDRESS, Deployer, Market
from bot.devnet.anvil import repo_root
from bot.devnet.dex import depth
from bot.devnet.dex.depth import DepthProfile
from bot.devnet.dex.facts import COLLATERAL, Dex, DexPool
from bot.errors import UserInputError

MAKER_INDEX = 6  # an anvil default account nothing else on the devnet uses
NPM_MODULES = Path("devnet-deps/node_modules")
ARTIFACT_PATHS = {
    "UniswapV3Factory": "@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": "@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json",
    "SwapRouter": "@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
    "NonfungiblePositionManager": (
        "@uniswap/v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    ),
    "QuoterV2": "@uniswap/v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json",
}
# The arbitrageur keeps this many times the liquidity it placed, so no price move drains it.
RESERVE_MULTIPLE = 10
FAR_DEADLINE = 2**63


@lru_cache(maxsize=8)
def load_artifact(name: str) -> artifacts.Artifact:
    path = repo_root() / NPM_MODULES / ARTIFACT_PATHS[name]
    if not path.is_file():
        raise UserInputError(f"Uniswap v3 artifact not found at {path}: run `make install` first")
    data = json.loads(path.read_text())
    return artifacts.Artifact(data["contractName"], data["sourceName"], data["abi"], data["bytecode"], {})


def contract(w3: Web3, name: str, address: str) -> Any:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)


def _deploy(d: Deployer, name: str, *args: Any) -> str:
    artifact = load_artifact(name)
    factory = d.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    return str(d.call(f"deploy {name}", factory.constructor(*args))["contractAddress"])


def oracle_usd_price(w3: Web3, market: Market, symbol: str) -> Decimal:
    oracle = w3.eth.contract(address=market.oracle, abi=artifacts.abi("AaveOracle"))
    return Decimal(oracle.functions.getAssetPrice(market.reserve(symbol).asset).call())


MINT = Fn(
    "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256))",
    ("uint256", "uint128", "uint256", "uint256"),
)


def deploy_dex(w3: Web3, market: Market, maker: str, profile: DepthProfile = DepthProfile()) -> Dex:
    """Deploy Uniswap v3, create every WETH/stablecoin pool of the profile at the oracle price and
    lay its liquidity ladder from ``maker`` (an unlocked account, one multicall per pool), which
    keeps a reserve of each token for arbitrage and leaves the router approved to spend it."""
    d = Deployer(w3, maker)
    collateral = market.reserve(COLLATERAL)
    factory = _deploy(d, "UniswapV3Factory")
    router = _deploy(d, "SwapRouter", factory, collateral.asset)
    manager_address = _deploy(d, "NonfungiblePositionManager", factory, collateral.asset, ZERO_ADDRESS)
    quoter = _deploy(d, "QuoterV2", factory, collateral.asset)
    manager = contract(w3, "NonfungiblePositionManager", manager_address)
    factory_contract = contract(w3, "UniswapV3Factory", factory)

    collateral_usd = oracle_usd_price(w3, market, COLLATERAL)
    pools: list[DexPool] = []
    mints: list[tuple[DexPool, list[bytes]]] = []
    needed: dict[str, int] = {}
    for stable_symbol in profile.stablecoins:
        stable = market.reserve(stable_symbol)
        usd_per_collateral = collateral_usd / oracle_usd_price(w3, market, stable_symbol)
        for fee, share in profile.fee_shares:
            draft = DexPool(
                COLLATERAL, stable_symbol, fee, "", collateral.asset, stable.asset, collateral.decimals, stable.decimals
            )
            token0, token1 = draft.tokens
            price = depth.raw_price(
                usd_per_collateral,
                collateral.decimals,
                stable.decimals,
                collateral_is_token0=draft.collateral_is_token0,
            )
            sqrt_x96 = depth.sqrt_price_x96(price)
            d.call(
                f"create {COLLATERAL}/{stable_symbol} {fee}",
                manager.functions.createAndInitializePoolIfNecessary(token0, token1, fee, sqrt_x96),
            )
            pool = replace(draft, address=str(factory_contract.functions.getPool(token0, token1, fee).call()))
            pools.append(pool)
            calls = []
            for lower, upper in depth.ladder(price, profile, depth.TICK_SPACING[fee]):
                centre_usd = depth.usd_price(
                    depth.price_at_tick((lower + upper) // 2),
                    collateral.decimals,
                    stable.decimals,
                    collateral_is_token0=pool.collateral_is_token0,
                )
                liquidity = depth.liquidity_for_depth(
                    profile.usd_within_1pct * share, centre_usd, collateral.decimals, stable.decimals
                )
                amount0, amount1 = depth.amounts_for_liquidity(liquidity, sqrt_x96, lower, upper)
                calls.append(
                    MINT.encode((token0, token1, fee, lower, upper, amount0, amount1, 0, 0, d.sender, FAR_DEADLINE))
                )
                symbol0, symbol1 = (
                    (COLLATERAL, stable_symbol) if pool.collateral_is_token0 else (stable_symbol, COLLATERAL)
                )
                needed[symbol0] = needed.get(symbol0, 0) + amount0
                needed[symbol1] = needed.get(symbol1, 0) + amount1
            mints.append((pool, calls))

    reserve = {symbol: units * RESERVE_MULTIPLE for symbol, units in needed.items()}
    for symbol, units in needed.items():
        token = w3.eth.contract(address=market.reserve(symbol).asset, abi=artifacts.abi("MintableERC20"))
        d.call(f"mint {symbol} to the DEX maker", token.functions.mint(d.sender, units + reserve[symbol]))
        d.call(f"approve {symbol} to the position manager", token.functions.approve(manager_address, units))
        d.call(f"approve {symbol} to the router", token.functions.approve(router, 2**256 - 1))
    for pool, calls in mints:
        d.call(f"lay the {pool.stable} {pool.fee} liquidity ladder", manager.functions.multicall(calls))
    return Dex(factory, router, manager_address, quoter, d.sender, tuple(pools), reserve)

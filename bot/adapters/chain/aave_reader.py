"""Aave v3 reads: market discovery from the PoolAddressesProvider, and the whole position in ONE
Multicall3 ``aggregate3`` round trip (so every value comes from the same block).

``read(wallet)`` returns the ``Snapshot`` the engine consumes and, beside it, the raw
``Pool.getUserAccountData`` of that same block, so callers (and tests) can check the domain
math against the contract to the unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from bot.adapters.chain import abis
from bot.adapters.chain.multicall import MULTICALL3_ADDRESS, Call, ChainDataError, Multicall
from bot.domain import AccountData, Position, Reserve, Rounding, Snapshot, account_data
from bot.errors import Halt

ETH = "ETH"


class UnsupportedPosition(Halt):
    """A position the domain math does not model (eMode, isolation): stop and ask a human."""


@dataclass(frozen=True, slots=True)
class ReserveInfo:
    symbol: str
    asset: str
    decimals: int
    a_token: str
    variable_debt_token: str
    reserve_id: int  # bit position in the user-configuration bitmap (2·id borrowing, 2·id+1 collateral)


@dataclass(frozen=True, slots=True)
class MarketInfo:
    pool_addresses_provider: str
    pool: str
    oracle: str
    data_provider: str
    reserves: tuple[ReserveInfo, ...]

    def reserve(self, symbol: str) -> ReserveInfo:
        for r in self.reserves:
            if r.symbol == symbol:
                return r
        raise KeyError(f"no reserve {symbol!r} in this market (have {[r.symbol for r in self.reserves]})")


@dataclass(frozen=True, slots=True)
class PositionRead:
    snapshot: Snapshot
    chain_account: AccountData  # Pool.getUserAccountData at the same block
    e_mode: int
    user_configuration: int

    @property
    def matches_chain(self) -> bool:
        """The domain's account data equals the pool's, to the unit."""
        return account_data(self.snapshot.position) == self.chain_account


class AaveReader:
    def __init__(
        self,
        w3: Web3,
        *,
        pool_addresses_provider: str,
        multicall3: str = MULTICALL3_ADDRESS,
        rounding: Rounding = Rounding.V3_0,
        multicall_gas: int | None = None,
    ) -> None:
        self._w3 = w3
        self.provider = Web3.to_checksum_address(pool_addresses_provider)
        self.multicall = Multicall(w3, multicall3, gas=multicall_gas)
        self.rounding = rounding
        self._market: MarketInfo | None = None

    # -- discovery ----------------------------------------------------------------------------
    def market(self, *, refresh: bool = False) -> MarketInfo:
        if self._market is None or refresh:
            self._market = self.discover()
        return self._market

    def discover(self) -> MarketInfo:
        """Pool, oracle and data provider from the provider, then every listed reserve."""
        pool, oracle, data_provider = (
            _address(r[0], what)
            for r, what in zip(
                self.multicall.call(
                    [
                        Call(self.provider, abis.GET_POOL, label="provider.getPool"),
                        Call(self.provider, abis.GET_PRICE_ORACLE, label="provider.getPriceOracle"),
                        Call(self.provider, abis.GET_POOL_DATA_PROVIDER, label="provider.getPoolDataProvider"),
                    ]
                ),
                ("pool", "oracle", "data provider"),
                strict=True,
            )
        )
        (assets,) = self.multicall.call([Call(pool, abis.GET_RESERVES_LIST, label="pool.getReservesList")])[0]
        calls: list[Call] = []
        for asset in assets:
            calls += [
                Call(asset, abis.SYMBOL, label=f"{asset}.symbol"),
                Call(asset, abis.DECIMALS, label=f"{asset}.decimals"),
                Call(pool, abis.GET_RESERVE_DATA, (asset,), label=f"pool.getReserveData({asset})"),
            ]
        results = self.multicall.call(calls)
        reserves = []
        for i, asset in enumerate(assets):
            (symbol,), (decimals,), (data,) = results[3 * i : 3 * i + 3]
            reserves.append(
                ReserveInfo(
                    symbol=str(symbol),
                    asset=Web3.to_checksum_address(asset),
                    decimals=int(decimals),
                    a_token=_address(data[8], f"{symbol} aToken"),
                    variable_debt_token=_address(data[10], f"{symbol} vToken"),
                    reserve_id=int(data[7]),
                )
            )
        symbols = [r.symbol for r in reserves]
        if len(set(symbols)) != len(symbols):
            raise ChainDataError(f"duplicate reserve symbols {symbols}")
        return MarketInfo(self.provider, pool, oracle, data_provider, tuple(reserves))

    # -- the position ---------------------------------------------------------------------------
    def read(self, wallet: str, *, block: int | str = "latest") -> PositionRead:
        """Everything about ``wallet`` in one ``aggregate3`` call at ``block``."""
        market = self.market()
        wallet = Web3.to_checksum_address(wallet)
        mc = self.multicall.address
        head: list[Call] = [
            Call(mc, abis.GET_BLOCK_NUMBER, label="getBlockNumber"),
            Call(mc, abis.GET_CURRENT_BLOCK_TIMESTAMP, label="getCurrentBlockTimestamp"),
            Call(mc, abis.GET_CHAIN_ID, label="getChainId"),
            Call(mc, abis.GET_ETH_BALANCE, (wallet,), label="getEthBalance"),
            Call(market.pool, abis.GET_USER_ACCOUNT_DATA, (wallet,), label="pool.getUserAccountData"),
            Call(market.pool, abis.GET_USER_CONFIGURATION, (wallet,), label="pool.getUserConfiguration"),
            Call(market.pool, abis.GET_USER_EMODE, (wallet,), label="pool.getUserEMode"),
            Call(
                market.oracle,
                abis.GET_ASSETS_PRICES,
                ([r.asset for r in market.reserves],),
                label="oracle.getAssetsPrices",
            ),
        ]
        per_reserve: list[Call] = []
        for r in market.reserves:
            per_reserve += [
                Call(
                    market.data_provider,
                    abis.GET_RESERVE_CONFIGURATION_DATA,
                    (r.asset,),
                    label=f"getReserveConfigurationData({r.symbol})",
                ),
                Call(r.a_token, abis.BALANCE_OF, (wallet,), label=f"a{r.symbol}.balanceOf"),
                Call(r.variable_debt_token, abis.BALANCE_OF, (wallet,), label=f"variableDebt{r.symbol}.balanceOf"),
                Call(r.asset, abis.BALANCE_OF, (wallet,), label=f"{r.symbol}.balanceOf"),
            ]
        results = self.multicall.call(head + per_reserve, block=block)
        (block_number,), (timestamp,), (chain_id,), (eth_balance,) = results[:4]
        chain_account = AccountData(*(int(v) for v in results[4]))
        ((user_config,),) = results[5]
        (e_mode,) = results[6]
        (prices,) = results[7]
        if len(prices) != len(market.reserves):
            raise ChainDataError(f"oracle returned {len(prices)} prices for {len(market.reserves)} reserves")
        if int(e_mode) != 0:
            raise UnsupportedPosition(f"{wallet} uses eMode category {e_mode}; only eMode 0 is modelled")

        reserves: list[Reserve] = []
        wallet_balances: dict[str, int] = {ETH: int(eth_balance)}
        for i, r in enumerate(market.reserves):
            config, (a_balance,), (debt,), (idle,) = results[8 + 4 * i : 12 + 4 * i]
            decimals, ltv, lt, bonus = (int(v) for v in config[:4])
            if decimals != r.decimals:
                raise ChainDataError(f"{r.symbol}: reserve decimals {decimals} != token decimals {r.decimals}")
            if int(prices[i]) == 0 and (a_balance or debt):
                raise ChainDataError(f"{r.symbol}: oracle price is 0")
            reserves.append(
                Reserve(
                    symbol=r.symbol,
                    decimals=decimals,
                    price=int(prices[i]),
                    ltv_bps=ltv,
                    liquidation_threshold_bps=lt,
                    liquidation_bonus_bps=bonus,
                    collateral=int(a_balance),
                    debt=int(debt),
                    collateral_enabled=bool((int(user_config) >> (2 * r.reserve_id + 1)) & 1),
                    asset=r.asset,
                )
            )
            wallet_balances[r.symbol] = int(idle)
        snapshot = Snapshot(
            position=Position(tuple(reserves), self.rounding),
            block=int(block_number),
            timestamp=int(timestamp),
            chain_id=int(chain_id),
            wallet=wallet,
            wallet_balances=wallet_balances,
        )
        return PositionRead(snapshot, chain_account, int(e_mode), int(user_config))

    def snapshot(self, wallet: str, *, block: int | str = "latest") -> Snapshot:
        return self.read(wallet, block=block).snapshot

    def read_many_account_data(
        self, wallets: Sequence[str], *, block: int | str = "latest", chunk_size: int | None = None
    ) -> list[AccountData]:
        """``getUserAccountData`` for every wallet, in one ``aggregate3`` (or one per chunk)."""
        pool = self.market().pool
        size = chunk_size or max(1, len(wallets))
        out: list[AccountData] = []
        for start in range(0, len(wallets), size):
            chunk = wallets[start : start + size]
            calls = [
                Call(pool, abis.GET_USER_ACCOUNT_DATA, (Web3.to_checksum_address(w),), label=f"getUserAccountData({w})")
                for w in chunk
            ]
            out += [AccountData(*(int(v) for v in values)) for values in self.multicall.call(calls, block=block)]
        return out


def _address(value: Any, what: str) -> str:
    address = Web3.to_checksum_address(value)
    if int(address, 16) == 0:
        raise ChainDataError(f"{what} address is zero")
    return address

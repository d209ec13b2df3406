"""What the devnet's DEX is made of, as recorded in the state file (no web3: the CLI reads it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COLLATERAL = "WETH"


@dataclass(frozen=True, slots=True)
class DexPool:
    collateral: str  # symbol
    stable: str  # symbol
    fee: int  # hundredths of a bip: 500 = 0.05 %
    address: str
    collateral_token: str
    stable_token: str
    collateral_decimals: int
    stable_decimals: int

    @property
    def collateral_is_token0(self) -> bool:
        return int(self.collateral_token, 16) < int(self.stable_token, 16)

    @property
    def tokens(self) -> tuple[str, str]:
        """(token0, token1)."""
        pair = (self.collateral_token, self.stable_token)
        return pair if self.collateral_is_token0 else (pair[1], pair[0])

    def to_json(self) -> dict[str, Any]:
        return {
            "collateral": self.collateral,
            "stable": self.stable,
            "fee": self.fee,
            "address": self.address,
            "collateral_token": self.collateral_token,
            "stable_token": self.stable_token,
            "collateral_decimals": self.collateral_decimals,
            "stable_decimals": self.stable_decimals,
        }


@dataclass(frozen=True, slots=True)
class Dex:
    """Where the devnet's Uniswap v3 lives; recorded in the state file under ``dex``."""

    factory: str
    router: str
    position_manager: str
    quoter: str
    maker: str
    pools: tuple[DexPool, ...]
    reserve_units: dict[str, int]  # token symbol -> what the maker keeps for arbitrage

    def to_json(self) -> dict[str, Any]:
        return {
            "factory": self.factory,
            "router": self.router,
            "position_manager": self.position_manager,
            "quoter": self.quoter,
            "maker": self.maker,
            "pools": [p.to_json() for p in self.pools],
            "reserve_units": {k: str(v) for k, v in self.reserve_units.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Dex:
        return cls(
            factory=data["factory"],
            router=data["router"],
            position_manager=data["position_manager"],
            quoter=data["quoter"],
            maker=data["maker"],
            pools=tuple(DexPool(**p) for p in data["pools"]),
            reserve_units={k: int(v) for k, v in data["reserve_units"].items()},
        )

    def pool(self, stable: str, fee: int) -> DexPool:
        for p in self.pools:
            if p.stable == stable and p.fee == fee:
                return p
        raise KeyError(f"no {COLLATERAL}/{stable} pool with fee {fee}")

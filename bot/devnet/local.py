"""A whole demo devnet in one call: deploy, add liquidity, open the demo position, describe it.

``deploy_demo`` does the on-chain part on any anvil; ``local_devnet`` also runs the anvil (a child
process) for tests and benchmarks; ``devnet_state`` turns the result into the state-file record
that `devnet up` writes and the config loader reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from web3 import Web3

from bot.devnet import anvil, scenario
from bot.devnet.aave_market import DEFAULT_RESERVES, Market, ReserveSpec, deploy_market
from bot.devnet.dex.depth import DepthProfile
from bot.devnet.dex.facts import Dex
from bot.devnet.scenario import OpenedPosition
from bot.devnet.state import DevnetState
from bot.errors import UserInputError


@dataclass(frozen=True, slots=True)
class DemoOptions:
    collateral: Decimal = Decimal(100)
    target_hf: Decimal = Decimal("1.45")
    collateral_symbol: str = "WETH"
    debt_symbol: str = "USDT"
    wallet_index: int = scenario.DEMO_WALLET_INDEX
    reserves: tuple[ReserveSpec, ...] = DEFAULT_RESERVES
    dex: DepthProfile | None = None  # Uniswap v3 pools shaped to this profile; None: no DEX


@dataclass(frozen=True, slots=True)
class DemoDeployment:
    rpc_url: str
    market: Market
    wallet: str
    wallet_private_key: str = field(repr=False)
    position: OpenedPosition
    liquidity_provider: str
    dex: Dex | None = None


def deploy_demo(w3: Web3, rpc_url: str, options: DemoOptions = DemoOptions()) -> DemoDeployment:
    """Deploy the market, supply liquidity from account 1, open the demo position (account 2)."""
    if options.wallet_index in (scenario.ADMIN_INDEX, scenario.LIQUIDITY_PROVIDER_INDEX):
        raise UserInputError("the demo wallet must not be the admin or the liquidity provider account")
    accounts = scenario.accounts(w3)
    market = deploy_market(w3, admin=accounts[scenario.ADMIN_INDEX], reserves=options.reserves)
    provider = accounts[scenario.LIQUIDITY_PROVIDER_INDEX]
    scenario.provide_liquidity(w3, market, provider=provider)
    wallet, private_key = scenario.account_key(options.wallet_index)
    opened = scenario.open_position(
        w3,
        market,
        wallet=wallet,
        collateral_symbol=options.collateral_symbol,
        collateral_amount=options.collateral,
        debt_symbol=options.debt_symbol,
        target_hf=options.target_hf,
    )
    dex = None
    if options.dex is not None:
        from bot.devnet.dex.uniswap import MAKER_INDEX, deploy_dex

        dex = deploy_dex(w3, market, accounts[MAKER_INDEX], options.dex)
    return DemoDeployment(rpc_url, market, wallet, private_key, opened, provider, dex)


def devnet_state(demo: DemoDeployment, *, pids: dict[str, int], extra: dict[str, Any] | None = None) -> DevnetState:
    """The state-file record for a deployed demo (exchange fields empty)."""
    market = demo.market
    return DevnetState(
        rpc_url=demo.rpc_url,
        chain_id=market.chain_id,
        pool_addresses_provider=market.pool_addresses_provider,
        pool=market.pool,
        oracle=market.oracle,
        data_provider=market.data_provider,
        multicall3=market.multicall3,
        wallet=demo.wallet,
        wallet_private_key=demo.wallet_private_key,
        tokens=market.tokens,
        price_feeds=market.price_feeds,
        pids=dict(pids),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        extra={
            "pool_configurator": market.pool_configurator,
            "acl_manager": market.acl_manager,
            "admin": market.admin,
            "liquidity_provider": demo.liquidity_provider,
            "decimals": {r.symbol: r.decimals for r in market.reserves},
            "a_tokens": {r.symbol: r.a_token for r in market.reserves},
            "variable_debt_tokens": {r.symbol: r.variable_debt_token for r in market.reserves},
            "deploy_block": market.deploy_block,
            **({"dex": demo.dex.to_json()} if demo.dex is not None else {}),
            **(extra or {}),
        },
    )


@dataclass(frozen=True, slots=True)
class LocalDevnet:
    node: anvil.Anvil
    w3: Web3
    demo: DemoDeployment

    @property
    def market(self) -> Market:
        return self.demo.market

    @property
    def wallet(self) -> str:
        return self.demo.wallet

    def state(self) -> DevnetState:
        """The state-file record (no pids: this anvil belongs to the calling process)."""
        return devnet_state(self.demo, pids={})


@contextmanager
def local_devnet(
    options: DemoOptions = DemoOptions(), anvil_options: anvil.AnvilOptions | None = None
) -> Iterator[LocalDevnet]:
    """anvil (child process) + the demo deployment; everything stops on exit."""
    with anvil.Anvil(anvil_options or anvil.AnvilOptions()) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))
        yield LocalDevnet(node, w3, deploy_demo(w3, node.rpc_url, options))

"""A whole demo devnet in one call: deploy, add liquidity, open the demo position, describe it.

``deploy_demo`` does the on-chain part on any anvil; ``local_devnet`` also runs the anvil (a child
process) for tests and benchmarks; ``devnet_state`` turns the result into the state-file record
that `devnet up` writes and the config loader reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from web3 import Web3

from bot.devnet import anvil, scenario
from bot.devnet.aave_market import DEFAULT_RESERVES, Market, ReserveSpec, deploy_market
from bot.devnet.dex.depth import DepthProfile
from bot.devnet.dex.facts import Dex
from bot.devnet.scenario import OpenedPosition
from bot.devnet.state import DevnetState, demo_record
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


@dataclass(frozen=True, slots=True)
class MarketBase:
    """Everything `devnet up` deploys before the demo position (what the state cache holds)."""

    market: Market
    liquidity_provider: str
    dex: Dex | None = None


def deploy_market_base(
    w3: Web3, *, reserves: tuple[ReserveSpec, ...] = DEFAULT_RESERVES, dex: DepthProfile | None = None
) -> MarketBase:
    """Deploy the market, supply liquidity from account 1, and Uniswap v3 from its maker account.
    No borrow is made: a state saved here accrues no interest while it waits."""
    accounts = scenario.accounts(w3)
    market = deploy_market(w3, admin=accounts[scenario.ADMIN_INDEX], reserves=reserves)
    provider = accounts[scenario.LIQUIDITY_PROVIDER_INDEX]
    scenario.provide_liquidity(w3, market, provider=provider)
    deployed_dex = None
    if dex is not None:
        from bot.devnet.dex.uniswap import MAKER_INDEX, deploy_dex

        deployed_dex = deploy_dex(w3, market, accounts[MAKER_INDEX], dex)
    return MarketBase(market, provider, deployed_dex)


def deploy_demo(
    w3: Web3, rpc_url: str, options: DemoOptions = DemoOptions(), *, base: MarketBase | None = None
) -> DemoDeployment:
    """Deploy the market base (unless ``base``: already on this chain, e.g. loaded from the state
    cache), then open the demo position (account 2)."""
    if options.wallet_index in (scenario.ADMIN_INDEX, scenario.LIQUIDITY_PROVIDER_INDEX):
        raise UserInputError("the demo wallet must not be the admin or the liquidity provider account")
    base = base or deploy_market_base(w3, reserves=options.reserves, dex=options.dex)
    wallet, private_key = scenario.account_key(options.wallet_index)
    opened = scenario.open_position(
        w3,
        base.market,
        wallet=wallet,
        collateral_symbol=options.collateral_symbol,
        collateral_amount=options.collateral,
        debt_symbol=options.debt_symbol,
        target_hf=options.target_hf,
    )
    return DemoDeployment(rpc_url, base.market, wallet, private_key, opened, base.liquidity_provider, base.dex)


def devnet_state(demo: DemoDeployment, *, pids: dict[str, int], extra: dict[str, Any] | None = None) -> DevnetState:
    """The state-file record for a deployed demo (exchange fields empty)."""
    return demo_record(
        rpc_url=demo.rpc_url,
        market=asdict(demo.market),
        wallet=demo.wallet,
        wallet_private_key=demo.wallet_private_key,
        liquidity_provider=demo.liquidity_provider,
        dex=demo.dex.to_json() if demo.dex is not None else None,
        pids=pids,
        extra=extra,
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

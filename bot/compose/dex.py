"""The DEX route from the settings: the ``Dex`` adapter when ``dex.adapter_address`` is set,
and the route each plan may take.

- ``dex.route`` "dex" or "auto" without an adapter (or without the quoter): a one-line
  ``ConfigError`` (exit 2) before anything runs;
- testnet / live: quotes and the atomic write (signed through the lending's tx sender);
- ``plan``: quotes only;
- dry-run: quotes, and the deleverage simulated on the dry-run's ledger at the chosen pool's
  quote (``bot.adapters.dryrun.DryRunDex``).
"""

from __future__ import annotations

from web3 import Web3

from bot.adapters.chain.aave_lending import AaveLending
from bot.adapters.chain.aave_reader import AaveReader
from bot.adapters.chain.dex_quote import ChainDex
from bot.engine.plan_io import PlanInput
from bot.engine.plan_types import Plan
from bot.engine.routing import Routing, route_plan
from bot.errors import ConfigError
from bot.settings import Settings


def check_dex_settings(settings: Settings) -> None:
    """A route that needs the DEX has its adapter and quoter configured."""
    dex = settings.dex
    if dex.route == "cex":
        return
    if dex.adapter_address is None:
        raise ConfigError(
            f"config: dex.route = {dex.route!r} needs dex.adapter_address (deploy it with `delever adapter deploy`)"
        )
    if dex.quoter_address is None:
        raise ConfigError(f"config: dex.route = {dex.route!r} needs dex.quoter_address (Uniswap v3 QuoterV2)")


def open_dex(settings: Settings, w3: Web3, reader: AaveReader, *, lending: AaveLending | None) -> ChainDex | None:
    """The chain's DEX route for ``settings.wallet``, None when no adapter is configured (or the
    route is "cex"); ``lending`` None: quotes only."""
    check_dex_settings(settings)
    dex = settings.dex
    if dex.route == "cex" or dex.adapter_address is None or dex.quoter_address is None:
        return None
    return ChainDex(
        w3,
        reader,
        adapter=str(dex.adapter_address),
        quoter=str(dex.quoter_address),
        fee_tiers=dex.fee_tiers,
        lending=lending,
    )


def route_setting(settings: Settings, dex: ChainDex | None) -> str:
    """The route the plans may take: "cex" without a DEX adapter."""
    if dex is None:
        return "cex"
    return settings.dex.route


def quoting_dex(settings: Settings) -> ChainDex | None:
    """A quotes-only DEX route for ``plan`` (signs nothing), None when the route is "cex"."""
    check_dex_settings(settings)
    if settings.dex.route == "cex":
        return None
    from bot.compose.adapter_deploy import check_configured_adapter
    from bot.compose.adapters import aave_reader, connect_chain

    check_configured_adapter(settings)  # no plan through an adapter the live start would refuse
    link = connect_chain(settings.chain)
    return open_dex(settings, link.w3, aave_reader(link, settings.chain), lending=None)


def routed_plan(settings: Settings, plan: Plan, plan_input: PlanInput) -> Plan:
    """``plan`` with each batch's route (``bot.engine.routing``) as the daemon would choose it."""
    dex = quoting_dex(settings)
    if dex is None or plan_input.intent is None:
        return plan
    routing = Routing(settings.dex.route, dex, None if plan_input.snapshot.book is not None else "no order book")
    return route_plan(
        plan, plan_input.snapshot, plan_input.intent, limits=plan_input.limits, costs=plan_input.costs, routing=routing
    )

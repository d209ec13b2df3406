"""The DEX route through the bot's own tx sender: pre-flight, one journaled transaction under
its key, reconciliation by key, and a refusal (nothing signed, no approval left) past the cap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from web3 import Web3

from bot.adapters.chain.dex_route import DexRoute
from bot.devnet import scenario
from bot.devnet.dex import arbitrage, depth
from bot.devnet.dex.adapter import deploy_adapter
from bot.devnet.dex.facts import Dex
from bot.devnet.dex.uniswap import contract
from bot.errors import GuardRefused
from bot.ports import Outcome
from tests.support.chain import make_lending
from tests.support.devnet import Devnet, reverted

WAD = 10**18
SINK_INDEX = 8
KEY = "dex-1:atomic_deleverage"


@dataclass(frozen=True)
class Route:
    devnet: Devnet
    dex: Dex
    route: DexRoute
    weth_usd: Decimal

    def hf(self) -> int:
        return scenario.user_account_data(self.devnet.w3, self.devnet.market, self.devnet.wallet).health_factor_wad

    def a_weth_allowance(self) -> int:
        a_weth = self.devnet.token(self.devnet.market.reserve("WETH").a_token)
        return int(a_weth.functions.allowance(self.devnet.wallet, self.route.adapter).call())

    def sizes(self, share: Decimal, cap: Decimal) -> dict[str, int]:
        debt = scenario.read_position(self.devnet.w3, self.devnet.market, self.devnet.wallet).reserve("USDT").debt
        repay = int(debt * share)
        premium = (repay * 5 + 5_000) // 10_000
        max_in = int(Decimal(repay + premium) * 10**12 / self.weth_usd * (1 + cap))
        return {"repay_units": repay, "max_collateral_in_units": max_in}


@pytest.fixture()
def route(dex_devnet: Devnet, tmp_path: Path) -> Iterator[Route]:
    """The demo position at HF ≈ 1.02 with no stablecoins, the pools at the oracle, an adapter
    owned by the wallet, and the route on the wallet's own sender."""
    devnet, dex = dex_devnet, dex_devnet.deployed.dex
    assert dex is not None
    with reverted(devnet.w3):
        hf_now = Decimal(scenario.user_account_data(devnet.w3, devnet.market, devnet.wallet).health_factor_wad) / WAD
        weth_usd = (Decimal(2000) * Decimal("1.02") / hf_now).quantize(Decimal("0.01"))
        scenario.set_price(devnet.w3, devnet.market, "WETH", weth_usd)
        arbitrage.align_pools(devnet.rpc_url, devnet.market.oracle, dex)
        usdt = devnet.token(devnet.market.reserve("USDT").asset)
        held = usdt.functions.balanceOf(devnet.wallet).call()
        tx = usdt.functions.transfer(devnet.w3.eth.accounts[SINK_INDEX], held).transact({"from": devnet.wallet})
        devnet.w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.01)
        adapter = deploy_adapter(devnet.w3, owner=devnet.wallet, pool=devnet.market.pool, router=dex.router)
        lending = make_lending(devnet, tmp_path / "tx.sqlite", hf_floor="1.05")
        yield Route(devnet, dex, DexRoute(devnet.w3, lending, adapter), weth_usd)


def test_an_atomic_deleverage_is_one_journaled_transaction_that_raises_hf(route: Route) -> None:
    hf_before = route.hf()
    sizes = route.sizes(Decimal("0.4"), cap=Decimal("0.01"))

    result = route.route.atomic_deleverage(key=KEY, collateral="WETH", debt="USDT", pool_fee=500, **sizes)
    block_after = route.devnet.w3.eth.block_number
    again = route.route.atomic_deleverage(key=KEY, collateral="WETH", debt="USDT", pool_fee=500, **sizes)

    assert result.outcome is Outcome.OK and Decimal(hf_before) / WAD == pytest.approx(
        Decimal("1.02"), abs=Decimal("0.001")
    )
    assert Decimal(route.hf()) / WAD == pytest.approx(Decimal("1.146"), abs=Decimal("0.002"))
    assert route.route.lending.lookup(KEY) == result
    assert again.outcome is Outcome.OK and again.tx_hash == result.tx_hash  # reconciled, not re-sent
    assert route.devnet.w3.eth.block_number == block_after
    assert route.a_weth_allowance() == 0  # the adapter pulled exactly what was approved


def test_with_a_standing_approval_the_deleverage_is_the_only_transaction(route: Route) -> None:
    a_weth = route.devnet.token(route.devnet.market.reserve("WETH").a_token)
    tx = a_weth.functions.approve(route.route.adapter, 2**256 - 1).transact({"from": route.devnet.wallet})
    route.devnet.w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.01)
    hf_before, block_before = route.hf(), route.devnet.w3.eth.block_number

    result = route.route.atomic_deleverage(
        key=KEY, collateral="WETH", debt="USDT", pool_fee=500, **route.sizes(Decimal("0.4"), cap=Decimal("0.01"))
    )

    assert result.outcome is Outcome.OK and result.block == block_before + 1
    assert route.devnet.w3.eth.block_number == block_before + 1  # HF restored in the first block
    assert route.route.sender.record(f"{KEY}/approve") is None
    assert route.hf() > hf_before


def test_a_pre_flight_past_the_cap_signs_nothing_and_leaves_no_approval(route: Route) -> None:
    pool = route.dex.pool("USDT", 500)
    current = arbitrage.pool_sqrt_x96(route.devnet.rpc_url, pool)
    factor = Decimal("0.97") if pool.collateral_is_token0 else 1 / Decimal("0.97")
    target = depth.sqrt_price_x96(depth.price_from_sqrt_x96(current) * factor)
    router = contract(route.devnet.w3, "SwapRouter", route.dex.router)
    maker = Web3.to_checksum_address(route.dex.maker)
    weth, usdt = (route.devnet.market.reserve(s).asset for s in ("WETH", "USDT"))
    tx = router.functions.exactInputSingle((weth, usdt, 500, maker, 2**63, 10**30, 0, target)).transact(
        {"from": maker, "gas": 3_000_000}
    )
    route.devnet.w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.01)
    hf_before = route.hf()

    with pytest.raises(GuardRefused, match=r"SwapFailed: STF \(the pool's price is past the slippage cap\)"):
        route.route.atomic_deleverage(
            key=KEY, collateral="WETH", debt="USDT", pool_fee=500, **route.sizes(Decimal("0.4"), cap=Decimal("0.01"))
        )

    assert route.route.sender.record(KEY) is None
    assert route.a_weth_allowance() == 0
    assert abs(route.hf() - hf_before) < 10**9  # only the interest of the approve and revoke blocks

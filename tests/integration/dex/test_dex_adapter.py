"""The deleverage adapter contract on the devnet (real Aave v3, real Uniswap v3 from npm).

A position pushed to HF 1.02 with no stablecoins in the wallet is deleveraged in one
transaction; the guards hold (only the owner starts it, only the Pool calls back for a loan the
adapter took, a price moved past the cap reverts everything); nothing stays in the contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError

from bot.adapters.chain import dex_adapter
from bot.devnet import artifacts, launcher, quick, scenario, state
from bot.devnet.dex import arbitrage, depth
from bot.devnet.dex.adapter import deploy_adapter
from bot.devnet.dex.facts import Dex
from bot.devnet.dex.uniswap import contract as uniswap_contract
from bot.devnet.local import devnet_state
from tests.support.devnet import Devnet, reverted

WAD = 10**18
FLASH_PREMIUM_BPS = 5  # what the devnet market sets, as on mainnet
GAS = 3_000_000
OUTSIDER_INDEX = 3
SINK_INDEX = 8


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


@dataclass(frozen=True)
class Setup:
    devnet: Devnet
    dex: Dex
    adapter: Any  # web3 contract
    weth: Any
    usdt: Any
    a_weth: Any
    weth_usd: Decimal

    @property
    def w3(self) -> Web3:
        return self.devnet.w3

    @property
    def wallet(self) -> str:
        return self.devnet.wallet

    def hf(self) -> int:
        return scenario.user_account_data(self.w3, self.devnet.market, self.wallet).health_factor_wad

    def debt(self) -> int:
        return scenario.read_position(self.w3, self.devnet.market, self.wallet).reserve("USDT").debt

    def order(self, share_of_debt: Decimal, cap: Decimal, min_hf_wad: int = 0, fee: int = 500) -> tuple[Any, ...]:
        """(collateral, debt, repay, max collateral in, fee, min HF): repay a share of the debt,
        selling at most (loan + premium) / oracle price * (1 + cap) WETH."""
        repay = int(self.debt() * share_of_debt)
        premium = (repay * FLASH_PREMIUM_BPS + 5_000) // 10_000
        max_in = int(Decimal(repay + premium) * 10**12 / self.weth_usd * (1 + cap))
        return (self.weth.address, self.usdt.address, repay, max_in, fee, min_hf_wad)

    def holdings(self) -> dict[str, int]:
        """Every balance and allowance the adapter could touch, and the wallet's position (scaled
        aToken and debt balances: they do not move with the interest each block accrues)."""
        market = self.devnet.market
        debt_token = self.w3.eth.contract(
            address=market.reserve("USDT").variable_debt_token, abi=artifacts.abi("VariableDebtToken")
        )
        a_weth = self.w3.eth.contract(address=self.a_weth.address, abi=artifacts.abi("AToken"))
        contracts = {"WETH": self.weth, "USDT": self.usdt}
        spenders = {"pool": market.pool, "router": self.dex.router}
        return {
            "wallet scaled aWETH": a_weth.functions.scaledBalanceOf(self.wallet).call(),
            "wallet scaled USDT debt": debt_token.functions.scaledBalanceOf(self.wallet).call(),
            "adapter scaled aWETH": a_weth.functions.scaledBalanceOf(self.adapter.address).call(),
            **{f"wallet {k}": c.functions.balanceOf(self.wallet).call() for k, c in contracts.items()},
            **{f"adapter {k}": c.functions.balanceOf(self.adapter.address).call() for k, c in contracts.items()},
            **{
                f"adapter {k} -> {s}": c.functions.allowance(self.adapter.address, addr).call()
                for k, c in contracts.items()
                for s, addr in spenders.items()
            },
        }


def _send(w3: Web3, fn: Any, sender: str) -> Any:
    """Mine ``fn`` from ``sender`` (no estimate: a revert is mined too); the receipt."""
    tx_hash = fn.transact({"from": Web3.to_checksum_address(sender), "gas": GAS})
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.01)


def _move_oracle_and_pools(devnet: Devnet, dex: Dex, weth_usd: Decimal) -> None:
    scenario.set_price(devnet.w3, devnet.market, "WETH", weth_usd)
    arbitrage.align_pools(devnet.rpc_url, devnet.market.oracle, dex)


@pytest.fixture()
def setup(dex_devnet: Devnet) -> Iterator[Setup]:
    """The demo position at HF ≈ 1.02 (WETH down from $2,000), its borrowed USDT sent away, the
    pools arbitraged to the oracle, an adapter owned by the wallet with aWETH approved to it."""
    devnet = dex_devnet
    assert devnet.deployed.dex is not None
    dex = devnet.deployed.dex
    with reverted(devnet.w3):
        market = devnet.market
        hf_now = Decimal(scenario.user_account_data(devnet.w3, market, devnet.wallet).health_factor_wad) / WAD
        weth_usd = (Decimal(2000) * Decimal("1.02") / hf_now).quantize(Decimal("0.01"))
        _move_oracle_and_pools(devnet, dex, weth_usd)
        usdt = devnet.token(market.reserve("USDT").asset)
        sink = devnet.w3.eth.accounts[SINK_INDEX]
        _send(devnet.w3, usdt.functions.transfer(sink, usdt.functions.balanceOf(devnet.wallet).call()), devnet.wallet)
        address = deploy_adapter(devnet.w3, owner=devnet.wallet, pool=market.pool, router=dex.router)
        adapter = devnet.w3.eth.contract(address=Web3.to_checksum_address(address), abi=dex_adapter.abi())
        a_weth = devnet.token(market.reserve("WETH").a_token)
        _send(devnet.w3, a_weth.functions.approve(address, 2**256 - 1), devnet.wallet)
        yield Setup(devnet, dex, adapter, devnet.token(market.reserve("WETH").asset), usdt, a_weth, weth_usd)


def _nothing_held(holdings: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in holdings.items() if k.startswith("adapter") and v != 0}


def test_the_pools_follow_the_oracle_and_pay_the_profile_depth_within_one_percent(setup: Setup) -> None:
    prices = {
        (p.stable, p.fee): arbitrage.pool_usd_price(p, arbitrage.pool_sqrt_x96(setup.devnet.rpc_url, p))
        for p in setup.dex.pools
    }
    assert all(abs(price / setup.weth_usd - 1) < Decimal("0.000002") for price in prices.values()), prices

    # A seller pushing the WETH/USDT pools 1 % down receives the profile's depth (3 M USD per pair),
    # here 30 % below where the pools started: the ladder's ranges are 10.7 % wide (L ∝ 1/√P).
    maker, received = setup.dex.maker, 0
    router = uniswap_contract(setup.w3, "SwapRouter", setup.dex.router)
    for pool in (setup.dex.pool("USDT", 500), setup.dex.pool("USDT", 3000)):
        target = depth.sqrt_price_x96(
            depth.price_from_sqrt_x96(arbitrage.pool_sqrt_x96(setup.devnet.rpc_url, pool))
            * (Decimal("0.99") if pool.collateral_is_token0 else 1 / Decimal("0.99"))
        )
        before = setup.usdt.functions.balanceOf(maker).call()
        params = (setup.weth.address, setup.usdt.address, pool.fee, maker, 2**63, 10**30, 0, target)
        assert _send(setup.w3, router.functions.exactInputSingle(params), maker)["status"] == 1
        received += setup.usdt.functions.balanceOf(maker).call() - before
    assert abs(Decimal(received) / 10**6 / Decimal(3_000_000) - 1) < Decimal("0.03"), received


def test_set_price_through_the_state_file_moves_every_pool_to_the_new_oracle_price(
    dex_devnet: Devnet, tmp_path: Path
) -> None:
    """What `devnet set-price` does: the feed through plain RPC, then the launcher's DEX hook
    with the facts read back from the state file."""
    path = state.write_state(devnet_state(dex_devnet.deployed, pids={}), tmp_path / "devnet.json")
    recorded = state.read_state(path)
    assert recorded is not None
    with reverted(dex_devnet.w3):
        block = quick.block_number(recorded.rpc_url)
        quick.set_feed_price(recorded.rpc_url, recorded.price_feeds["WETH"], Decimal("1733.5"), mine=False)
        moves = launcher.align_dex(recorded)
        mined = quick.block_number(recorded.rpc_url) - block
        again = launcher.align_dex(recorded)
        dex = Dex.from_json(recorded.extra["dex"])
        prices = [arbitrage.pool_usd_price(p, arbitrage.pool_sqrt_x96(recorded.rpc_url, p)) for p in dex.pools]

    assert [(m.stable, m.fee) for m in moves] == [("USDT", 500), ("USDT", 3000), ("USDC", 500), ("USDC", 3000)]
    assert all(abs(m.usd_before - 2000) < Decimal("0.0001") for m in moves)
    assert all(abs(p - Decimal("1733.5")) < Decimal("0.001") for p in prices), prices
    assert again == []  # already at the oracle: nothing to do
    assert mined >= 1


def test_an_atomic_deleverage_from_hf_1_02_raises_hf_in_one_transaction(setup: Setup) -> None:
    account = scenario.user_account_data(setup.w3, setup.devnet.market, setup.wallet)
    hf_before, debt_before, block_before = account.health_factor_wad, setup.debt(), setup.w3.eth.block_number
    assert Decimal(hf_before) / WAD == pytest.approx(Decimal("1.02"), abs=Decimal("0.001"))
    assert setup.usdt.functions.balanceOf(setup.wallet).call() == 0  # no stablecoins to repay with
    order = setup.order(Decimal("0.4"), cap=Decimal("0.01"), min_hf_wad=hf_before + 1)

    repaid, sold, hf_returned = setup.adapter.functions.deleverage(*order).call({"from": setup.wallet})  # pre-flight
    receipt = _send(setup.w3, setup.adapter.functions.deleverage(*order), setup.wallet)

    assert receipt["status"] == 1 and receipt["blockNumber"] == block_before + 1
    hf_after = setup.hf()
    assert hf_after == hf_returned and hf_after > hf_before
    # HF = (collateral - sold) * LT / (debt - repaid), in USD at the oracle: 1.02 -> about 1.146.
    sold_usd, repaid_usd = Decimal(sold) / WAD * setup.weth_usd, Decimal(repaid) / 10**6
    expected = (
        (Decimal(account.total_collateral_base) / 10**8 - sold_usd)
        * Decimal(account.current_liquidation_threshold_bps)
        / 10**4
        / (Decimal(account.total_debt_base) / 10**8 - repaid_usd)
    )
    assert Decimal(hf_after) / WAD == pytest.approx(expected, abs=Decimal("0.0001"))
    assert Decimal(hf_after) / WAD > Decimal("1.14")
    assert repaid == order[2] and debt_before - setup.debt() == pytest.approx(repaid, abs=5)
    # Sold: the loan plus premium at the oracle price, plus the pool fee and a little impact.
    at_oracle = Decimal(order[2] + (order[2] * FLASH_PREMIUM_BPS + 5_000) // 10_000) * 10**12 / setup.weth_usd
    assert 1 < Decimal(sold) / at_oracle < Decimal("1.001")
    assert setup.usdt.functions.balanceOf(setup.wallet).call() == 0
    assert _nothing_held(setup.holdings()) == {}


def test_a_pool_moved_past_the_cap_reverts_everything_and_changes_nothing(setup: Setup) -> None:
    # A front-run: the 0.05 % pool pushed 3 % below the oracle just before the call.
    pool = setup.dex.pool("USDT", 500)
    current = arbitrage.pool_sqrt_x96(setup.devnet.rpc_url, pool)
    factor = Decimal("0.97") if pool.collateral_is_token0 else 1 / Decimal("0.97")
    target = depth.sqrt_price_x96(depth.price_from_sqrt_x96(current) * factor)
    router = uniswap_contract(setup.w3, "SwapRouter", setup.dex.router)
    maker = setup.dex.maker
    front_run = (setup.weth.address, setup.usdt.address, 500, maker, 2**63, 10**30, 0, target)
    assert _send(setup.w3, router.functions.exactInputSingle(front_run), maker)["status"] == 1
    order = setup.order(Decimal("0.4"), cap=Decimal("0.01"))
    before = setup.holdings()

    with pytest.raises(ContractLogicError) as capped:
        setup.adapter.functions.deleverage(*order).call({"from": setup.wallet})
    receipt = _send(setup.w3, setup.adapter.functions.deleverage(*order), setup.wallet)

    # SwapFailed(the router's "STF": it could not pull more collateral than the cap allows).
    assert _selector("SwapFailed(bytes)") in str(capped.value.data) and b"STF".hex() in str(capped.value.data)
    assert receipt["status"] == 0
    assert setup.holdings() == before
    assert _nothing_held(before) == {}


def test_only_the_owner_may_start_a_deleverage(setup: Setup) -> None:
    outsider = setup.w3.eth.accounts[OUTSIDER_INDEX]
    order = setup.order(Decimal("0.4"), cap=Decimal("0.01"))
    before = setup.holdings()

    with pytest.raises(ContractLogicError) as refused:
        setup.adapter.functions.deleverage(*order).call({"from": outsider})
    receipt = _send(setup.w3, setup.adapter.functions.deleverage(*order), outsider)

    assert _selector("NotOwner()") in str(refused.value.data)
    assert receipt["status"] == 0 and setup.holdings() == before


def test_the_callback_accepts_only_the_pool_for_a_loan_the_adapter_took(setup: Setup) -> None:
    usdt, amount = setup.usdt.address, 10**9
    # Anyone calling it directly: not the Pool.
    direct = setup.adapter.functions.executeOperation(usdt, amount, 0, setup.wallet, b"")
    with pytest.raises(ContractLogicError) as not_pool:
        direct.call({"from": setup.wallet})
    assert _selector("NotPool()") in str(not_pool.value.data)
    assert _send(setup.w3, direct, setup.wallet)["status"] == 0

    # The Pool itself, for a flash loan someone else started (the initiator is not the adapter).
    pool = setup.devnet.market.pool
    setup.w3.provider.make_request("anvil_impersonateAccount", [pool])  # type: ignore[arg-type]
    setup.w3.provider.make_request("anvil_setBalance", [pool, hex(10**18)])  # type: ignore[arg-type]
    foreign = setup.adapter.functions.executeOperation(
        usdt, amount, 0, setup.devnet.w3.eth.accounts[OUTSIDER_INDEX], b""
    )
    with pytest.raises(ContractLogicError) as not_initiator:
        foreign.call({"from": pool})
    assert _selector("NotInitiator()") in str(not_initiator.value.data)
    assert _send(setup.w3, foreign, pool)["status"] == 0
    assert _nothing_held(setup.holdings()) == {}


def test_a_deleverage_that_would_end_below_the_minimum_hf_reverts(setup: Setup) -> None:
    order = setup.order(Decimal("0.1"), cap=Decimal("0.01"), min_hf_wad=2 * WAD)
    before = setup.holdings()

    with pytest.raises(ContractLogicError) as too_low:
        setup.adapter.functions.deleverage(*order).call({"from": setup.wallet})

    assert _selector("HealthFactorTooLow(uint256,uint256)") in str(too_low.value.data)
    assert _send(setup.w3, setup.adapter.functions.deleverage(*order), setup.wallet)["status"] == 0
    assert setup.holdings() == before

"""A whole devnet for the daemon: anvil + Aave v3 + the demo position + the exchange emulator
wired to the chain (native ETH deposits, USDT paid from a hot wallet).

``e2e``: a fresh one per test. ``shared_devnet``: one chain per module (HF ≈ 1.7), put back to
its deployed state by ``reset`` (the fault suites start their own emulator per test)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from bot.devnet import anvil, scenario
from bot.devnet.exchange import CoinConfig, EmulatorConfig, EmulatorHandle, start_emulator
from bot.devnet.exchange.chain import ERC20_ABI
from bot.devnet.local import DemoOptions
from tests.support.devnet import Devnet, start_devnet

D = Decimal
HOT_WALLET_INDEX = 7


@dataclass
class E2E:
    devnet: Devnet
    exchange: EmulatorHandle
    tmp: Path

    def toml(self) -> str:
        m = self.devnet.market
        return f'''mode = "testnet"
[chain]
rpc_url = "{self.devnet.node.rpc_url}"
chain_id = {m.chain_id}
pool_addresses_provider = "{m.pool_addresses_provider}"
rounding = "v3.0"
confirmations = 1
poll_interval_s = 0.2
[wallet]
address = "{self.devnet.wallet}"
key_source = "env"
[exchange]
symbol = "ETH/USDT"
deposit_network = "ETH"
api_url = "{self.exchange.url}"
withdrawal_allowlist = ["{self.devnet.wallet}"]
timeout_ms = 5000
[policy]
name = "threshold"
params = {{ trigger_hf = 1.5, target_hf = 1.6 }}
[limits]
max_slippage_bps = 100
hf_floor = 1.10
price_shock_bps = 300
max_batch_usd = 20000
max_daily_usd = 1000000
min_batch_usd = 100
cooldown_s = 0
max_oracle_divergence_bps = 300
[journal]
path = "{self.tmp / "journal.sqlite"}"
'''

    def env(self) -> dict[str, str]:
        return {
            "DELEVER_WALLET__PRIVATE_KEY": self.devnet.demo.wallet_private_key,
            "DELEVER_EXCHANGE__API_KEY": self.exchange.api_key,
            "DELEVER_EXCHANGE__API_SECRET": self.exchange.api_secret,
        }


@pytest.fixture
def e2e(tmp_path: Path) -> Iterator[E2E]:
    with start_devnet(DemoOptions(collateral=D(100), target_hf=D("1.45"))) as devnet:
        _, hot_key = scenario.account_key(HOT_WALLET_INDEX)
        coins = {
            "ETH": CoinConfig("ETH", None, 18, D("0.0008"), D("0.0016")),
            "USDT": CoinConfig("USDT", devnet.market.tokens["USDT"], 6, D(1), D(10), withdraw_multiple=D("0.000001")),
        }
        handle = start_emulator(
            EmulatorConfig(
                rpc_url=devnet.node.rpc_url,
                hot_wallet_key=hot_key,
                coins=coins,
                prices={"ETHUSDT": D(2000)},
                deposit_confirmations=1,
                withdrawal_delay_s=0.2,
                poll_interval_s=0.1,
            )
        )
        spend_the_borrowed_usdt(devnet)
        try:
            yield E2E(devnet, handle, tmp_path)
        finally:
            handle.stop()


def spend_the_borrowed_usdt(devnet: Devnet) -> None:
    """The demo wallet still holds what it borrowed; move it away so the HF can only be fixed
    by selling collateral (otherwise the first batch is, rightly, an idle repay)."""
    w3 = devnet.w3
    token = w3.eth.contract(address=devnet.market.tokens["USDT"], abi=ERC20_ABI)
    held = token.functions.balanceOf(devnet.wallet).call()
    if held:
        sink = scenario.accounts(w3)[9]
        w3.eth.wait_for_transaction_receipt(token.functions.transfer(sink, held).transact({"from": devnet.wallet}))


@dataclass
class SharedDevnet:
    devnet: Devnet
    snapshot_id: str

    @property
    def url(self) -> str:
        return self.devnet.rpc_url

    def reset(self) -> None:
        """Back to the state right after the deployment, in automine mode."""
        anvil.rpc_call(self.url, "evm_setIntervalMining", [0])
        anvil.rpc_call(self.url, "evm_setAutomine", [True])
        anvil.rpc_call(self.url, "anvil_dropAllTransactions")
        assert anvil.rpc_call(self.url, "evm_revert", [self.snapshot_id]) is True
        self.snapshot_id = anvil.rpc_call(self.url, "evm_snapshot")


@pytest.fixture(scope="module")
def shared_devnet() -> Iterator[SharedDevnet]:
    with start_devnet(DemoOptions(collateral=D(100), target_hf=D("1.7"))) as devnet:
        spend_the_borrowed_usdt(devnet)
        yield SharedDevnet(devnet, anvil.rpc_call(devnet.rpc_url, "evm_snapshot"))

"""Deploy a real Aave v3 market (npm @aave/core-v3 1.19.3 artifacts) on anvil with web3.py.

The order matters (each point was a revert once): the ACL admin is set before ACLManager is
deployed; BorrowLogic before FlashLoanLogic before Pool; the pool proxy exists before the
configurator proxy (its initializer stores ``getPool()`` once); token implementations take the
pool *proxy*; collateral parameters are set before anyone supplies. Rates are in ray, risk
parameters in basis points, oracle answers in 1e8 USD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError

from bot.devnet import artifacts
from bot.devnet.multicall3 import MULTICALL3_ADDRESS, install_multicall3
from bot.domain.position import price_to_base
from bot.domain.wadray import RAY

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
USD_BASE_UNIT = 10**8
MARKET_ID = "delever devnet"


class DeploymentError(RuntimeError):
    """A deployment transaction reverted or the deployed state is not what was configured."""


def ray(percent: str) -> int:
    """'92' (percent) → ray."""
    return int(Decimal(percent) * RAY / 100)


@dataclass(frozen=True, slots=True)
class RateCurve:
    """DefaultReserveInterestRateStrategy parameters (variable rate only), in ray."""

    optimal_usage_ratio: int
    base_variable_borrow_rate: int
    variable_rate_slope1: int
    variable_rate_slope2: int
    optimal_stable_to_total_debt_ratio: int = ray("20")


@dataclass(frozen=True, slots=True)
class ReserveSpec:
    symbol: str
    name: str
    decimals: int
    price_usd: Decimal
    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int
    reserve_factor_bps: int
    rates: RateCurve
    liquidation_protocol_fee_bps: int = 0
    borrowing_enabled: bool = True
    is_weth: bool = False  # WETH9Mocked (deposit() with ETH) instead of MintableERC20


STABLE_RATES = RateCurve(ray("92"), 0, ray("6.5"), ray("35"))
WETH_RATES = RateCurve(ray("90"), 0, ray("2.7"), ray("80"))
WBTC_RATES = RateCurve(ray("80"), 0, ray("4"), ray("80"))

# Ethereum Core parameters (notes B1); prices are the devnet's defaults.
DEFAULT_RESERVES: tuple[ReserveSpec, ...] = (
    ReserveSpec("WETH", "Wrapped Ether", 18, Decimal(2000), 8050, 8300, 10500, 1500, WETH_RATES,
                liquidation_protocol_fee_bps=1000, is_weth=True),
    ReserveSpec("WBTC", "Wrapped BTC", 8, Decimal(60000), 7300, 7800, 10500, 2000, WBTC_RATES),
    ReserveSpec("USDC", "USD Coin", 6, Decimal(1), 7500, 7800, 10450, 1000, STABLE_RATES),
    ReserveSpec("USDT", "Tether USD", 6, Decimal(1), 7500, 7800, 10450, 1000, STABLE_RATES),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReserveAddresses:
    symbol: str
    decimals: int
    asset: str
    a_token: str
    stable_debt_token: str
    variable_debt_token: str
    price_feed: str  # MockAggregator
    rate_strategy: str


@dataclass(frozen=True, slots=True)
class Market:
    chain_id: int
    admin: str  # owner of the addresses provider, ACL admin, pool admin
    pool_addresses_provider: str
    pool: str  # proxy
    pool_configurator: str  # proxy
    acl_manager: str
    oracle: str  # AaveOracle
    data_provider: str  # AaveProtocolDataProvider
    multicall3: str
    treasury: str
    reserves: tuple[ReserveAddresses, ...]
    deploy_block: int
    libraries: dict[str, str] = field(default_factory=dict)

    def reserve(self, symbol: str) -> ReserveAddresses:
        for r in self.reserves:
            if r.symbol == symbol:
                return r
        raise KeyError(f"no reserve {symbol!r} in this market")

    @property
    def tokens(self) -> dict[str, str]:
        return {r.symbol: r.asset for r in self.reserves}

    @property
    def price_feeds(self) -> dict[str, str]:
        return {r.symbol: r.price_feed for r in self.reserves}


GAS_LIMIT = 16_000_000  # above the largest deployment (PoolConfigurator, 5.25 M); under EIP-7825's cap


class Deployer:
    """Deploys artifacts and sends transactions from an unlocked anvil account.

    Transactions go out with every field filled (gas, fees, chain id) straight to
    ``eth_sendTransaction``: web3's per-transaction estimate and validation round trips would
    triple the RPC calls. A reverted transaction is replayed with ``eth_call`` for its reason.
    """

    def __init__(self, w3: Web3, sender: str) -> None:
        self.w3 = w3
        self.sender = Web3.to_checksum_address(sender)
        self.libraries: dict[str, str] = {}
        base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
        self._tx_defaults = {
            "from": self.sender,
            "gas": GAS_LIMIT,
            "chainId": w3.eth.chain_id,
            "maxFeePerGas": 2 * base_fee + 10**9,
            "maxPriorityFeePerGas": 10**9,
        }

    def contract(self, name: str, address: str) -> Any:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifacts.abi(name))

    def deploy(self, name: str, *args: Any) -> Any:
        artifact = artifacts.load(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.linked(self.libraries))
        receipt = self._send(f"deploy {name}", factory.constructor(*args))
        return self.contract(name, receipt["contractAddress"])

    def deploy_library(self, name: str) -> str:
        address = self.deploy(name).address
        self.libraries[name] = address
        return address

    def call(self, what: str, fn: Any, *, value: int = 0) -> Any:
        return self._send(what, fn, value=value)

    def _send(self, what: str, fn: Any, *, value: int = 0) -> Any:
        tx = fn.build_transaction({**self._tx_defaults, "value": value})
        response = self.w3.provider.make_request("eth_sendTransaction", [_rpc_fields(tx)])
        if "error" in response:
            raise DeploymentError(f"{what} rejected: {response['error'].get('message', response['error'])}")
        receipt = self.w3.eth.wait_for_transaction_receipt(response["result"], timeout=30, poll_latency=0.01)
        if receipt["status"] != 1:
            raise DeploymentError(f"{what} reverted: {self._revert_reason(tx, receipt['blockNumber'] - 1)}")
        return receipt

    def _revert_reason(self, tx: dict[str, Any], block: int) -> str:
        call = {k: tx[k] for k in ("from", "to", "data", "value") if tx.get(k) not in (None, b"")}
        try:
            self.w3.eth.call(call, block_identifier=block)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return str(exc.message or exc)
        except Exception as exc:  # noqa: BLE001 - best effort diagnostics only
            return f"unknown ({type(exc).__name__})"
        return "no reason given (it succeeds as a call)"


def _rpc_fields(tx: dict[str, Any]) -> dict[str, Any]:
    fields = {k: (hex(v) if isinstance(v, int) else v) for k, v in tx.items()}
    if not fields.get("to"):
        fields.pop("to", None)  # a contract creation (web3 puts b"" there)
    return fields


def deploy_market(
    w3: Web3,
    *,
    admin: str,
    reserves: tuple[ReserveSpec, ...] = DEFAULT_RESERVES,
    treasury: str | None = None,
    flashloan_premium_bps: int = 5,
) -> Market:
    """Deploy the whole market from ``admin`` (an unlocked account) and return its addresses."""
    d = Deployer(w3, admin)
    admin = d.sender
    treasury = Web3.to_checksum_address(treasury or admin)

    provider = d.deploy("PoolAddressesProvider", MARKET_ID, admin)
    d.call("setACLAdmin", provider.functions.setACLAdmin(admin))  # before ACLManager: error 75
    acl = d.deploy("ACLManager", provider.address)
    d.call("setACLManager", provider.functions.setACLManager(acl.address))
    d.call("addPoolAdmin", acl.functions.addPoolAdmin(admin))
    d.call("addEmergencyAdmin", acl.functions.addEmergencyAdmin(admin))

    for lib in ("SupplyLogic", "BorrowLogic", "LiquidationLogic", "EModeLogic", "BridgeLogic", "PoolLogic",
                "ConfiguratorLogic"):  # fmt: skip
        d.deploy_library(lib)
    d.deploy_library("FlashLoanLogic")  # links BorrowLogic

    pool_impl = d.deploy("Pool", provider.address)
    d.call("setPoolImpl", provider.functions.setPoolImpl(pool_impl.address))
    pool = d.contract("Pool", provider.functions.getPool().call())
    configurator_impl = d.deploy("PoolConfigurator")  # only after the pool proxy exists
    d.call("setPoolConfiguratorImpl", provider.functions.setPoolConfiguratorImpl(configurator_impl.address))
    configurator = d.contract("PoolConfigurator", provider.functions.getPoolConfigurator().call())

    assets = [_deploy_asset(d, spec) for spec in reserves]
    feeds = [d.deploy("MockAggregator", price_to_base(spec.price_usd, USD_BASE_UNIT)).address for spec in reserves]
    oracle = d.deploy("AaveOracle", provider.address, assets, feeds, ZERO_ADDRESS, ZERO_ADDRESS, USD_BASE_UNIT)
    d.call("setPriceOracle", provider.functions.setPriceOracle(oracle.address))
    data_provider = d.deploy("AaveProtocolDataProvider", provider.address)
    d.call("setPoolDataProvider", provider.functions.setPoolDataProvider(data_provider.address))

    a_token_impl = d.deploy("AToken", pool.address)  # the pool proxy, not the implementation: error 87
    stable_impl = d.deploy("StableDebtToken", pool.address)
    variable_impl = d.deploy("VariableDebtToken", pool.address)

    strategies: dict[RateCurve, str] = {}
    for spec in reserves:
        if spec.rates not in strategies:
            strategies[spec.rates] = _deploy_rate_strategy(d, provider.address, spec.rates)

    inputs = [
        (a_token_impl.address, stable_impl.address, variable_impl.address, spec.decimals, strategies[spec.rates],
         asset, treasury, ZERO_ADDRESS,
         f"Aave Devnet {spec.symbol}", f"aDev{spec.symbol}",
         f"Aave Devnet Variable Debt {spec.symbol}", f"variableDebtDev{spec.symbol}",
         f"Aave Devnet Stable Debt {spec.symbol}", f"stableDebtDev{spec.symbol}", b"")
        for spec, asset in zip(reserves, assets, strict=True)
    ]  # fmt: skip
    d.call("initReserves", configurator.functions.initReserves(inputs))

    for spec, asset in zip(reserves, assets, strict=True):
        _configure_reserve(d, configurator, spec, asset)
    if flashloan_premium_bps:
        d.call("updateFlashloanPremiumTotal", configurator.functions.updateFlashloanPremiumTotal(flashloan_premium_bps))

    multicall3 = install_multicall3(w3)
    market_reserves = []
    for spec, asset, feed in zip(reserves, assets, feeds, strict=True):
        a_token, stable, variable = data_provider.functions.getReserveTokensAddresses(asset).call()
        market_reserves.append(
            ReserveAddresses(spec.symbol, spec.decimals, asset, a_token, stable, variable, feed, strategies[spec.rates])
        )
    return Market(
        chain_id=w3.eth.chain_id,
        admin=admin,
        pool_addresses_provider=provider.address,
        pool=pool.address,
        pool_configurator=configurator.address,
        acl_manager=acl.address,
        oracle=oracle.address,
        data_provider=data_provider.address,
        multicall3=multicall3 or MULTICALL3_ADDRESS,
        treasury=treasury,
        reserves=tuple(market_reserves),
        deploy_block=w3.eth.block_number,
        libraries=dict(d.libraries),
    )


def _deploy_asset(d: Deployer, spec: ReserveSpec) -> str:
    if spec.is_weth:
        if spec.decimals != 18:
            raise ValueError("WETH9Mocked has 18 decimals")
        return str(d.deploy("WETH9Mocked").address)
    return str(d.deploy("MintableERC20", spec.name, spec.symbol, spec.decimals).address)


def _deploy_rate_strategy(d: Deployer, provider: str, rates: RateCurve) -> str:
    if not 0 < rates.optimal_usage_ratio <= RAY:
        raise ValueError("optimal_usage_ratio must be in (0, 1] ray")  # the contract says "83"
    contract = d.deploy(
        "DefaultReserveInterestRateStrategy",
        provider,
        rates.optimal_usage_ratio,
        rates.base_variable_borrow_rate,
        rates.variable_rate_slope1,
        rates.variable_rate_slope2,
        0,  # stableRateSlope1: stable borrowing stays disabled
        0,  # stableRateSlope2
        0,  # baseStableRateOffset
        0,  # stableRateExcessOffset
        rates.optimal_stable_to_total_debt_ratio,
    )
    return str(contract.address)


def _configure_reserve(d: Deployer, configurator: Any, spec: ReserveSpec, asset: str) -> None:
    fns = configurator.functions
    d.call(
        f"configureReserveAsCollateral {spec.symbol}",
        fns.configureReserveAsCollateral(
            asset, spec.ltv_bps, spec.liquidation_threshold_bps, spec.liquidation_bonus_bps
        ),
    )
    if spec.borrowing_enabled:
        d.call(f"setReserveBorrowing {spec.symbol}", fns.setReserveBorrowing(asset, True))
    d.call(f"setReserveFactor {spec.symbol}", fns.setReserveFactor(asset, spec.reserve_factor_bps))
    d.call(f"setReserveFlashLoaning {spec.symbol}", fns.setReserveFlashLoaning(asset, True))
    if spec.liquidation_protocol_fee_bps:
        d.call(
            f"setLiquidationProtocolFee {spec.symbol}",
            fns.setLiquidationProtocolFee(asset, spec.liquidation_protocol_fee_bps),
        )

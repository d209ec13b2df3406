"""What happens on the devnet after deployment: liquidity, the demo position, price moves, time.

Everything is sent from anvil's unlocked default accounts with ``eth_sendTransaction``.
Accounts (public test mnemonic): 0 admin, 1 liquidity provider, 2 demo wallet.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from web3 import Web3

from bot.devnet import anvil, artifacts
from bot.devnet.aave_market import Deployer, Market
from bot.domain import Position, Reserve, Rounding, account_data, decimal_to_wad, health_factor_wad, to_units
from bot.domain.position import AccountData, price_to_base
from bot.domain.wadray import MAX_UINT256
from bot.errors import UserInputError

ADMIN_INDEX = 0
LIQUIDITY_PROVIDER_INDEX = 1
DEMO_WALLET_INDEX = 2
VARIABLE_RATE = 2

# Ample liquidity: enough to borrow against thousands of ETH.
DEFAULT_LIQUIDITY: dict[str, Decimal] = {
    "USDT": Decimal(200_000_000),
    "USDC": Decimal(200_000_000),
    "WETH": Decimal(50_000),
    "WBTC": Decimal(2_000),
}


def account_key(index: int, mnemonic: str = anvil.DEFAULT_MNEMONIC) -> tuple[str, str]:
    """(address, private key hex) of anvil's default account ``index``."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
    return acct.address, "0x" + bytes(acct.key).hex()


def accounts(w3: Web3) -> list[str]:
    return [Web3.to_checksum_address(a) for a in w3.eth.accounts]


def _erc20(w3: Web3, address: str) -> Any:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifacts.abi("MintableERC20"))


def _pool(w3: Web3, market: Market) -> Any:
    return w3.eth.contract(address=market.pool, abi=artifacts.abi("Pool"))


def mint(w3: Web3, market: Market, symbol: str, *, to: str, amount: int, sender: str | None = None) -> None:
    """Mint test tokens to any address ``to``; anyone may mint them (WETH9Mocked and
    MintableERC20 both have an open ``mint(address,uint256)``). Sent from an unlocked account."""
    d = Deployer(w3, sender or accounts(w3)[ADMIN_INDEX])
    token = _erc20(w3, market.reserve(symbol).asset)
    d.call(f"mint {symbol}", token.functions.mint(Web3.to_checksum_address(to), amount))


def supply(w3: Web3, market: Market, symbol: str, *, sender: str, amount: int) -> None:
    d = Deployer(w3, sender)
    asset = market.reserve(symbol).asset
    d.call(f"approve {symbol}", _erc20(w3, asset).functions.approve(market.pool, amount))
    d.call(f"supply {symbol}", _pool(w3, market).functions.supply(asset, amount, d.sender, 0))


def borrow(w3: Web3, market: Market, symbol: str, *, sender: str, amount: int) -> None:
    d = Deployer(w3, sender)
    asset = market.reserve(symbol).asset
    d.call(f"borrow {symbol}", _pool(w3, market).functions.borrow(asset, amount, VARIABLE_RATE, 0, d.sender))


def provide_liquidity(w3: Web3, market: Market, *, provider: str, amounts: dict[str, Decimal] | None = None) -> None:
    for symbol, human in (amounts or DEFAULT_LIQUIDITY).items():
        if symbol not in market.tokens:
            continue
        units = to_units(human, market.reserve(symbol).decimals)
        mint(w3, market, symbol, to=provider, amount=units)
        supply(w3, market, symbol, sender=provider, amount=units)


def read_position(w3: Web3, market: Market, wallet: str, *, block: int | str = "latest") -> Position:
    """The wallet's position at one block, from the data provider and the oracle (exact units)."""
    data_provider = w3.eth.contract(address=market.data_provider, abi=artifacts.abi("AaveProtocolDataProvider"))
    oracle = w3.eth.contract(address=market.oracle, abi=artifacts.abi("AaveOracle"))
    wallet = Web3.to_checksum_address(wallet)
    reserves = []
    for r in market.reserves:
        config = data_provider.functions.getReserveConfigurationData(r.asset).call(block_identifier=block)
        user = data_provider.functions.getUserReserveData(r.asset, wallet).call(block_identifier=block)
        price = oracle.functions.getAssetPrice(r.asset).call(block_identifier=block)
        reserves.append(
            Reserve(
                symbol=r.symbol,
                decimals=int(config[0]),
                price=int(price),
                ltv_bps=int(config[1]),
                liquidation_threshold_bps=int(config[2]),
                liquidation_bonus_bps=int(config[3]),
                collateral=int(user[0]),  # currentATokenBalance
                debt=int(user[2]),  # currentVariableDebt
                collateral_enabled=bool(user[8]),
                asset=r.asset,
            )
        )
    return Position(tuple(reserves), Rounding.V3_0)


def user_account_data(w3: Web3, market: Market, wallet: str, *, block: int | str = "latest") -> AccountData:
    return pool_account_data(w3, market.pool, wallet, block=block)


def pool_account_data(w3: Web3, pool: str, wallet: str, *, block: int | str = "latest") -> AccountData:
    """``Pool.getUserAccountData(wallet)`` at ``block``."""
    contract = w3.eth.contract(address=Web3.to_checksum_address(pool), abi=artifacts.abi("Pool"))
    values = contract.functions.getUserAccountData(Web3.to_checksum_address(wallet)).call(block_identifier=block)
    return AccountData(*(int(v) for v in values))


def borrow_for_target_hf(position: Position, symbol: str, *, target_hf_wad: int) -> int:
    """Largest additional borrow of ``symbol`` (base units) that keeps HF ≥ ``target_hf_wad``.

    Exact on the contract's integer HF; 0 when HF is already at or below the target.
    """
    current = position.reserve(symbol).debt
    if health_factor_wad(position) <= target_hf_wad and position.debts:
        return 0

    def hf_with(extra: int) -> int:
        return health_factor_wad(position.with_reserve(symbol, debt=current + extra))

    hi = 1
    while hf_with(hi) >= target_hf_wad:
        hi *= 2
        if hi > 2**200:
            raise ValueError("the position has no collateral to borrow against")
    lo = hi // 2 if hi > 1 else 0  # invariant: hf_with(lo) >= target (or lo == 0), hf_with(hi) < target
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if hf_with(mid) >= target_hf_wad:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True, slots=True)
class OpenedPosition:
    wallet: str
    collateral_symbol: str
    collateral_amount: int  # base units supplied
    debt_symbol: str
    borrowed: int  # base units borrowed
    account: AccountData  # getUserAccountData right after the borrow


def open_position(
    w3: Web3,
    market: Market,
    *,
    wallet: str,
    collateral_symbol: str = "WETH",
    collateral_amount: Decimal = Decimal(100),
    debt_symbol: str = "USDT",
    target_hf: Decimal = Decimal("1.45"),
) -> OpenedPosition:
    """Supply collateral from ``wallet`` and borrow ``debt_symbol`` so that HF ≈ ``target_hf``."""
    if collateral_amount <= 0:
        raise UserInputError("collateral must be positive")
    target_wad = decimal_to_wad(target_hf)
    collateral = market.reserve(collateral_symbol)
    units = to_units(collateral_amount, collateral.decimals)
    if collateral_symbol == "WETH":
        _wrap_eth(w3, market, wallet=wallet, amount=units)
    else:
        mint(w3, market, collateral_symbol, to=wallet, amount=units)
    supply(w3, market, collateral_symbol, sender=wallet, amount=units)

    position = read_position(w3, market, wallet)
    borrow_floor_hf = _min_hf_by_ltv(position)
    if target_wad <= borrow_floor_hf:
        raise UserInputError(
            f"target HF {target_hf} is below what the LTV allows ({Decimal(borrow_floor_hf) / 10**18:.4f})"
        )
    amount = borrow_for_target_hf(position, debt_symbol, target_hf_wad=target_wad)
    if amount <= 0:
        raise UserInputError(f"nothing to borrow at target HF {target_hf}")
    borrow(w3, market, debt_symbol, sender=wallet, amount=amount)
    account = user_account_data(w3, market, wallet)
    if account.health_factor_wad == MAX_UINT256 or account.total_debt_base == 0:
        raise RuntimeError("the borrow left no debt on the wallet")
    # Balances may accrue a few seconds of interest between the read and the borrow; no more.
    if abs(account.health_factor_wad - target_wad) * 10**6 > target_wad:
        raise RuntimeError(f"HF after the borrow is {account.health_factor}, not about {target_hf}")
    return OpenedPosition(Web3.to_checksum_address(wallet), collateral_symbol, units, debt_symbol, amount, account)


def _min_hf_by_ltv(position: Position) -> int:
    """HF at the LTV limit (LT/LTV): a borrow beyond it reverts with 36."""
    data = account_data(position)
    if data.ltv_bps == 0:
        return MAX_UINT256
    return data.current_liquidation_threshold_bps * 10**18 // data.ltv_bps


def _wrap_eth(w3: Web3, market: Market, *, wallet: str, amount: int) -> None:
    weth = w3.eth.contract(address=market.reserve("WETH").asset, abi=artifacts.abi("WETH9Mocked"))
    if w3.eth.get_balance(Web3.to_checksum_address(wallet)) < amount + 10 * 10**18:  # keep some for gas
        anvil.set_balance(w3, wallet, amount + 100 * 10**18)
    Deployer(w3, wallet).call("wrap ETH", weth.functions.deposit(), value=amount)


def set_price(w3: Web3, market: Market, symbol: str, usd: Decimal | str | int) -> int:
    """Move ``symbol``'s oracle price to ``usd`` and mine a block; return the feed's new answer."""
    return set_feed_price(w3, market.reserve(symbol).price_feed, usd)


def set_feed_price(w3: Web3, feed: str, usd: Decimal | str | int) -> int:
    """Write the MockAggregator's ``_latestAnswer`` (slot 0), check it reads back, mine a block."""
    answer = price_to_base(Decimal(str(usd)))
    if answer <= 0:
        raise UserInputError(f"price must be positive, got {usd}")
    anvil.set_storage_at(w3, feed, 0, answer)
    aggregator = w3.eth.contract(address=Web3.to_checksum_address(feed), abi=artifacts.abi("MockAggregator"))
    read_back = aggregator.functions.latestAnswer().call()
    if read_back != answer:
        raise RuntimeError(f"feed {feed} reads {read_back} after writing {answer}: storage layout changed?")
    anvil.mine(w3)
    return answer


def advance(w3: Web3, seconds: int) -> int:
    """Move chain time forward and mine one block (interest accrues); return the new timestamp."""
    if seconds <= 0:
        raise UserInputError(f"duration must be positive, got {seconds} s")
    anvil.increase_time(w3, seconds)
    anvil.mine(w3)
    return int(w3.eth.get_block("latest")["timestamp"])

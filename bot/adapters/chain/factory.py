"""How the engine builds the on-chain leg: one Web3, one tx store, one sender, one adapter.

    lending = build_lending(
        rpc_url=..., chain_id=31337, pool_addresses_provider=..., account=settings.signer(),
        store_path=settings.journal.path, hf_floor=settings.limits.hf_floor,
        confirmations=settings.chain.confirmations, rounding=Rounding(settings.chain.rounding),
    )
    lending.sender.reconcile_open()   # at start-up, before deciding anything

``lending_from_settings(settings, account)`` does the same from a ``bot.settings.Settings``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from bot.adapters.chain.aave_lending import AaveLending, LendingConfig
from bot.adapters.chain.aave_reader import AaveReader
from bot.adapters.chain.fees import MAX_FEE_CAP_WEI
from bot.adapters.chain.multicall import MULTICALL3_ADDRESS
from bot.adapters.chain.rpc import make_web3
from bot.adapters.chain.tx_sender import SenderConfig, TxSender
from bot.adapters.chain.tx_store import TxStore
from bot.domain import Rounding, decimal_to_wad


def build_lending(*, rpc_url: str, chain_id: int, pool_addresses_provider: str, account: LocalAccount,
                  store_path: str | Path, hf_floor: Decimal | str, confirmations: int = 2,
                  rounding: Rounding = Rounding.V3_0, urgency: Decimal = Decimal(1),
                  max_fee_cap_wei: int = MAX_FEE_CAP_WEI, multicall3: str = MULTICALL3_ADDRESS,
                  wait_timeout: float = 300.0, clock: Any = None) -> AaveLending:
    w3 = make_web3(rpc_url)
    Path(store_path).parent.mkdir(parents=True, exist_ok=True)
    sender = TxSender(
        w3, account, TxStore(store_path),
        SenderConfig(chain_id=chain_id, confirmations=max(1, confirmations), urgency=urgency,
                     max_fee_cap_wei=max_fee_cap_wei, wait_timeout=wait_timeout),
        clock=clock,
    )
    reader = AaveReader(w3, pool_addresses_provider=pool_addresses_provider, multicall3=multicall3,
                        rounding=rounding)
    return AaveLending(reader, sender, LendingConfig(hf_floor_wad=decimal_to_wad(hf_floor), wait_timeout=wait_timeout))


def lending_from_settings(settings: Any, account: LocalAccount, *, clock: Any = None) -> AaveLending:
    """From ``bot.settings.Settings``: chain.*, limits.hf_floor, journal.path (the tx tables live there)."""
    return build_lending(
        rpc_url=str(settings.chain.rpc_url), chain_id=int(settings.chain.chain_id),
        pool_addresses_provider=str(settings.chain.pool_addresses_provider), account=account,
        store_path=settings.journal.path, hf_floor=settings.limits.hf_floor,
        confirmations=int(settings.chain.confirmations), rounding=Rounding(settings.chain.rounding), clock=clock,
    )

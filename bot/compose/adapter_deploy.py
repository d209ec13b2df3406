"""The deleverage adapter on a real chain: deploy it for the wallet (`delever adapter deploy`) and
refuse, at start-up, a configured ``[dex] adapter_address`` that is not the project's build.

The deployment is one transaction through the daemon's transaction sender, in the daemon's
journal: its key is derived from what is deployed (creation code, Pool, router, owner), so a
second run with the same config reconciles that transaction instead of deploying again. The
address is recorded in the journal (``note``) and printed; the config is never edited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from web3 import Web3

from bot.adapters.chain import dex_adapter
from bot.adapters.chain.adapter_code import check_adapter_code
from bot.adapters.chain.rpc import retrying_read
from bot.adapters.chain.tx_sender import CREATE, TxRequest
from bot.clock import SystemClock
from bot.compose import configs
from bot.compose.adapters import aave_reader, chain_facts, connect_chain, signing_lending
from bot.engine import guards
from bot.engine.journal import Journal
from bot.errors import UserInputError
from bot.ports import Outcome
from bot.redact import Redactor
from bot.settings import Settings

JOURNAL_NOTE = "dex.adapter_deployment"


@dataclass(frozen=True, slots=True)
class AdapterDeployment:
    """What `adapter deploy` did (or, in a dry-run, would do)."""

    mode: str
    owner: str
    pool: str
    router: str
    key: str  # the transaction's idempotency key
    address: str | None = None  # None in a dry-run
    tx_hash: str | None = None
    block: int | None = None
    sent: bool = False  # False: a dry-run, or an earlier run's transaction reconciled

    def config_line(self) -> str:
        return f'[dex] adapter_address = "{self.address}"'


def creation_data(pool: str, router: str) -> bytes:
    """Creation code with the constructor's arguments (Aave Pool, Uniswap v3 SwapRouter)."""
    code = bytes.fromhex(dex_adapter.creation_code().removeprefix("0x"))
    return code + abi_encode(["address", "address"], [pool, router])


def deployment_key(*, chain_id: int, owner: str, data: bytes) -> str:
    """One key per (chain, owner, exact deployment): a rerun finds the same transaction."""
    digest = hashlib.sha256(f"{chain_id}:{owner.lower()}:".encode() + data).hexdigest()[:16]
    return f"adapter-deploy-{digest}"


def _require_router(settings: Settings) -> str:
    router = settings.dex.swap_router
    if router is None:
        raise UserInputError(
            "adapter deploy needs [dex] swap_router, the Uniswap v3 SwapRouter "
            "(Ethereum mainnet: 0xE592427A0AEce92De3Edee1F18E0157C05861564)"
        )
    return str(router)


def deploy_adapter(settings: Settings, *, live_flag: bool) -> AdapterDeployment:
    """Deploy (testnet, live) or describe (dry-run) the adapter for ``settings.wallet``."""
    chain = settings.chain
    guards.check_mode(mode=settings.mode, live_flag=live_flag, config_chain_id=chain.chain_id, config_only=True)
    router = _require_router(settings)
    if settings.wallet.address is None:
        raise UserInputError("adapter deploy needs wallet.address (the adapter's owner)")
    owner = str(settings.wallet.address)
    signer = settings.signer() if settings.signs else None  # no key in testnet/live: ConfigError, exit 2
    link = connect_chain(chain)
    reader = aave_reader(link, chain)
    pool = Web3.to_checksum_address(reader.market().pool)
    data = creation_data(pool, router)
    key = deployment_key(chain_id=link.chain_id, owner=owner, data=data)
    if signer is None:
        return AdapterDeployment(settings.mode, owner, pool, router, key)
    guards.check_mode(
        mode=settings.mode,
        live_flag=live_flag,
        config_chain_id=chain.chain_id,
        rpc_chain_id=link.chain_id,
        config_provider=chain.pool_addresses_provider,
        rpc_provider=_addresses_provider(link, pool),
    )
    from bot.compose.daemon import secret_values

    journal = Journal(configs.journal_path(settings), clock=SystemClock(), redact=Redactor(secret_values(settings)))
    try:
        genesis, _nonce = chain_facts(link, owner)
        journal.bind(mode=settings.mode, chain_id=chain.chain_id, genesis_hash=genesis)
        sender = signing_lending(link, settings, signer).sender
        known = sender.lookup(key) is not None
        result = sender.send(key, TxRequest(to=CREATE, data=data, description="deploy the deleverage adapter"))
        if result.outcome is not Outcome.OK or result.tx_hash is None:
            raise RuntimeError(f"adapter deployment {key}: {result.outcome.value}: {result.error or 'not confirmed'}")
        receipt = retrying_read(lambda: link.w3.eth.get_transaction_receipt(result.tx_hash), what="receipt")
        address = Web3.to_checksum_address(receipt["contractAddress"])
        code = bytes(retrying_read(lambda: link.w3.eth.get_code(address), what="adapter code"))
        check_adapter_code(code, address=address, owner=owner, pool=pool, router=router)
        journal.note(
            JOURNAL_NOTE,
            {"address": address, "tx_hash": result.tx_hash, "block": result.block, "owner": owner, "pool": pool,
             "router": router, "key": key},
        )  # fmt: skip
    finally:
        journal.close()
    return AdapterDeployment(settings.mode, owner, pool, router, key, address, result.tx_hash, result.block, not known)


_ADDRESSES_PROVIDER = [
    {"name": "ADDRESSES_PROVIDER", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "address"}]},
]  # fmt: skip


def _addresses_provider(link: Any, pool: str) -> str:
    contract = link.w3.eth.contract(address=pool, abi=_ADDRESSES_PROVIDER)
    return str(retrying_read(contract.functions.ADDRESSES_PROVIDER().call, what="ADDRESSES_PROVIDER"))


def check_configured_adapter(settings: Settings) -> None:
    """Start-up refusal: ``[dex] adapter_address`` must hold the project's adapter build, owned by
    the wallet, for the market's Pool and ``[dex] swap_router``. One line, exit 2. A dry-run or a
    plan that may route to the DEX checks it too: it must not show a route the live start refuses."""
    address = settings.dex.adapter_address
    if address is None or (not settings.signs and settings.dex.route == "cex"):
        return
    router = _require_router(settings)
    link = connect_chain(settings.chain)
    pool = Web3.to_checksum_address(aave_reader(link, settings.chain).market().pool)
    code = bytes(retrying_read(lambda: link.w3.eth.get_code(Web3.to_checksum_address(address)), what="adapter code"))
    owner = str(settings.wallet.address)
    check_adapter_code(code, address=str(address), owner=owner, pool=pool, router=router)

"""Real ``Settings`` for the composition root's tests, with canary secrets that must never leak,
and fake adapters at the ports in place of the web3/ccxt ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account import Account

from bot.compose.adapters import RealAdapters
from bot.settings import Settings
from tests.support.fakes import FakeLending, FakeVenue, FakeWorld

CANARY_KEY = "0x" + "c4" * 32
CANARY_PASSWORD = "canary-keystore-pw-7731"
CANARY_API_KEY = "canary-api-key-1"
CANARY_API_SECRET = "canary-api-secret-55aa"
CANARY_TG_TOKEN = "123456:canary-telegram-token"
CANARIES = (CANARY_KEY, CANARY_PASSWORD, CANARY_API_SECRET, CANARY_TG_TOKEN, "c4c4c4c4c4c4c4c4")
PAP = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"
WALLET = Account.from_key(CANARY_KEY).address


def settings(
    tmp_path: Path,
    *,
    mode: str = "testnet",
    chain_id: int = 31337,
    wallet: dict[str, Any] | None = None,
    **sections: Any,
) -> Settings:
    """A daemon config on ``tmp_path`` signing with the canary key (``wallet`` replaces it);
    ``sections`` replace whole sections (e.g. ``engine={...}``). Limits wide enough that one
    batch restores the fake world's position."""
    values: dict[str, Any] = {
        "mode": mode,
        "chain": {
            "rpc_url": "http://127.0.0.1:1",
            "chain_id": chain_id,
            "pool_addresses_provider": PAP,
            "poll_interval_s": 12,
        },
        "wallet": wallet or {"key_source": "env", "private_key": CANARY_KEY},
        "exchange": {
            "symbol": "ETH/USDT",
            "deposit_network": "ETH",
            "withdrawal_allowlist": [WALLET],
            "api_key": CANARY_API_KEY,
            "api_secret": CANARY_API_SECRET,
        },
        "policy": {"name": "threshold", "params": {"trigger_hf": "1.4", "target_hf": "1.5"}},
        "limits": {
            "max_slippage_bps": 100,
            "hf_floor": "1.10",
            "price_shock_bps": 500,
            "cooldown_s": 0,
            "max_batch_usd": 1_000_000,
            "min_batch_usd": 100,
        },
        "journal": {"path": tmp_path / "journal.sqlite"},
        "engine": {"poll_interval_s": 5.0, "transfer_timeout_s": 3600.0},
    }
    values.update(sections)
    return Settings(**values)


def fake_adapters(world: FakeWorld, *, chain_id: int = 31337, provider: str = PAP, head: Any = None) -> Any:
    """An ``adapters`` factory for ``build_runtime`` over the fake world; ``.calls`` records each use."""
    calls: list[Settings] = []

    def make(settings: Settings) -> RealAdapters:
        calls.append(settings)
        world.wallet_address = str(settings.wallet.address)
        return RealAdapters(FakeLending(world), FakeVenue(world), chain_id, provider, head=head)

    make.calls = calls  # type: ignore[attr-defined]
    return make

"""What the executor needs to know about the market, the wallet and its limits (built by
``bot.compose.configs`` from the settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    """Every value the settings schema owns comes from ``bot.compose.configs`` (no defaults
    here); the few defaults below are engine constants the schema does not expose."""

    market: str  # unified exchange symbol, e.g. "ETH/USDT"
    base_coin: str  # exchange code of the collateral, e.g. "ETH"
    quote_coin: str  # exchange code of the debt token, e.g. "USDT"
    network: str  # deposit and withdrawal network on the exchange, e.g. "ETH"
    wallet: str
    withdrawal_allowlist: tuple[str, ...]
    max_slippage_bps: int
    hf_floor_wad: int
    emergency_hf_floor_wad: int  # an emergency batch's floor (BatchSpec.emergency)
    shock_bps: int
    max_oracle_divergence_bps: int
    # Unwrap WETH before the deposit? None (auto): when the collateral is WETH and the exchange
    # coin is ETH, as on Binance, where an ETH deposit address credits native ETH only.
    unwrap_native: bool | None
    repay_idle: bool  # repay the debt token idle in the wallet first
    poll_interval_s: float
    transfer_timeout_s: float
    reconcile_grace_s: float  # wait before looking up a lost write (let it land)
    max_retries: int  # Retryable / RateLimited per step
    backoff_s: float
    # How long an exchange outage may keep an unknown write unreconciled before a review.
    reconcile_timeout_s: float
    sweep_idle_base: bool = True  # sell collateral already idle on the exchange too
    sweep_idle_quote: bool = True  # bring back quote already idle on the exchange too
    max_resubmits: int = 1  # re-sends after an UNKNOWN whose lookup found nothing
    repay_all_margin_bps: int = 1  # repay-all (MAX) only when the wallet covers debt + this margin

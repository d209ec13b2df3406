"""What the executor needs to know about the market, the wallet and its limits (built by
``bot.compose.configs`` from the settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    market: str  # unified exchange symbol, e.g. "ETH/USDT"
    base_coin: str  # exchange code of the collateral, e.g. "ETH"
    quote_coin: str  # exchange code of the debt token, e.g. "USDT"
    network: str  # deposit and withdrawal network on the exchange, e.g. "ETH"
    wallet: str
    withdrawal_allowlist: tuple[str, ...]
    max_slippage_bps: int
    hf_floor_wad: int
    shock_bps: int
    max_oracle_divergence_bps: int = 300
    # Unwrap WETH before the deposit? None (auto): when the collateral is WETH and the exchange
    # coin is ETH, as on Binance, where an ETH deposit address credits native ETH only.
    unwrap_native: bool | None = None
    repay_idle: bool = True  # repay the debt token idle in the wallet first
    sweep_idle_base: bool = True  # sell collateral already idle on the exchange too
    sweep_idle_quote: bool = True  # bring back quote already idle on the exchange too
    poll_interval_s: float = 5.0
    transfer_timeout_s: float = 3 * 3600.0
    reconcile_grace_s: float = 2.0  # wait before looking up a lost write (let it land)
    max_resubmits: int = 1  # re-sends after an UNKNOWN whose lookup found nothing
    max_retries: int = 8  # Retryable / RateLimited per step
    backoff_s: float = 1.0
    repay_all_margin_bps: int = 1  # repay-all (MAX) only when the wallet covers debt + this margin

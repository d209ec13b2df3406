"""The on-chain leg: Aave v3 reads (one Multicall3 round trip), writes through a crash-safe
transaction sender (one idempotency key → one nonce), and the ``bot.ports.Lending`` adapter.

Built from the settings by ``bot.compose.adapters`` (the one place that builds real adapters).
"""

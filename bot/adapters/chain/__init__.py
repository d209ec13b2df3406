"""The on-chain leg: Aave v3 reads (one Multicall3 round trip), writes through a crash-safe
transaction sender (one idempotency key → one nonce), and the ``bot.ports.Lending`` adapter.

Build it with ``bot.adapters.chain.factory.build_lending`` (or ``lending_from_settings``).
"""

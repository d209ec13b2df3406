"""Uniswap v3 on the devnet: deployment, depth profile, arbitrage to the oracle price, and the
build of the project's deleverage adapter contract."""

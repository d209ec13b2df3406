"""The local devnet: anvil + a real Aave v3 market (npm @aave/core-v3 artifacts) + Multicall3.

- ``anvil``: start/stop the pinned anvil, cheat codes (snapshot, mine, time, storage, balance).
- ``aave_market.deploy_market``: the whole market from compiled artifacts → ``Market`` addresses.
- ``scenario``: liquidity, the demo leveraged position, price moves, time travel.
- ``state``: the devnet state file that `devnet up` writes and the config reads.
"""

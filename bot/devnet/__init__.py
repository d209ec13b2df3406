"""The local devnet: anvil + a real Aave v3 market (npm @aave/core-v3 artifacts) + Multicall3.

- ``anvil``: start/stop the pinned anvil, cheat codes (snapshot, mine, time, storage, balance).
- ``artifacts``: the compiled Aave contracts, with library linking.
- ``aave_market.deploy_market``: the whole market from compiled artifacts → ``Market`` addresses.
- ``scenario``: liquidity, the demo leveraged position, price moves, time travel (web3).
- ``local``: all of it in one call (``deploy_demo``, ``local_devnet`` for tests).
- ``quick``: the CLI's few reads and writes over plain JSON-RPC.
- ``state`` / ``launcher``: the state file and `delever devnet up/down/status`.
"""

"""Backtests: the daemon's policies and planner over historical candles, through simulated
lending and exchange adapters, with Aave's liquidation rules and a depth-aware market model.
See ``docs/backtest.md``."""

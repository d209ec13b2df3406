"""The composition root: the one place that turns validated settings into components.

- ``configs``: settings sections → the engine's frozen configs, journal and kill-switch paths
  (pure, no I/O). Defaults live only in the settings schema (``bot.settings.sections``).
- ``adapters``: the only module that builds real adapters (web3 Aave lending, ccxt venue),
  every path through one chain-id check.
- ``daemon``: the daemon of ``delever run`` (mode guard, journal, dry-run wrapping, metrics,
  notifications, executor, controller) and ``run --clear-halt``.
- ``live``: the read-only reads of ``delever plan`` and ``delever status``.

``bot.engine`` never imports this package nor an adapter: the arrows point from here outwards.
"""

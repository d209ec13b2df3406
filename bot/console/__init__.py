"""The operator's console: a local web page and JSON API over the daemon's journal, chain and exchange.

- ``source``: what the console reads and the two controls it offers (``ConsoleSource``, built
  from the settings by ``bot.compose.console``: the same reads as ``status``, ``plan`` and
  ``history``, never copies of them);
- ``journal_view``: the journal read-only, as the API's JSON and CSV (batches, events, limits used);
- ``app``: the Starlette app (page, JSON API, server-sent events, token + CSRF checks on the controls);
- ``server``: uvicorn on a bound socket, in the foreground (``delever console``) or a thread
  (``delever run --console``).
"""

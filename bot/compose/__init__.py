"""The composition root: the one place that turns validated settings into typed components.

``configs`` maps settings sections to the engine's frozen configs (pure, no I/O). Defaults
live only in the settings schema (``bot.settings.sections``); the engine's dataclasses take
every schema-owned value from here.
"""

"""The engine: the planner (pure), and the executor, journal and controller built on it."""

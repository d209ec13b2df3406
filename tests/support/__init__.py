"""Helpers shared by tests (doubles, devnet fixtures, comparisons); no test module is imported."""

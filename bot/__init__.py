"""delever: automated deleveraging execution for Aave v3."""

__version__ = "0.1.0"

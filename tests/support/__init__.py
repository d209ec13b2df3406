"""Shared test doubles, harnesses and fixtures: the only modules tests import from each other
(test modules and conftests import from here, never from one another)."""

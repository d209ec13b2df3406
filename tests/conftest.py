"""Fixtures shared by every test directory, loaded from ``tests/support`` (tests import helpers
from there too, never from another test module or a conftest)."""

pytest_plugins = [
    "tests.support.devnet",
    "tests.support.e2e",
    "tests.support.faults_helpers",
    "tests.support.isolation",
]

"""Fixtures shared by every test directory, loaded from ``tests/support`` (tests import helpers
from there too, never from another test module or a conftest)."""

pytest_plugins = [
    "tests.support.devnet",
    "tests.support.e2e",
    "tests.support.faults_helpers",
    "tests.support.isolation",
]

# Property tests judge values, never speed: a loaded CI machine must not fail an example on
# hypothesis's 200 ms deadline (speed is measured in tests/benchmarks).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("delever", deadline=None)
_hypothesis_settings.load_profile("delever")

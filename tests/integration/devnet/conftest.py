"""A deployed devnet market shared by a test module (``aave_devnet``); each test runs inside an
evm snapshot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.devnet import Devnet, reverted


@pytest.fixture()
def chain(aave_devnet: Devnet) -> Iterator[Devnet]:
    """The shared devnet, reverted to its deployed state after the test."""
    with reverted(aave_devnet.w3):
        yield aave_devnet

"""Fixtures for the chain adapter: a bare anvil (tx sender) and a deployed Aave market.

Both are module-scoped (``tests.support.devnet``); each test runs inside an ``evm_snapshot`` that
is reverted afterwards, with automine back on (a revert does not restore mining settings). Each
test gets its own tx store, since a revert also rewinds nonces.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.devnet import Devnet, reverted


@pytest.fixture()
def bare(bare_devnet: Devnet) -> Iterator[Devnet]:
    with reverted(bare_devnet.w3):
        yield bare_devnet


@pytest.fixture()
def aave(aave_devnet: Devnet) -> Iterator[Devnet]:
    with reverted(aave_devnet.w3):
        yield aave_devnet

"""Fixtures: a fresh exchange emulator on 127.0.0.1 and the unmodified ccxt binance client."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import ccxt
import pytest

from bot.clock import ManualClock
from bot.devnet.exchange import EmulatorConfig, EmulatorHandle, start_emulator
from tests.support.emulator import make_client

START_BALANCES = {"ETH": Decimal(100), "BTC": Decimal(2), "USDT": Decimal(50_000)}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[EmulatorHandle]:
    handle = start_emulator(EmulatorConfig(balances=dict(START_BALANCES), clock=clock, withdrawal_delay_s=5))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def client(emulator: EmulatorHandle) -> ccxt.binance:
    return make_client(emulator)

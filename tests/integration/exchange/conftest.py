"""Fixtures: a fresh exchange emulator on 127.0.0.1 and the unmodified ccxt binance client."""

from __future__ import annotations

from decimal import Decimal
from typing import Iterator

import ccxt
import pytest

from bot.clock import ManualClock
from bot.devnet.exchange import EmulatorConfig, EmulatorHandle, ccxt_config, start_emulator

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


def make_client(handle: EmulatorHandle, **extra) -> ccxt.binance:
    client = ccxt.binance(ccxt_config(handle.url, handle.api_key, handle.api_secret, **extra))
    client.load_markets()
    return client


@pytest.fixture
def client(emulator: EmulatorHandle) -> ccxt.binance:
    return make_client(emulator)

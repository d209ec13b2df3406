"""Fixtures: a fresh exchange emulator on 127.0.0.1 and the venue adapter pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.adapters.venue import CcxtVenue
from bot.devnet.exchange import EmulatorConfig, EmulatorHandle, start_emulator
from tests.support.emulator import VENUE_START_BALANCES, make_venue


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_emulator(EmulatorConfig(balances=dict(VENUE_START_BALANCES), withdrawal_delay_s=0.5))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def venue(emulator: EmulatorHandle) -> CcxtVenue:
    return make_venue(emulator)


@pytest.fixture
def venue_factory(emulator: EmulatorHandle) -> Callable[..., CcxtVenue]:
    return lambda **kwargs: make_venue(emulator, **kwargs)

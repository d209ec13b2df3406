"""One devnet per test module, started with `delever devnet up` in a temporary state directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.live import LiveDevnet, live_devnet


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDevnet]:
    with live_devnet(tmp_path_factory.mktemp("devnet")) as devnet:
        yield devnet

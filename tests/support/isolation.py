"""Every test gets its own per-user state directory (``XDG_STATE_HOME``): the per-wallet locks
and records there are per user, and tests running in parallel on separate devnets share the
chain id 31337 and the demo wallet. Subprocesses inherit it through the environment."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_wallet_locks(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))

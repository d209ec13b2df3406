"""The state cache's key follows what the deployment depends on; each `up` gets its own genesis time."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from bot.devnet import state_cache


def _checkout(root: Path) -> Path:
    for relative in (*state_cache._INPUTS, "bot/devnet/deploy.py"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(f"content of {relative}\n")
    return root


def test_the_key_changes_with_the_deploy_code_the_pins_and_the_parameters(tmp_path) -> None:
    root = _checkout(tmp_path)
    key = state_cache.cache_key(chain_id=31337, dex_usd_within_1pct=Decimal(3_000_000), root=root)
    assert key.endswith("-31337-dex3000000")
    assert state_cache.cache_key(chain_id=31337, dex_usd_within_1pct=Decimal(0), root=root).endswith("-31337-nodex")
    (root / "bot/devnet/deploy.py").write_text("changed\n")
    after_code = state_cache.cache_key(chain_id=31337, dex_usd_within_1pct=Decimal(3_000_000), root=root)
    (root / "devnet-deps/package-lock.json").write_text("another pin\n")
    after_pins = state_cache.cache_key(chain_id=31337, dex_usd_within_1pct=Decimal(3_000_000), root=root)
    assert len({key, after_code, after_pins}) == 3


def test_a_cache_entry_with_a_wrong_key_or_no_state_file_is_not_used(tmp_path) -> None:
    directory = tmp_path / state_cache.CACHE_RELATIVE_DIR
    directory.mkdir(parents=True)
    (directory / "k1.facts.json").write_text('{"key": "k1"}')
    assert state_cache.lookup("k1", tmp_path) is None  # no state file
    (directory / "k1.state.json").write_text("{}")
    (directory / "k2.facts.json").write_text('{"key": "k1"}')
    (directory / "k2.state.json").write_text("{}")
    assert state_cache.lookup("k2", tmp_path) is None  # facts of another key
    assert state_cache.lookup("k1", tmp_path) is not None


def test_every_up_gets_a_genesis_timestamp_no_earlier_up_used(tmp_path) -> None:
    stamps = [state_cache.next_genesis_timestamp(tmp_path) for _ in range(5)]
    assert stamps == list(range(stamps[0], stamps[0] + 5))
    assert abs(stamps[0] - time.time()) < 5

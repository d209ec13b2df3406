"""The devnet state file: atomic, owner-only, round-trips, never shows keys in repr."""

from __future__ import annotations

import json
import stat

import pytest

from bot.devnet import state
from bot.devnet.state import DevnetState
from bot.errors import ConfigError
from bot.redact import MASK, clear_secrets, scrub

KEY = "0x" + "ab" * 32


def _state(**changes) -> DevnetState:
    base = dict(
        rpc_url="http://127.0.0.1:8545", chain_id=31337, pool_addresses_provider="0x" + "01" * 20,
        pool="0x" + "02" * 20, oracle="0x" + "03" * 20, data_provider="0x" + "04" * 20,
        multicall3="0xcA11bde05977b3631167028862bE2a173976CA11", wallet="0x" + "05" * 20,
        wallet_private_key=KEY, tokens={"WETH": "0x" + "06" * 20}, price_feeds={"WETH": "0x" + "07" * 20},
        pids={"anvil": 4242}, started_at="2026-01-01T00:00:00+00:00", extra={"deploy_block": 55},
    )  # fmt: skip
    base.update(changes)
    return DevnetState(**base)


def test_state_path_follows_delever_state_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DELEVER_STATE_DIR", str(tmp_path / "x"))
    assert state.state_path() == tmp_path / "x" / "devnet.json"
    monkeypatch.delenv("DELEVER_STATE_DIR")
    assert str(state.state_path()) == ".delever/devnet.json"


def test_state_round_trips_with_every_contract_key(tmp_path) -> None:
    path = state.write_state(_state(), tmp_path / "devnet.json")
    raw = json.loads(path.read_text())
    for key in ("rpc_url", "chain_id", "pool_addresses_provider", "pool", "oracle", "data_provider", "multicall3",
                "wallet", "wallet_private_key", "tokens", "price_feeds", "exchange_url", "api_key", "api_secret",
                "exchange_hot_wallet", "pids", "started_at"):  # fmt: skip
        assert key in raw
    assert raw["exchange_url"] is None and raw["deploy_block"] == 55
    assert state.read_state(path) == _state()


def test_state_file_is_readable_by_its_owner_only(tmp_path) -> None:
    path = state.write_state(_state(), tmp_path / "devnet.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["devnet.json"]  # no temp file left


def test_state_repr_and_public_view_hide_secrets() -> None:
    s = _state(api_key="k" * 16, api_secret="s" * 32)
    assert KEY not in repr(s) and "s" * 32 not in repr(s)
    view = s.public_view()
    assert view["wallet_private_key"] == MASK and view["api_secret"] == MASK
    assert view["exchange_url"] is None and view["wallet"] == "0x" + "05" * 20


def test_state_read_missing_file_is_none_and_incomplete_file_raises(tmp_path) -> None:
    assert state.read_state(tmp_path / "nope.json") is None
    (tmp_path / "bad.json").write_text(json.dumps({"rpc_url": "x"}))
    with pytest.raises(state.DamagedStateFile, match="lacks"):
        state.read_state(tmp_path / "bad.json")


def test_state_data_is_the_one_reader_and_registers_its_secrets(tmp_path) -> None:
    path = state.write_state(_state(api_secret="s" * 32), tmp_path / "devnet.json")
    try:
        data = state.read_state_data(path)
        assert data is not None and data["chain_id"] == 31337 and data["deploy_block"] == 55
        assert scrub(f"key {KEY} secret {'s' * 32}") == f"key {MASK} secret {MASK}"
    finally:
        clear_secrets()
    assert state.read_state_data(tmp_path / "nope.json") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [('{"rpc_url": \n oops', "is not valid JSON (line 2)"), ("[1, 2]", "does not hold a JSON object")],
)
def test_state_data_that_is_not_a_json_object_is_one_line(tmp_path, text, message) -> None:
    path = tmp_path / "devnet.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        state.read_state_data(path)
    assert str(info.value) == f"devnet state file {path} {message}: `delever devnet down` stops what it started"


def test_state_remove_is_idempotent(tmp_path) -> None:
    path = state.write_state(_state(), tmp_path / "devnet.json")
    state.remove_state(path)
    state.remove_state(path)
    assert not path.exists()

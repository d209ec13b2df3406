"""`delever status` payload (pure) and its settings: a config, or else the devnet state file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli.status_cmd import status_payload
from bot.domain import Position, Reserve, Rounding, Snapshot
from bot.errors import ConfigError
from bot.settings import load_settings_or_devnet

E8 = 10**8
WALLET = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def snapshot(debt: int = 100_000 * 10**6) -> Snapshot:
    position = Position(
        (
            Reserve("WETH", 18, 2000 * E8, 8050, 8300, 10500, collateral=100 * 10**18),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=debt),
        ),
        Rounding.V3_0,
    )
    return Snapshot(
        position,
        block=12,
        timestamp=1_700_000_000,
        chain_id=31337,
        wallet=WALLET,
        wallet_balances={"ETH": 10**18, "USDT": 0, "WETH": 5 * 10**17},
    )


def test_status_payload_keys_values_and_liquidation_price() -> None:
    p = status_payload(snapshot())
    assert {
        "block",
        "chain_id",
        "wallet",
        "health_factor",
        "total_collateral_usd",
        "total_debt_usd",
        "collateral",
        "debt",
    } <= set(p)
    assert p["health_factor"] == "1.66"  # 200,000 · 0.83 / 100,000
    assert (p["total_collateral_usd"], p["total_debt_usd"]) == ("200000", "100000")
    (weth,) = p["collateral"]
    assert weth == {
        "symbol": "WETH",
        "amount": "100.000000000000000000",
        "price_usd": "2000",
        "value_usd": "200000",
        "liquidation_threshold": "0.83",
        "liquidation_price_usd": "1204.81927711",
        "distance_to_liquidation_pct": "39.76",
        "collateral_enabled": True,
    }
    assert p["debt"] == [{"symbol": "USDT", "amount": "100000.000000", "price_usd": "1", "value_usd": "100000"}]
    assert p["distance_to_liquidation_pct"] == "39.76"
    assert p["wallet_balances"]["WETH"] == "0.500000000000000000"
    json.dumps(p)  # every value is JSON-native


def test_status_payload_without_debt_health_factor_null() -> None:
    p = status_payload(snapshot(debt=0))
    assert p["health_factor"] is None and p["debt"] == []
    assert p["collateral"][0]["liquidation_price_usd"] is None


def write_state(tmp_path: Path, **overrides: object) -> Path:
    data = {
        "rpc_url": "http://127.0.0.1:8545",
        "chain_id": 31337,
        "pool_addresses_provider": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        "wallet": WALLET.lower(),
        "wallet_private_key": "0x" + "ab" * 32,
        **overrides,
    }
    path = tmp_path / "devnet.json"
    path.write_text(json.dumps(data))
    return path


def test_status_settings_from_devnet_state_are_read_only(tmp_path: Path) -> None:
    write_state(tmp_path)
    s = load_settings_or_devnet(None, env={"DELEVER_STATE_DIR": str(tmp_path)})
    assert (s.mode, s.chain.chain_id, s.wallet.address, s.wallet.key_source) == ("dry-run", 31337, WALLET, "none")
    assert s.chain.rounding == "v3.0"  # the devnet's Aave release
    assert s.chain.pool_addresses_provider == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert s.wallet.private_key is None
    assert "ab" * 32 not in repr(s) and "8545" not in repr(s)


def test_status_settings_state_dir_env_and_missing_file(tmp_path: Path) -> None:
    env = {"DELEVER_STATE_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="no state file"):
        load_settings_or_devnet(None, env=env)
    write_state(tmp_path, chain_id=5)
    assert load_settings_or_devnet(None, env=env).chain.chain_id == 5


def test_status_settings_garbled_state_file(tmp_path: Path) -> None:
    path = write_state(tmp_path)
    path.write_text('{"rpc_url": "x"}')
    with pytest.raises(ConfigError, match="config: chain"):
        load_settings_or_devnet(None, env={"DELEVER_STATE_DIR": str(tmp_path)})


def test_status_settings_from_the_config_when_one_is_given(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        'mode = "dry-run"\n[chain]\nrpc_url = "http://127.0.0.1:9"\nchain_id = 11155111\nconfirmations = 3\n'
        'pool_addresses_provider = "0x012bAC54348C0E635dCAc9D5FB99f06F24136C9A"\n'
        f'[wallet]\naddress = "{WALLET}"\n'
    )
    write_state(tmp_path)  # ignored: the config wins
    for given, env in ((str(config), {}), (None, {"DELEVER_CONFIG": str(config)})):
        s = load_settings_or_devnet(given, env={"DELEVER_STATE_DIR": str(tmp_path), **env})
        assert (s.chain.chain_id, s.chain.confirmations, s.chain.rounding, s.wallet.address) == (
            11155111,
            3,
            "v3.5",
            WALLET,
        )


def test_status_payload_lists_supplied_but_disabled_collateral_without_liq_price() -> None:
    snap = snapshot()
    position = snap.position.with_reserve("USDT", collateral=5 * 10**6, collateral_enabled=False)
    p = status_payload(Snapshot(position, block=1, timestamp=1, chain_id=1, wallet=WALLET))
    usdt = next(c for c in p["collateral"] if c["symbol"] == "USDT")
    assert usdt["collateral_enabled"] is False and usdt["liquidation_price_usd"] is None
    assert p["total_collateral_usd"] == "200000"

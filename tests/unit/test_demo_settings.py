"""The demo reads config/devnet.toml as its daemon does (the config plus the demo's overrides)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bot.demo.daemon import daemon_env
from bot.demo.runner import DAEMON_OVERRIDES, _policy


def test_demo_policy_is_the_daemons_config_with_the_demo_overrides(tmp_path: Path) -> None:
    policy = _policy(tmp_path)
    assert (policy["trigger_hf"], policy["target_hf"], policy["hf_floor"]) == (
        Decimal("1.3"),
        Decimal("1.6"),
        Decimal("1.05"),
    )
    assert (policy["price_shock_bps"], policy["max_slippage_bps"]) == (Decimal(500), Decimal(150))


def test_daemon_env_drops_the_callers_settings_and_points_at_the_demo_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DELEVER_LIMITS__HF_FLOOR", "1.9")
    env = daemon_env(tmp_path, DAEMON_OVERRIDES)
    assert "DELEVER_LIMITS__HF_FLOOR" not in env and env["DELEVER_STATE_DIR"] == str(tmp_path)
    assert env["DELEVER_LIMITS__PRICE_SHOCK_BPS"] == "500"

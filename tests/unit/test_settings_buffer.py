"""``limits.buffer_usd``: the stablecoins the bot may spend first and refill (0 by default)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.compose.configs import plan_limits
from bot.errors import ConfigError
from bot.redact import clear_secrets
from bot.settings import load_settings
from tests.support.settings_support import DRY_RUN_TOML, write


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    yield
    clear_secrets()


def test_buffer_defaults_to_none_and_reaches_the_planner(tmp_path):
    assert plan_limits(load_settings(write(tmp_path / "a.toml", DRY_RUN_TOML), env={}).limits).buffer_usd == 0
    s = load_settings(write(tmp_path / "b.toml", DRY_RUN_TOML), env={"DELEVER_LIMITS__BUFFER_USD": "25000"})
    assert plan_limits(s.limits).buffer_usd == Decimal("25000")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DELEVER_LIMITS__BUFFER_USD": "-1"}, "limits.buffer_usd"),
        ({"DELEVER_LIMITS__BUFFER_USD": "100", "DELEVER_ENGINE__REPAY_IDLE": "false"}, "engine.repay_idle = true"),
    ],
)
def test_a_negative_buffer_or_one_that_cannot_repay_first_is_refused(tmp_path, env, message):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path / "c.toml", DRY_RUN_TOML), env=env)
    assert message in str(info.value) and "\n" not in str(info.value)

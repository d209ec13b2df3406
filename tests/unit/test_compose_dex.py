"""The DEX route from the settings: refused without its adapter, quotes only where nothing
signs, the CEX path in a dry-run, the devnet's addresses from its state file."""

from __future__ import annotations

import pytest

from bot.compose.dex import check_dex_settings, open_dex, route_setting
from bot.errors import ConfigError, GuardRefused
from bot.settings import load_settings
from bot.settings.sources import fill_from_devnet
from tests.support.settings_support import DRY_RUN_TOML, devnet_state, write

ADAPTER = "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"
QUOTER = "0x61fFE014bA17989E743c5F6cB21bF9697530B21e"


def _settings(tmp_path, dex: str = "", toml: str = DRY_RUN_TOML):
    return load_settings(write(tmp_path / "c.toml", toml + ("\n[dex]\n" + dex if dex else "")), env={})


@pytest.mark.parametrize("route", ["dex", "auto"])
def test_a_dex_route_without_its_adapter_is_a_one_line_config_error(tmp_path, route):
    with pytest.raises(ConfigError, match=rf"dex.route = '{route}' needs dex.adapter_address") as caught:
        check_dex_settings(_settings(tmp_path, f'route = "{route}"'))
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="needs dex.quoter_address"):
        check_dex_settings(_settings(tmp_path, f'route = "{route}"\nadapter_address = "{ADAPTER}"'))


def test_the_cex_route_needs_no_adapter_and_opens_no_dex(tmp_path):
    settings = _settings(tmp_path)
    check_dex_settings(settings)
    assert open_dex(settings, None, None, lending=None) is None  # type: ignore[arg-type]
    assert route_setting(settings, None) == "cex"


def test_without_a_signer_the_dex_quotes_but_refuses_to_write(tmp_path):
    settings = _settings(tmp_path, f'route = "auto"\nadapter_address = "{ADAPTER}"\nquoter_address = "{QUOTER}"')
    dex = open_dex(settings, None, None, lending=None)  # type: ignore[arg-type]
    assert dex is not None and dex.quoter == QUOTER and dex.fee_tiers == (500, 3000)
    with pytest.raises(GuardRefused, match="only quotes"):
        dex.atomic_deleverage(
            key="k", collateral="WETH", debt="USDT", repay_units=1, max_collateral_in_units=1, pool_fee=500
        )
    assert dex.lookup("k") is None
    assert route_setting(settings, dex) == "auto"  # a dry-run simulates the DEX writes (DryRunDex)


def test_the_devnet_state_fills_the_quoter_the_router_and_the_adapter():
    router = "0x" + "22" * 20
    state = devnet_state(dex={"quoter": QUOTER.lower(), "adapter": ADAPTER.lower(), "router": router})
    filled = fill_from_devnet({}, state)
    assert filled["dex"] == {"quoter_address": QUOTER, "adapter_address": ADAPTER, "swap_router": router}
    assert (
        fill_from_devnet({"dex": {"quoter_address": "0x" + "11" * 20}}, state)["dex"]["quoter_address"]
        == "0x" + "11" * 20
    )
    assert "dex" not in fill_from_devnet({}, devnet_state())

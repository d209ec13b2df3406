"""Guards, the gas policy and the mode rules: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.chain.fees import GWEI, MAX_FEE_CAP_WEI, FeeCapReached, Fees, initial_fees
from bot.domain.position import decimal_to_wad
from bot.engine import guards
from bot.engine.gas_policy import GasPolicy, urgency_multiplier
from bot.errors import GuardRefused, UserInputError
from tests.support.fakes import E18, make_world

D = Decimal
PAP = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"


# ---- prices ---------------------------------------------------------------------------------


def test_guards_oracle_price_in_quote_divides_by_the_debt_price():
    world = make_world()
    world.set_reserve("USDT", price=99_900_000)  # USDT at $0.999
    assert guards.oracle_price_in_quote(world.position, collateral="WETH", debt="USDT") == D(2000) / D("0.999")


def test_guards_divergence_within_the_limit_passes():
    assert guards.check_divergence(oracle_price=D(2000), exchange_mid=D(2050), max_bps=300).ok


def test_guards_divergence_beyond_the_limit_halts_trading():
    verdict = guards.check_divergence(oracle_price=D(2000), exchange_mid=D(2070), max_bps=300)
    assert not verdict.ok and "350 bps" in verdict.reason
    with pytest.raises(GuardRefused):
        verdict.raise_if_refused()


def test_guards_empty_book_refuses():
    assert not guards.check_divergence(oracle_price=D(2000), exchange_mid=None, max_bps=300).ok


# ---- health factor --------------------------------------------------------------------------


def test_guards_withdraw_above_the_shocked_floor_is_allowed():
    world = make_world()  # HF 1.3833
    assert guards.check_withdraw(
        world.position, symbol="WETH", amount=10 * E18, hf_floor_wad=decimal_to_wad("1.1"), shock_bps=500
    ).ok


def test_guards_hf_at_the_floor_is_the_kill_switch_repay_only():
    world = make_world()
    from bot.domain.position import health_factor_wad

    verdict = guards.check_withdraw(
        world.position, symbol="WETH", amount=1, hf_floor_wad=health_factor_wad(world.position), shock_bps=0
    )
    assert not verdict.ok and "repay only" in verdict.reason


def test_guards_withdraw_that_breaks_the_floor_under_the_shock_is_refused():
    world = make_world()
    verdict = guards.check_withdraw(
        world.position, symbol="WETH", amount=20 * E18, hf_floor_wad=decimal_to_wad("1.1"), shock_bps=500
    )
    assert not verdict.ok and "500 bps shock" in verdict.reason


def test_guards_hf_improved_ignores_a_price_fall_during_the_batch():
    world = make_world()
    start = world.position
    repaid = start.with_reserve("USDT", debt=start.reserve("USDT").debt - 1000 * 10**6)
    fallen = repaid.with_prices({"WETH": 1900 * 10**8})  # HF lower than at the start, but the batch helped
    assert guards.hf_improved(start=start, end=fallen)
    assert not guards.hf_improved(start=start, end=start.with_prices({"WETH": 1900 * 10**8}))


def test_guards_hf_improved_allows_for_interest_accrued_during_the_batch():
    # A sweep repays 800 USDT in ten minutes while a 120,000 USDT debt at 60 % APR accrues
    # ≈ 137 USDT: HF rose net of that interest even if the observed debt fell by less.
    world = make_world()
    start = world.position
    debt = start.reserve("USDT").debt
    interest = debt * 6_000 * 600 // (10_000 * guards.YEAR_S)
    end = start.with_reserve("WETH", collateral=start.reserve("WETH").collateral - 4 * 10**17)
    end = end.with_reserve("USDT", debt=debt - 800 * 10**6 + interest)
    assert guards.hf_improved(start=start, end=end, elapsed_s=600)
    # A repay that never landed is still caught.
    no_repay = end.with_reserve("USDT", debt=debt + interest)
    assert not guards.hf_improved(start=start, end=no_repay, elapsed_s=600)
    # Interest beyond MAX_INTEREST_APR_BPS is not explained away.
    allowance = -(-debt * guards.MAX_INTEREST_APR_BPS * 600 // (10_000 * guards.YEAR_S))
    unchanged = start.with_reserve("USDT", debt=debt + allowance + 1)
    assert not guards.hf_kept(start=start, end=unchanged, elapsed_s=600)
    assert guards.hf_kept(start=start, end=start.with_reserve("USDT", debt=debt + allowance), elapsed_s=600)


# ---- pacing and caps ------------------------------------------------------------------------


def test_guards_cooldown_counts_down_from_the_last_batch():
    assert guards.cooldown_remaining(last_finished_at=None, now=100, cooldown_s=60) == 0
    assert guards.cooldown_remaining(last_finished_at=100, now=130, cooldown_s=60) == 30
    assert guards.cooldown_remaining(last_finished_at=100, now=200, cooldown_s=60) == 0


def test_guards_utc_day_bounds_are_midnight_to_midnight():
    now = datetime(2026, 2, 5, 13, 30, tzinfo=UTC).timestamp()
    start, end = guards.utc_day_bounds(now)
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 2, 5, tzinfo=UTC)
    assert end - start == 86_400


def test_guards_daily_cap_remaining_never_negative():
    assert guards.daily_cap_remaining(sold_today_usd=D(900), max_daily_usd=D(1000)) == D(100)
    assert guards.daily_cap_remaining(sold_today_usd=D(1200), max_daily_usd=D(1000)) == 0
    assert guards.daily_cap_remaining(sold_today_usd=D(1200), max_daily_usd=None) is None


def test_guards_withdrawal_address_must_be_allowlisted_case_insensitively():
    addr = "0x00000000000000000000000000000000000000A1"
    assert guards.check_withdrawal_address(addr, [addr.lower()]).ok
    assert not guards.check_withdrawal_address(addr, ["0xdead"]).ok


def test_guards_kill_switch_file_and_trip(tmp_path):
    kill = guards.KillSwitch(tmp_path / "STOP")
    assert not kill.tripped
    (tmp_path / "STOP").touch()
    assert kill.tripped and "STOP" in kill.reason
    other = guards.KillSwitch()
    other.trip("manual")
    assert other.tripped and other.reason == "manual"


# ---- modes ----------------------------------------------------------------------------------


def test_mode_testnet_refuses_mainnet_chain_id_one():
    with pytest.raises(UserInputError, match="refuses production chain id 1"):
        guards.check_mode(mode="testnet", live_flag=False, config_chain_id=1)


@pytest.mark.parametrize("chain_id", sorted(guards.MAINNET_CHAIN_IDS))
def test_mode_testnet_refuses_every_production_chain_id(chain_id):
    with pytest.raises(UserInputError):
        guards.check_mode(mode="testnet", live_flag=False, config_chain_id=chain_id)


def test_mode_testnet_refuses_an_rpc_that_serves_mainnet():
    with pytest.raises(UserInputError, match="RPC serves chain id 1"):
        guards.check_mode(mode="testnet", live_flag=False, config_chain_id=31337, rpc_chain_id=1)


def test_mode_testnet_on_the_devnet_passes():
    guards.check_mode(mode="testnet", live_flag=False, config_chain_id=31337, rpc_chain_id=31337)


def test_mode_live_refuses_without_the_flag():
    with pytest.raises(UserInputError, match="--live"):
        guards.check_mode(
            mode="live", live_flag=False, config_chain_id=1, rpc_chain_id=1, config_provider=PAP, rpc_provider=PAP
        )


def test_mode_live_flag_refuses_without_live_in_the_config():
    with pytest.raises(UserInputError, match='mode = "live"'):
        guards.check_mode(mode="testnet", live_flag=True, config_chain_id=31337)


def test_mode_live_refuses_a_different_pool_addresses_provider():
    with pytest.raises(UserInputError, match="PoolAddressesProvider"):
        guards.check_mode(
            mode="live",
            live_flag=True,
            config_chain_id=1,
            rpc_chain_id=1,
            config_provider=PAP,
            rpc_provider="0x" + "1" * 40,
        )


def test_mode_live_refuses_an_unchecked_rpc():
    with pytest.raises(UserInputError):
        guards.check_mode(mode="live", live_flag=True, config_chain_id=1, config_provider=PAP, rpc_provider=PAP)


def test_mode_live_with_config_flag_chain_and_provider_passes():
    guards.check_mode(
        mode="live", live_flag=True, config_chain_id=1, rpc_chain_id=1, config_provider=PAP, rpc_provider=PAP.lower()
    )


def test_mode_dry_run_allows_mainnet_reads():
    guards.check_mode(mode="dry-run", live_flag=False, config_chain_id=1, rpc_chain_id=1)


def test_mode_unknown_is_refused():
    with pytest.raises(UserInputError):
        guards.check_mode(mode="backtest", live_flag=False, config_chain_id=1)


# ---- gas policy -----------------------------------------------------------------------------


def test_gas_urgency_is_base_when_comfortable_and_max_at_the_floor():
    p = GasPolicy()
    assert urgency_multiplier(hf=D("2.0"), hf_floor=D("1.1"), policy=p) == p.base_multiplier
    assert urgency_multiplier(hf=D("1.1"), hf_floor=D("1.1"), policy=p) == p.max_multiplier
    assert urgency_multiplier(hf=D("1.0"), hf_floor=D("1.1"), policy=p) == p.max_multiplier
    assert urgency_multiplier(hf=None, hf_floor=D("1.1"), policy=p) == p.base_multiplier


@given(
    st.decimals(min_value=D("1.0"), max_value=D("3"), places=4),
    st.decimals(min_value=D("1.0"), max_value=D("3"), places=4),
)
def test_gas_urgency_never_falls_as_hf_nears_the_floor(a, b):
    lo, hi = sorted((a, b))
    p = GasPolicy()
    m_lo = urgency_multiplier(hf=lo, hf_floor=D("1.1"), policy=p)
    m_hi = urgency_multiplier(hf=hi, hf_floor=D("1.1"), policy=p)
    assert m_lo >= m_hi
    assert p.base_multiplier <= m_lo <= p.max_multiplier


def test_gas_fees_scale_with_urgency_and_are_capped():
    def offer(base_fee: int, tip: int, hf: D) -> Fees:
        return initial_fees(base_fee=base_fee, suggested_tip=tip, urgency=urgency_multiplier(hf=hf, hf_floor=D("1.1")))

    calm, urgent = offer(20 * GWEI, GWEI, D("2")), offer(20 * GWEI, GWEI, D("1.1"))
    assert calm == Fees(max_fee_per_gas=51_250_000_000, max_priority_fee_per_gas=1_250_000_000)  # 1.25 × (2·20 + 1)
    assert urgent == Fees(max_fee_per_gas=164 * GWEI, max_priority_fee_per_gas=4 * GWEI)  # 4 × (2·20 + 1)
    capped = offer(100 * GWEI, 10 * GWEI, D("1.0"))  # 4 × 210 gwei would be 840 gwei
    assert capped == Fees(max_fee_per_gas=MAX_FEE_CAP_WEI, max_priority_fee_per_gas=40 * GWEI)
    assert MAX_FEE_CAP_WEI == 500 * GWEI
    with pytest.raises(FeeCapReached):  # urgency never lifts the cap: a base fee above it is refused
        offer(MAX_FEE_CAP_WEI, GWEI, D("1.0"))

"""The saga on fakes: a full batch, accounting, faults and reconciliation paths."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain.position import health_factor_wad, to_units
from bot.engine.executor import StopRequested, VerifyFailed
from bot.engine.journal import BatchStatus, ControlState, StepStatus
from bot.engine.steps import STEP_NAMES
from bot.errors import NeedsReview
from tests.support.engine_kit import Rig
from tests.support.fakes import E6, E18, HTTP_5XX, LOST, RATE, REJECT, RETRY, TIMEOUT, make_world


def _snapshot(rig: Rig):
    return rig.lending.snapshot()


def _assert_books_balance(
    rig: Rig,
    *,
    start_collateral: int,
    start_debt: int,
    start_wallet_usdt: int,
    start_exchange_usdt: Decimal = Decimal(0),
) -> None:
    w = rig.world
    withdrawn = start_collateral - w.reserve("WETH").collateral
    sold = sum((o.filled for o in w.orders), Decimal(0))
    # collateral withdrawn = sold + still on the exchange (+ still in the wallet)
    assert Decimal(withdrawn) / E18 == sold + w.exchange["ETH"] + Decimal(w.wallet["WETH"]) / E18
    net = sum((o.gross - o.fee for o in w.orders), Decimal(0))
    fees = sum((x.fee for x in w.withdrawals), Decimal(0))
    repaid = start_debt - w.reserve("USDT").debt
    # debt repaid = proceeds − fees (+ idle funds swept), less what is still in the wallet or on the exchange
    arrived_and_idle = to_units(net + start_exchange_usdt - fees - w.exchange["USDT"], 6) + start_wallet_usdt
    assert repaid == arrived_and_idle - w.wallet["USDT"]


def test_executor_full_batch_completes_with_exact_accounting(tmp_path):
    rig = Rig(tmp_path)
    start_hf = health_factor_wad(rig.world.position)
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE
    w = rig.world
    assert w.reserve("WETH").collateral == 90 * E18
    assert len(w.orders) == 1 and w.orders[0].filled == Decimal(10)
    # 5 ETH at 2000 and 5 at 1999, less 10 bps
    gross = Decimal(5 * 2000 + 5 * 1999)
    assert w.orders[0].gross == gross
    net = gross - w.orders[0].fee
    assert w.reserve("USDT").debt == 120_000 * E6 - to_units(net - Decimal(1), 6)
    assert w.exchange == {"ETH": Decimal(0), "USDT": Decimal(0)}
    assert health_factor_wad(w.position) > start_hf
    steps = {r.step: r.status for r in rig.journal.steps(result.batch_id)}
    assert list(steps) == list(STEP_NAMES)
    assert steps["unwrap"] is StepStatus.SKIPPED and steps["repay_idle"] is StepStatus.SKIPPED
    assert all(s in (StepStatus.OK, StepStatus.SKIPPED) for s in steps.values())
    assert Decimal(result.accounting["sold_filled"]) == 10
    _assert_books_balance(rig, start_collateral=100 * E18, start_debt=120_000 * E6, start_wallet_usdt=0)
    assert rig.journal.integrity_check() == "ok"


def _every_effect_once(rig: Rig) -> None:
    assert all(n == 1 for n in rig.world.tx_effects_per_key().values()), rig.world.tx_effects_per_key()
    assert all(n == 1 for n in rig.world.orders_per_client_id().values())
    assert all(n == 1 for n in rig.world.withdrawals_per_key().values())


def test_executor_idle_funds_are_repaid_and_swept(tmp_path):
    world = make_world(idle_wallet_usdt=1000, idle_exchange_usdt=Decimal(500))
    rig = Rig(tmp_path, clock=world.clock, world=world)
    result = rig.executor(unwrap_native=True).execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE
    steps = {r.step: r.status for r in rig.journal.steps(result.batch_id)}
    assert all(s is StepStatus.OK for s in steps.values()), steps
    assert [t.kind for t in world.txs] == ["repay", "withdraw", "unwrap", "transfer", "repay"]
    _assert_books_balance(
        rig,
        start_collateral=100 * E18,
        start_debt=120_000 * E6,
        start_wallet_usdt=1000 * E6,
        start_exchange_usdt=Decimal(500),
    )
    _every_effect_once(rig)


@pytest.mark.parametrize("method", ["withdraw", "transfer", "repay"])
def test_executor_lost_tx_response_is_reconciled_without_a_second_tx(tmp_path, method):
    rig = Rig(tmp_path)
    rig.world.fault(method, LOST)
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE
    _every_effect_once(rig)
    assert any("outcome unknown" in m for _, m in rig.observer.alerts)


@pytest.mark.parametrize("fault", [TIMEOUT, HTTP_5XX])
def test_executor_unknown_write_that_never_happened_is_sent_exactly_once_more(tmp_path, fault):
    rig = Rig(tmp_path)
    rig.world.fault("withdraw", fault)
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE
    assert [c for c in rig.world.calls if c[0] == "withdraw"] == [("withdraw", f"{result.batch_id}:withdraw")] * 2
    _every_effect_once(rig)


def test_executor_unknown_twice_with_nothing_found_needs_review(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("withdraw", TIMEOUT, TIMEOUT)
    with pytest.raises(NeedsReview):
        rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert rig.journal.control()[0] is ControlState.HALTED
    (batch,) = rig.journal.open_batches()  # stays OPEN: resumes after review
    assert rig.journal.step(batch.id, "withdraw").status is StepStatus.NEEDS_REVIEW
    assert rig.world.txs == []


def test_executor_lost_sell_response_resumes_by_key_with_one_order(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("sell", LOST)
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE
    assert len(rig.world.orders) == 1
    _every_effect_once(rig)


def test_executor_lost_exchange_withdrawal_is_found_by_key_not_resent(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("venue_withdraw", LOST)
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE
    assert len(rig.world.withdrawals) == 1
    _every_effect_once(rig)


@pytest.mark.parametrize("fault", [RATE, RETRY])
def test_executor_rate_limit_waits_and_retries_the_same_key(tmp_path, fault):
    rig = Rig(tmp_path)
    rig.world.fault("sell", fault)
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE
    assert [c for c in rig.world.calls if c[0] == "sell"] == [("sell", f"{result.batch_id}:sell")] * 2
    if fault == RATE:
        assert 3.0 in rig.clock.slept
    _every_effect_once(rig)


def test_executor_rejected_sell_stops_the_batch_safely(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("sell", REJECT)
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.FAILED
    steps = {r.step: r.status for r in rig.journal.steps(result.batch_id)}
    assert steps["sell"] is StepStatus.FAILED and "withdraw_quote" not in steps
    assert rig.world.exchange["ETH"] == Decimal(10)  # still accounted, on the exchange
    assert rig.journal.control()[0] is ControlState.NORMAL


def test_executor_partial_fill_books_what_filled_and_leaves_the_rest(tmp_path):
    world = make_world(bid_levels=(("2000", "3"), ("1999", "4"), ("1500", "100")))
    rig = Rig(tmp_path, clock=world.clock, world=world)
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE  # HF still rose: 7 ETH sold (> w·D/q = 12,000 USDT) and repaid
    sell = rig.journal.step(result.batch_id, "sell").outcome
    assert Decimal(sell["filled"]) == 7 and sell["exhausted"] is True
    assert world.exchange["ETH"] == Decimal(3)
    _assert_books_balance(rig, start_collateral=100 * E18, start_debt=120_000 * E6, start_wallet_usdt=0)


def test_executor_partial_fill_that_lowers_hf_leaves_the_rest_for_the_next_batch(tmp_path):
    # A thin book fills 5 of 10 ETH: HF ends lower than it started, but only by the 5 ETH still
    # on the exchange. That is the market's depth, not a fault: no reduce-only (which would stop
    # every later withdrawal on the day the book is thin), a warning, and a sweep sells the rest.
    world = make_world(bid_levels=(("2000", "3"), ("1999", "2"), ("1500", "100")))
    rig = Rig(tmp_path, clock=world.clock, world=world)
    start_hf = health_factor_wad(_snapshot(rig).position)
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE
    assert rig.journal.control()[0] is ControlState.NORMAL
    verdict = rig.journal.step(result.batch_id, "verify").outcome
    assert verdict["improved"] is False and Decimal(verdict["unsold_on_exchange"]) == 5
    assert int(verdict["hf_after_wad"]) < start_hf
    assert world.exchange["ETH"] == Decimal(5)
    assert [m for level, m in rig.observer.alerts if level == "warning"] == [
        f"batch {result.batch_id}: the book filled 5 ETH above the floor; 5 ETH wait on the exchange for the next batch"
    ]
    world.book = make_world().book  # liquidity is back
    sweep = rig.executor().execute(rig.spec(0), _snapshot(rig))
    assert sweep.status is BatchStatus.DONE
    assert world.exchange["ETH"] == Decimal(0) and world.reserve("WETH").collateral == 90 * E18
    assert health_factor_wad(_snapshot(rig).position) > start_hf
    _assert_books_balance(rig, start_collateral=100 * E18, start_debt=120_000 * E6, start_wallet_usdt=0)
    _every_effect_once(rig)


def test_executor_nothing_sold_keeps_the_collateral_on_the_exchange_for_a_sweep(tmp_path):
    world = make_world(bid_levels=(("2000", "0"),))  # a bid with nothing behind it
    rig = Rig(tmp_path, clock=world.clock, world=world)
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE and rig.journal.control()[0] is ControlState.NORMAL
    assert rig.journal.step(result.batch_id, "verify").outcome["unsold_on_exchange"] == "10.000000000000000000"
    assert world.exchange["ETH"] == Decimal(10)


def test_executor_collateral_missing_from_the_exchange_still_fails_verify(tmp_path):
    # The unsold part counts only while the exchange still holds it: collateral that vanished is
    # not "waiting for the next batch".
    world = make_world(bid_levels=(("2000", "3"), ("1999", "2"), ("1500", "100")))
    rig = Rig(tmp_path, clock=world.clock, world=world)
    real_sell = rig.venue.sell

    def sell_then_lose(**kwargs):
        result = real_sell(**kwargs)
        world.exchange["ETH"] = Decimal(0)
        return result

    rig.venue.sell = sell_then_lose
    with pytest.raises(VerifyFailed):
        rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert rig.journal.control()[0] is ControlState.REDUCE_ONLY
    assert rig.journal.batches()[0].status is BatchStatus.HALTED
    assert any(level == "critical" for level, _ in rig.observer.alerts)


def test_executor_reduce_only_skips_withdrawals_but_repays(tmp_path):
    world = make_world(idle_wallet_usdt=1000)
    rig = Rig(tmp_path, clock=world.clock, world=world)
    rig.journal.set_control(ControlState.REDUCE_ONLY, "test")
    result = rig.executor().execute(rig.spec(10), _snapshot(rig))
    steps = {r.step: r.status for r in rig.journal.steps(result.batch_id)}
    assert steps["withdraw"] is StepStatus.SKIPPED and steps["repay_idle"] is StepStatus.OK
    assert result.status is BatchStatus.DONE and world.reserve("WETH").collateral == 100 * E18


def test_executor_hf_at_floor_skips_withdraw_repay_only(tmp_path):
    world = make_world(debt_usdt=150_000, idle_wallet_usdt=100)  # HF = 200k·0.83/150k = 1.107
    rig = Rig(tmp_path, clock=world.clock, world=world)
    result = rig.executor(hf_floor_wad=10**18 * 12 // 10).execute(rig.spec(10), _snapshot(rig))
    steps = {r.step: r.status for r in rig.journal.steps(result.batch_id)}
    assert steps["withdraw"] is StepStatus.SKIPPED and steps["repay_idle"] is StepStatus.OK
    assert "floor" in rig.journal.step(result.batch_id, "withdraw").intent["skipped"]
    assert world.reserve("WETH").collateral == 100 * E18


def test_executor_withdraw_that_would_breach_the_shocked_floor_is_skipped(tmp_path):
    rig = Rig(tmp_path)  # HF 1.383; withdrawing 20 of 100 ETH with a 5% shock → ~1.05 < 1.10
    result = rig.executor().execute(rig.spec(20), _snapshot(rig))
    assert rig.journal.step(result.batch_id, "withdraw").status is StepStatus.SKIPPED
    assert rig.world.txs == []


def test_executor_withdrawal_address_off_the_allowlist_is_refused_before_any_call(tmp_path):
    rig = Rig(tmp_path)
    result = rig.executor(withdrawal_allowlist=("0x0000000000000000000000000000000000000bad",)).execute(
        rig.spec(10), _snapshot(rig)
    )
    assert result.status is BatchStatus.FAILED
    assert rig.journal.step(result.batch_id, "withdraw_quote").status is StepStatus.FAILED
    assert not any(c[0] == "venue_withdraw" for c in rig.world.calls)


def test_executor_oracle_divergence_refuses_the_sell(tmp_path):
    world = make_world()
    world.set_reserve("WETH", price=2300 * 10**8)  # oracle 2300 vs book ~2000: 13% apart
    rig = Rig(tmp_path, clock=world.clock, world=world)
    result = rig.executor().execute(rig.spec(5), _snapshot(rig))
    assert result.status is BatchStatus.FAILED
    assert "bps" in rig.journal.step(result.batch_id, "sell").error
    assert world.orders == []


def test_executor_foreign_transaction_under_the_next_key_needs_review(tmp_path):
    rig = Rig(tmp_path)
    next_id = rig.journal.peek_next_batch_id()
    rig.lending.withdraw(key=f"{next_id}:withdraw", symbol="WETH", amount=E18)  # e.g. a restored old journal
    with pytest.raises(NeedsReview):
        rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert rig.journal.control()[0] is ControlState.HALTED
    assert rig.journal.batches() == []


def test_executor_foreign_exchange_withdrawal_under_the_next_key_needs_review(tmp_path):
    world = make_world(idle_exchange_usdt=Decimal(100))
    rig = Rig(tmp_path, clock=world.clock, world=world)
    next_id = rig.journal.peek_next_batch_id()
    rig.venue.withdraw(key=f"{next_id}:withdraw_quote", coin="USDT", amount=Decimal(50), address="0xabc", network="ETH")
    with pytest.raises(NeedsReview):
        rig.executor().execute(rig.spec(10), _snapshot(rig))


def test_executor_halted_journal_refuses_new_batches(tmp_path):
    rig = Rig(tmp_path)
    rig.journal.set_control(ControlState.HALTED, "review")
    with pytest.raises(Exception, match="halted"):
        rig.executor().execute(rig.spec(10), _snapshot(rig))


def test_executor_stop_request_between_steps_leaves_the_batch_open_and_resumable(tmp_path):
    rig = Rig(tmp_path)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3  # after three steps have started

    with pytest.raises(StopRequested):
        rig.executor(stop_requested=stop).execute(rig.spec(10), _snapshot(rig))
    (batch,) = rig.journal.open_batches()
    rig.restart()
    (result,) = rig.executor().resume()
    assert result.status is BatchStatus.DONE and result.batch_id == batch.id
    _every_effect_once(rig)


def test_executor_deposit_never_credited_needs_review_after_the_timeout(tmp_path):
    rig = Rig(tmp_path)
    rig.world.credit_delay_s = 10**9
    with pytest.raises(NeedsReview, match="not landed"):
        rig.executor(transfer_timeout_s=600).execute(rig.spec(10), _snapshot(rig))
    (batch,) = rig.journal.open_batches()
    assert rig.journal.step(batch.id, "await_deposit").status is StepStatus.NEEDS_REVIEW


def test_executor_review_then_reconcile_resumes_the_batch(tmp_path):
    rig = Rig(tmp_path)
    rig.world.credit_delay_s = 10**9
    with pytest.raises(NeedsReview):
        rig.executor(transfer_timeout_s=600).execute(rig.spec(10), _snapshot(rig))
    (batch,) = rig.journal.open_batches()
    rig.world.credit_delay_s = 0
    rig.journal.mark_for_reconcile(batch.id, "await_deposit", by="operator")
    rig.journal.clear_control(by="operator")
    (result,) = rig.executor(transfer_timeout_s=600).resume()
    assert result.status is BatchStatus.DONE
    _every_effect_once(rig)


def test_executor_foreign_order_under_the_next_key_needs_review(tmp_path):
    rig = Rig(tmp_path)
    next_id = rig.journal.peek_next_batch_id()
    rig.world.exchange["ETH"] = Decimal(1)
    rig.venue.sell(key=f"{next_id}:sell", symbol="ETH/USDT", qty=Decimal(1), floor_price=Decimal(1900))
    with pytest.raises(NeedsReview, match="orders under key"):
        rig.executor().execute(rig.spec(10), _snapshot(rig))
    assert rig.journal.control()[0] is ControlState.HALTED and len(rig.world.orders) == 1


def test_executor_unwraps_weth_for_an_eth_exchange_by_default(tmp_path):
    rig = Rig(tmp_path)
    result = rig.executor(unwrap_native=None).execute(rig.spec(10), _snapshot(rig))
    assert result.status is BatchStatus.DONE
    assert [t.kind for t in rig.world.txs][:3] == ["withdraw", "unwrap", "transfer"]
    assert rig.world.txs[2].symbol == "ETH"

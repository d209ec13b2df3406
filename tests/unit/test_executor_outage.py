"""An exchange outage while a write's outcome is unknown: looked up by key for as long as the
venue does not answer (alerting), then the batch resumes by itself; a review only past
``reconcile_timeout_s`` or when the venue's answer contradicts the journal."""

from __future__ import annotations

import pytest

from bot.engine.executor import StopRequested
from bot.engine.journal import BatchStatus, ControlState, StepStatus
from bot.engine.outage import MAX_PAUSE_S, REMIND_EVERY_S
from bot.errors import NeedsReview
from tests.support.engine_kit import Rig
from tests.support.fakes import LOST


def _outage_alerts(rig: Rig) -> list[str]:
    return [m for level, m in rig.observer.alerts if level == "warning" and "does not answer" in m]


def _every_effect_once(rig: Rig) -> None:
    assert set(rig.world.orders_per_client_id().values()) == {1}
    assert set(rig.world.withdrawals_per_key().values()) <= {1}
    assert set(rig.world.tx_effects_per_key().values()) == {1}


@pytest.mark.parametrize(
    ("lost", "retryable"),
    [
        pytest.param("sell", False, id="sell"),
        pytest.param("venue_withdraw", False, id="withdrawal"),
        # A lookup of an id the adapter did not send itself (an earlier process did) fails as a
        # plain Retryable: reconciling turns it into the same outage.
        pytest.param("venue_withdraw", True, id="withdrawal-sent-by-an-earlier-process"),
    ],
)
def test_an_outage_while_the_outcome_is_unknown_is_waited_out_and_the_batch_completes(tmp_path, lost, retryable):
    rig = Rig(tmp_path)
    rig.world.fault(lost, LOST)
    rig.world.outage_after = (lost, 60.0)
    rig.world.outage_retryable = retryable
    result = rig.executor(max_retries=2).execute(rig.spec(10), rig.lending.snapshot())
    assert result.status is BatchStatus.DONE
    assert len(rig.world.orders) == 1 and len(rig.world.withdrawals) == 1  # nothing re-sent blind
    _every_effect_once(rig)
    assert rig.journal.control()[0] is ControlState.NORMAL
    (first,) = _outage_alerts(rig)
    assert "looking it up by key for up to 21600 s" in first
    back = [m for level, m in rig.observer.alerts if level == "info" and "answers again" in m]
    assert len(back) == 1 and int(back[0].split("after ")[1].split(" s")[0]) >= 60


def test_lookups_back_off_to_a_cap_and_remind_every_ten_minutes(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("sell", LOST)
    rig.world.outage_after = ("sell", 1500.0)
    result = rig.executor().execute(rig.spec(10), rig.lending.snapshot())
    assert result.status is BatchStatus.DONE
    assert len(rig.world.orders) == 1
    assert len(_outage_alerts(rig)) == 1 + int(1500 // REMIND_EVERY_S)  # at the start, then reminders
    assert max(rig.clock.slept) == MAX_PAUSE_S
    lookups = [c for c in rig.world.calls if c == ("sell", f"{result.batch_id}:sell")]
    assert 1500 / MAX_PAUSE_S <= len(lookups) <= 1500 / MAX_PAUSE_S + 10


def test_an_outage_past_the_bound_halts_for_review_without_re_sending(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("sell", LOST)
    rig.world.outage_after = ("sell", 10_000.0)
    started = rig.clock.now()
    with pytest.raises(NeedsReview, match=r"has not answered for \d+ s \(exchange.reconcile_timeout_s = 900\)"):
        rig.executor(reconcile_timeout_s=900).execute(rig.spec(10), rig.lending.snapshot())
    assert 900 <= rig.clock.now() - started < 900 + 200  # the credit wait, then the bound
    assert rig.journal.control()[0] is ControlState.HALTED
    (batch,) = rig.journal.open_batches()
    assert rig.journal.step(batch.id, "sell").status is StepStatus.NEEDS_REVIEW
    assert len(rig.world.orders) == 1


def test_a_stop_during_an_outage_leaves_the_step_unknown_and_a_restart_finishes_it(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("sell", LOST)
    rig.world.outage_after = ("sell", 120.0)
    during_the_outage = lambda: rig.clock.now() < rig.world.down_until  # noqa: E731
    with pytest.raises(StopRequested, match="venue was unreachable"):
        rig.executor(stop_requested=during_the_outage).execute(rig.spec(10), rig.lending.snapshot())
    (batch,) = rig.journal.open_batches()
    assert rig.journal.step(batch.id, "sell").status is StepStatus.UNKNOWN
    rig.restart()
    rig.clock.advance(120)
    (result,) = rig.executor().resume()
    assert result.status is BatchStatus.DONE
    assert len(rig.world.orders) == 1
    _every_effect_once(rig)


def test_a_restart_during_the_outage_keeps_looking_and_counts_the_bound_from_the_first_unknown(tmp_path):
    rig = Rig(tmp_path)
    rig.world.fault("sell", LOST)
    rig.world.outage_after = ("sell", 100_000.0)
    during_the_outage = lambda: rig.clock.now() < rig.world.down_until  # noqa: E731
    with pytest.raises(StopRequested):
        rig.executor(stop_requested=during_the_outage).execute(rig.spec(10), rig.lending.snapshot())
    (batch,) = rig.journal.open_batches()
    unknown_since = rig.journal.step(batch.id, "sell").updated_at
    rig.restart()
    rig.clock.advance(500)  # the daemon was down for a while; the exchange still is
    with pytest.raises(NeedsReview, match=r"has not answered for 9\d\d s \(exchange.reconcile_timeout_s = 900\)"):
        rig.executor(reconcile_timeout_s=900).resume()
    assert 900 <= rig.clock.now() - unknown_since < 900 + MAX_PAUSE_S + 1
    assert len(rig.world.orders) == 1

"""A withdrawal whose answer was lost while the exchange's history lags: the executor must
not send a second one under the same withdrawOrderId when the balance shows the first left.
(Seen on the devnet: a stale history longer than the in-flight window led to a re-send.)"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.engine.journal import BatchStatus, StepStatus
from bot.errors import NeedsReview
from bot.ports import Transfer, TransferState
from tests.support.engine_kit import Rig
from tests.support.fakes import HTTP_5XX, LOST, FakeVenue, make_world


class LaggingHistoryVenue(FakeVenue):
    """``withdrawal(key)`` says UNKNOWN for the next ``stale`` lookups of a withdrawal that exists."""

    stale = 0

    def withdrawal(self, *, key: str, coin: str) -> Transfer:
        found = super().withdrawal(key=key, coin=coin)
        if found.state is not TransferState.UNKNOWN and self.stale > 0:
            self.stale -= 1
            return Transfer(key, coin, Decimal(0), TransferState.UNKNOWN)
        return found


def _rig(tmp_path, *, stale: int, idle_exchange_usdt: Decimal = Decimal(0)) -> Rig:
    world = make_world(idle_exchange_usdt=idle_exchange_usdt)
    rig = Rig(tmp_path, clock=world.clock, world=world)
    rig.venue = LaggingHistoryVenue(world)
    rig.venue.stale = stale
    world.faults["venue_withdraw"] = [LOST]
    return rig


def test_executor_lost_withdrawal_with_lagging_history_waits_for_it_not_resent(tmp_path):
    rig = _rig(tmp_path, stale=3)
    result = rig.executor().execute(rig.spec(10), rig.lending.snapshot())
    assert result.status is BatchStatus.DONE
    assert rig.world.withdrawals_per_key() == {f"{result.batch_id}:withdraw_quote": 1}
    assert rig.world.calls.count(("venue_withdraw", f"{result.batch_id}:withdraw_quote")) == 1


def test_executor_lost_withdrawal_history_never_shows_it_needs_review_not_resent(tmp_path):
    rig = _rig(tmp_path, stale=10_000)
    with pytest.raises(NeedsReview):
        rig.executor().execute(rig.spec(10), rig.lending.snapshot())
    (batch,) = rig.journal.batches()
    assert rig.journal.step(batch.id, "withdraw_quote").status is StepStatus.NEEDS_REVIEW
    assert rig.world.withdrawals_per_key() == {f"{batch.id}:withdraw_quote": 1}


def test_executor_withdrawal_that_never_happened_is_still_sent_once_more(tmp_path):
    """The balance did not move: nothing left the exchange, so the one re-send stands."""
    world = make_world()
    rig = Rig(tmp_path, clock=world.clock, world=world)
    world.faults["venue_withdraw"] = [HTTP_5XX]
    result = rig.executor().execute(rig.spec(10), rig.lending.snapshot())
    assert result.status is BatchStatus.DONE
    assert rig.world.withdrawals_per_key() == {f"{result.batch_id}:withdraw_quote": 1}

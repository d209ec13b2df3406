"""Wallet activity no journal of ours explains: a halt before the next act while a batch is
open, a warning (and the position re-read) when none is; our own transactions, and the ones
named in the journal's step outcomes, are not foreign."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.engine.foreign_activity import (
    WATCH_MARK,
    ForeignActivity,
    ForeignActivityCheck,
    WalletActivity,
    WalletTransfer,
    foreign_items,
    hashes_in,
)
from bot.engine.journal import BatchStatus, ControlState, StepStatus
from tests.support.engine_kit import Rig

FOREIGN_TX = "0x" + "ab" * 32


@dataclass
class ScriptedWatch:
    """The chain as the test writes it: blocks, the wallet's nonce and transfers."""

    block: int = 100
    nonce: int = 7
    foreign_nonces: list[int] = field(default_factory=list)
    transfers: list[WalletTransfer] = field(default_factory=list)
    own: set[str] = field(default_factory=set)
    asked: list[tuple[int, int]] = field(default_factory=list)

    def head(self) -> tuple[int, int]:
        return self.block, self.nonce

    def activity(self, from_block: int, *, nonce_before: int) -> WalletActivity:
        self.asked.append((from_block, nonce_before))
        seen = tuple(t for t in self.transfers if from_block <= t.block <= self.block)
        return WalletActivity(from_block, self.block, self.nonce, tuple(self.foreign_nonces), seen)

    def own_tx_hashes(self) -> frozenset[str]:
        return frozenset(self.own)

    def foreign_transfer(self, token: str = "aWETH", *, incoming: bool = False, tx: str = FOREIGN_TX) -> None:
        self.block += 1
        self.transfers.append(WalletTransfer(tx, self.block, token, incoming, 5 * 10**18))


def _check(rig: Rig, watch: ScriptedWatch) -> tuple[ForeignActivityCheck, list[tuple[str, str]]]:
    alerts: list[tuple[str, str]] = []
    return ForeignActivityCheck(watch, rig.journal, alert=lambda level, text: alerts.append((level, text))), alerts


def test_the_first_check_starts_at_the_head_and_each_check_reads_on_from_the_last(tmp_path):
    rig, watch = Rig(tmp_path), ScriptedWatch()
    check, alerts = _check(rig, watch)
    assert check.check(batch_open=False) == [] and watch.asked == []
    assert rig.journal.noted(WATCH_MARK) == {"block": 100, "nonce": 7}
    watch.block += 3
    watch.nonce += 1
    assert check.check(batch_open=False) == [] and watch.asked == [(101, 7)]
    assert check.check(batch_open=False) == [] and watch.asked == [(101, 7), (104, 8)]  # no new block since
    assert rig.journal.noted(WATCH_MARK) == {"block": 103, "nonce": 8} and alerts == []


def test_with_no_batch_open_foreign_activity_is_a_warning_not_a_halt_and_said_once(tmp_path):
    rig, watch = Rig(tmp_path), ScriptedWatch()
    check, alerts = _check(rig, watch)
    check.check(batch_open=False)
    watch.foreign_transfer("WETH", incoming=True)
    assert check.check(batch_open=False) == [
        f"5000000000000000000 base units of WETH into the wallet in tx {FOREIGN_TX} (block 101)"
    ]
    assert rig.journal.control() == (ControlState.NORMAL, None)
    assert [level for level, _ in alerts] == ["warning"] and "the plan is re-read from the chain" in alerts[0][1]
    watch.block += 1
    assert check.check(batch_open=False) == [] and len(alerts) == 1


def test_mid_batch_another_signer_moving_atokens_halts_before_the_next_act(tmp_path):
    rig, watch = Rig(tmp_path), ScriptedWatch()
    executor = rig.executor()
    executor.foreign_check, _ = _check(rig, watch)
    executor.check_foreign(batch_open=False)  # the daemon's first tick
    withdraw = rig.lending.withdraw

    def withdraw_then_someone_moves_atokens(**kwargs):
        result = withdraw(**kwargs)
        watch.foreign_transfer("aWETH")  # another daemon (or the key's owner) moves collateral out
        return result

    rig.lending.withdraw = withdraw_then_someone_moves_atokens
    with pytest.raises(ForeignActivity) as halted:
        executor.execute(rig.spec(10), rig.lending.snapshot())
    message = str(halted.value)
    assert "\n" not in message and f"aWETH out of the wallet in tx {FOREIGN_TX}" in message
    (batch,) = rig.journal.batches()
    assert batch.status is BatchStatus.OPEN  # resumes once a human has cleared the halt
    state, reason = rig.journal.control()
    assert state is ControlState.HALTED and "foreign wallet activity in blocks 101-101" in (reason or "")
    steps = {r.step: (r.status, r.attempts) for r in rig.journal.steps(batch.id)}
    assert steps["withdraw"][0] is StepStatus.OK and steps["deposit"] == (StepStatus.PENDING, 0)  # never tried
    assert [t.kind for t in rig.world.txs] == ["withdraw"]  # nothing more was sent


def test_our_own_transactions_and_those_in_step_outcomes_are_not_foreign(tmp_path):
    rig, watch = Rig(tmp_path), ScriptedWatch()
    executor = rig.executor()
    executor.foreign_check, alerts = _check(rig, watch)
    executor.check_foreign(batch_open=False)
    withdraw = rig.lending.withdraw

    def withdraw_and_log_it(**kwargs):
        result = withdraw(**kwargs)
        watch.foreign_transfer("aWETH", tx=result.tx_hash)  # the burn of our own withdraw
        return result

    rig.lending.withdraw = withdraw_and_log_it
    result = executor.execute(rig.spec(10), rig.lending.snapshot())
    assert result.status is BatchStatus.DONE and alerts == []
    assert rig.journal.control() == (ControlState.NORMAL, None)


def test_foreign_items_name_nonces_we_never_signed_and_unknown_transfers_only():
    ours = "0x" + "01" * 32
    activity = WalletActivity(
        10,
        12,
        9,
        (8,),
        (WalletTransfer(ours, 11, "USDT", True, 5), WalletTransfer(FOREIGN_TX, 12, "USDT", False, 6)),
    )
    known = hashes_in([{"txid": ours[2:].upper()}, None, {"tx_hash": None}])
    assert foreign_items(activity, known) == [
        "a transaction at nonce 8 that we never signed",
        f"6 base units of USDT out of the wallet in tx {FOREIGN_TX} (block 12)",
    ]


def test_after_a_crash_the_exchange_withdrawal_that_landed_before_its_txid_was_journalled_is_ours(tmp_path):
    from tests.support.fakes import Crash, crash_at

    rig, watch = Rig(tmp_path), ScriptedWatch()
    first = rig.executor(crash=crash_at("after_act:withdraw_quote"))
    first.foreign_check, _ = _check(rig, watch)
    first.check_foreign(batch_open=False)
    with pytest.raises(Crash):
        first.execute(rig.spec(10), rig.lending.snapshot())
    rig.clock.advance(rig.world.withdraw_delay_s)  # the exchange pays out meanwhile, in a tx not ours
    rig.world.settle()
    (withdrawal,) = rig.world.withdrawals
    assert withdrawal.delivered
    watch.foreign_transfer("USDT", incoming=True, tx=withdrawal.txid)
    rig.restart()
    again = rig.executor()
    again.foreign_check, alerts = _check(rig, watch)
    (result,) = again.resume()
    assert result.status is BatchStatus.DONE and alerts == []
    assert rig.journal.control() == (ControlState.NORMAL, None)

"""The demo's reading of the journal (batch summaries, what the daemon is doing) and its text
chart — on a real SQLite journal written through the engine's Journal API."""

from __future__ import annotations

from decimal import Decimal

from bot.clock import ManualClock
from bot.demo.journal_view import JournalReader
from bot.demo.view import plot_rows
from bot.engine.journal import BatchStatus, Journal, StepStatus
from bot.engine.steps import (
    RepayIntent,
    SellIntent,
    SellOutcome,
    TxOutcome,
    VerifyIntent,
    VerifyOutcome,
    WithdrawIntent,
)

D = Decimal
WAD = 10**18


def _journal(tmp_path, clock):
    return Journal(tmp_path / "journal.sqlite", clock=clock)


def _start(hf_wad: int) -> dict:
    return {"hf_wad": str(hf_wad), "block": 10, "reserves": [{"symbol": "USDT", "decimals": 6}]}


def _step(journal, clock, batch_id, step, *, intent, outcome, seconds, status=StepStatus.OK):
    journal.write_intent(batch_id, step, key=f"{batch_id}:{step}", intent=intent.to_payload() if intent else {})
    clock.advance(seconds)
    journal.write_outcome(batch_id, step, status, outcome=outcome.to_payload() if outcome else None)


def _tx(block: int) -> TxOutcome:
    return TxOutcome(tx_hash="0xab", block=block, nonce=1, gas_used=21_000, gas_cost_wei=10**14)


def _sell(filled: str, gross: str) -> tuple[SellIntent, SellOutcome]:
    p = D("1800")
    intent = SellIntent("ETH/USDT", D(filled), p, p, p, p, p)
    return intent, SellOutcome(D(filled), D(filled), D(gross), D(0), D(gross), ("c1",), False)


def test_summary_of_a_done_batch_reads_amounts_prices_hf_and_leg_times(tmp_path):
    clock = ManualClock(1000.0)
    with _journal(tmp_path, clock) as journal:
        batch = journal.open_batch(spec={"debt": "USDT", "note": "HF 1.27 < trigger"}, start=_start(127 * WAD // 100))
        hf_before, hf_after = 127 * WAD // 100, 141 * WAD // 100
        withdraw = WithdrawIntent("WETH", 13 * WAD // 2, hf_before)
        _step(journal, clock, batch, "withdraw", intent=withdraw, outcome=_tx(11), seconds=0.5)
        sell_intent, sold = _sell("6.5", "11700")
        _step(journal, clock, batch, "sell", intent=sell_intent, outcome=sold, seconds=0.1)
        _step(journal, clock, batch, "await_quote", intent=None, outcome=None, seconds=3.0)
        repay = RepayIntent("USDT", 11_650_000_000, 11_650_000_000, 20_000_000_000)
        _step(journal, clock, batch, "repay", intent=repay, outcome=_tx(12), seconds=1.5)
        verdict = VerifyOutcome(hf_before, hf_after, improved=True)
        check = VerifyIntent(hf_before, ("withdraw", "sell", "repay"))
        _step(journal, clock, batch, "verify", intent=check, outcome=verdict, seconds=0.0)
        journal.close_batch(batch, BatchStatus.DONE, {"withdrawn_units": str(13 * WAD // 2)})

    (summary,) = JournalReader(tmp_path / "journal.sqlite").summaries()
    assert summary.status is BatchStatus.DONE
    assert summary.withdrawn == D("6.5")
    assert summary.sold == D("6.5")
    assert summary.avg_price == D("1800.00")
    assert summary.repaid == D("11650")
    assert (summary.hf_before, summary.hf_after) == (D("1.27"), D("1.41"))
    assert round(summary.duration_s, 6) == 5.1
    assert {k: round(v, 6) for k, v in summary.legs_s.items()} == {
        "withdraw": 0.5,
        "sell": 0.1,
        "await_quote": 3.0,
        "repay": 1.5,
        "verify": 0.0,
    }
    assert summary.verified is True and summary.withdraw_skipped is None


def test_summary_reads_a_skipped_withdrawal_a_failed_verify_and_an_open_batch(tmp_path):
    clock = ManualClock(1000.0)
    with _journal(tmp_path, clock) as journal:
        swept = journal.open_batch(spec={"debt": "USDT"}, start=_start(112 * WAD // 100))
        journal.write_intent(swept, "withdraw", key=f"{swept}:withdraw", intent={"skipped": "HF would fall under 1.10"})
        journal.write_outcome(swept, "withdraw", StepStatus.SKIPPED)
        repay = RepayIntent("USDT", 500_000_000, 500_000_000, 20_000_000_000)
        _step(journal, clock, swept, "repay_idle", intent=repay, outcome=_tx(11), seconds=1.0)
        verdict = VerifyOutcome(112 * WAD // 100, 111 * WAD // 100, improved=False)
        check = VerifyIntent(112 * WAD // 100, ("repay_idle",))
        _step(journal, clock, swept, "verify", intent=check, outcome=verdict, seconds=0.5, status=StepStatus.FAILED)
        journal.close_batch(swept, BatchStatus.HALTED, {})
        running = journal.open_batch(spec={"debt": "USDT"}, start=_start(125 * WAD // 100))
        withdraw = WithdrawIntent("WETH", 2 * WAD, 125 * WAD // 100)
        _step(journal, clock, running, "withdraw", intent=withdraw, outcome=_tx(12), seconds=1.0)

    halted, open_ = JournalReader(tmp_path / "journal.sqlite").summaries()
    assert halted.withdraw_skipped == "HF would fall under 1.10" and halted.withdrawn == 0
    assert halted.repaid == D(500) and halted.moved
    assert (halted.verified, halted.hf_before, halted.hf_after) == (False, D("1.12"), D("1.11"))
    assert halted.legs_s == {"repay_idle": 1.0}  # only steps that finished OK
    assert open_.status is BatchStatus.OPEN and open_.withdrawn == 2
    assert (open_.verified, open_.hf_before, open_.hf_after) == (None, D("1.25"), None)


def test_activity_names_the_open_batch_and_its_pending_step(tmp_path):
    clock = ManualClock(1000.0)
    reader = JournalReader(tmp_path / "journal.sqlite")
    assert not reader.activity().busy  # no journal yet
    with _journal(tmp_path, clock) as journal:
        assert reader.activity().describe() == "watching"
        batch = journal.open_batch(spec={}, start=_start(WAD))
        assert reader.activity().describe() == "batch 1: planning"
        _step(journal, clock, batch, "withdraw", intent=WithdrawIntent("WETH", 1, WAD), outcome=_tx(11), seconds=1)
        journal.write_intent(batch, "unwrap", key=f"{batch}:unwrap", intent={})
        activity = reader.activity()
        assert activity.busy and activity.describe() == "batch 1: unwrapping WETH"
        journal.write_outcome(batch, "unwrap", StepStatus.OK)
        journal.close_batch(batch, BatchStatus.DONE, {})
        assert not reader.activity().busy
        assert reader.control() == ("NORMAL", None)


def test_plot_rows_marks_trigger_floor_and_both_series():
    bot = [(0.0, D("1.45")), (1.0, D("1.10")), (2.0, D("1.40"))]
    nobot = [(0.0, D("1.45")), (1.0, D("1.20")), (2.0, D("0.95"))]
    rows = plot_rows(bot, nobot, trigger=D("1.3"), floor=D("1.05"), width=3, height=11)
    text = [r.plain for r in rows]
    assert len(text) == 11
    assert any(line.startswith(" trigger 1.3 │") for line in text)
    assert any(line.startswith("  floor 1.05 │") for line in text)
    assert any(line.startswith("     liq 1.0 │") for line in text)
    plot = [line.split("│", 1)[1] for line in text]
    assert sum(line.count("●") for line in plot) == 3  # one per column
    assert plot[-1][2] == "·" or any(line[2] == "·" for line in plot[-3:])  # the no-bot low at the bottom
    top = next(i for i, line in enumerate(plot) if "●" in line or "·" in line)
    assert plot[top][0] in "●·"  # the 1.45 start is the highest point

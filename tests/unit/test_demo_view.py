"""The demo's reading of the journal (batch summaries, what the daemon is doing) and its text
chart — on a real SQLite journal written through the engine's Journal API."""

from __future__ import annotations

from decimal import Decimal

from bot.clock import ManualClock
from bot.demo.journal_view import JournalReader
from bot.demo.view import plot_rows
from bot.engine.journal import BatchStatus, Journal, StepStatus

D = Decimal
WAD = 10**18


def _journal(tmp_path, clock):
    return Journal(tmp_path / "journal.sqlite", clock=clock)


def _start(hf_wad: int) -> dict:
    return {"hf_wad": str(hf_wad), "block": 10, "reserves": [{"symbol": "USDT", "decimals": 6}]}


def _step(journal, clock, batch_id, step, *, intent, outcome, seconds, status=StepStatus.OK):
    journal.write_intent(batch_id, step, key=f"{batch_id}:{step}", intent=intent)
    clock.advance(seconds)
    journal.write_outcome(batch_id, step, status, outcome=outcome)


def test_summary_of_a_done_batch_reads_amounts_prices_hf_and_leg_times(tmp_path):
    clock = ManualClock(1000.0)
    with _journal(tmp_path, clock) as journal:
        batch = journal.open_batch(spec={"debt": "USDT", "note": "HF 1.27 < trigger"}, start=_start(127 * WAD // 100))
        _step(journal, clock, batch, "withdraw", intent={"amount": str(13 * WAD // 2)}, outcome={"block": 11}, seconds=0.5)
        _step(journal, clock, batch, "sell", intent={}, outcome={"filled": "6.5", "gross_quote": "11700"}, seconds=0.1)
        _step(journal, clock, batch, "await_quote", intent={}, outcome={}, seconds=3.0)
        _step(journal, clock, batch, "repay", intent={"amount": "11650000000"}, outcome={}, seconds=1.5)
        _step(journal, clock, batch, "verify", intent={}, outcome={"hf_after_wad": str(141 * WAD // 100)}, seconds=0.0)
        journal.close_batch(batch, BatchStatus.DONE, {"withdrawn_units": str(13 * WAD // 2)})

    (summary,) = JournalReader(tmp_path / "journal.sqlite").summaries()
    assert summary.status is BatchStatus.DONE
    assert summary.withdrawn_eth == D("6.5")
    assert summary.sold_eth == D("6.5")
    assert summary.avg_price == D("1800.00")
    assert summary.repaid_usdt == D("11650")
    assert (summary.hf_before, summary.hf_after) == (D("1.27"), D("1.41"))
    assert round(summary.duration_s, 6) == 5.1
    assert {k: round(v, 6) for k, v in summary.legs_s.items()} == {
        "withdraw": 0.5, "sell": 0.1, "await_quote": 3.0, "repay": 1.5, "verify": 0.0,
    }


def test_activity_names_the_open_batch_and_its_pending_step(tmp_path):
    clock = ManualClock(1000.0)
    reader = JournalReader(tmp_path / "journal.sqlite")
    assert not reader.activity().busy  # no journal yet
    with _journal(tmp_path, clock) as journal:
        assert reader.activity().describe() == "watching"
        batch = journal.open_batch(spec={}, start=_start(WAD))
        assert reader.activity().describe() == "batch 1: planning"
        _step(journal, clock, batch, "withdraw", intent={"amount": "1"}, outcome={}, seconds=1)
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

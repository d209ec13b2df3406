"""What the daemon did, from its journal: every leg in one line at INFO (a dry-run's in the
conditional, with the same numbers), the batch summary, the batch in progress and the funds in
transit, and the read-only Journal that reads them while the writer holds the lock."""

from __future__ import annotations

import logging
import sqlite3
from decimal import Decimal

import pytest

from bot.adapters.dryrun import dry_run_pair
from bot.engine.executor import Executor
from bot.engine.history import batch_json, batch_line, progress, summarize
from bot.engine.journal import BatchStatus, Journal, JournalLocked, StepStatus
from bot.engine.narrator import Narrator
from bot.engine.steps import BatchSpec
from tests.support.engine_kit import default_config
from tests.support.fakes import E18, Crash, FakeLending, FakeVenue, crash_at, make_world

D = Decimal


def _run_batch(tmp_path, *, dry_run=False, crash=None, narrate=True):
    """One 10-WETH batch over the fakes (100 USDT idle in the wallet first), journalled on disk."""
    world = make_world(idle_wallet_usdt=100)
    lending, venue = FakeLending(world), FakeVenue(world)
    if dry_run:
        lending, venue = dry_run_pair(lending, venue)
    path = tmp_path / "journal.sqlite"
    with Journal(path, clock=world.clock) as journal:
        executor = Executor(
            journal=journal,
            lending=lending,
            venue=venue,
            clock=world.clock,
            config=default_config(world),
            observer=Narrator(journal, simulated=dry_run) if narrate else None,
            crash=crash,
        )
        spec = BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=10 * E18, note="HF 1.38 < trigger")
        try:
            executor.execute(spec, lending.snapshot())
        except Crash:
            pass
    return path, world


def _read(path):
    with Journal(path, clock=None, read_only=True) as journal:  # type: ignore[arg-type]
        return [(b, journal.steps(b.id)) for b in journal.batches()]


def test_summary_reads_legs_fill_withdrawal_repaid_hf_and_costs(tmp_path):
    path, _ = _run_batch(tmp_path)
    ((batch, steps),) = _read(path)
    s = summarize(batch, steps)
    assert s.status is BatchStatus.DONE and s.note == "HF 1.38 < trigger"
    assert (s.collateral, s.debt, s.withdrawn, s.sold) == ("WETH", "USDT", D(10), D(10))
    assert s.avg_price == D("1999.50")
    # 100 idle USDT, then all that came back: 19,975.005 withdrawn less the exchange's 1 USDT fee
    assert s.repaid == D("20074.005")
    assert (round(s.hf_before, 3), round(s.hf_after, 3)) == (D("1.383"), D("1.495"))
    legs = {leg.step: leg.status for leg in s.legs}
    assert list(legs) == [
        "repay_idle",
        "withdraw",
        "unwrap",
        "deposit",
        "await_deposit",
        "sell",
        "withdraw_quote",
        "await_quote",
        "repay",
        "verify",
    ]
    assert legs["unwrap"] is StepStatus.SKIPPED  # the fake exchange takes WETH
    assert {status for step, status in legs.items() if step != "unwrap"} == {StepStatus.OK}
    assert s.legs[2].detail == "skipped: the exchange takes the wrapped token"
    fill = s.fill
    assert fill is not None and (fill.filled, fill.gross_quote, fill.fee_quote, fill.net_quote) == (
        D(10),
        D(19995),
        D("19.995"),
        D("19975.005"),
    )
    assert fill.floor_price == D("1980.50") and fill.order_ids == (f"{batch.id}:sell#1",)
    w = s.withdrawal
    assert w is not None and (w.id, w.amount, w.fee, w.arrived) == (
        f"{batch.id}:withdraw_quote",
        D("19975.005"),
        D(1),
        D("19974.005"),
    )
    costs = s.costs
    assert costs is not None
    assert costs.gas_eth == D("0.0002")  # four transactions at 0.00005 ETH
    assert (costs.trading_fee_quote, costs.withdrawal_fee_quote, costs.slippage_quote) == (
        D("19.995"),
        D(1),
        D("10.00"),
    )
    as_json = batch_json(s)
    assert as_json["fill"]["avg_price"] == "1999.5" and as_json["withdrawal"]["arrived"] == "19974.005"
    assert as_json["repaid"] == "20074.005" and as_json["costs"]["gas_eth"] == "0.0002"
    assert {leg["step"]: leg["status"] for leg in as_json["legs"]}["sell"] == "OK"


def test_the_daemon_logs_every_leg_and_a_batch_summary_at_info(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="delever.executor")
    path, _ = _run_batch(tmp_path)
    ((batch, _),) = _read(path)
    lines = {
        r.getMessage().split(":")[0].split()[-1]: r.getMessage() for r in caplog.records if r.levelno == logging.INFO
    }
    b = batch.id
    assert "the exchange credited 10 ETH (fee 0" in lines["await_deposit"]
    assert (
        f"sold 10 of 10 ETH at avg 1,999.50 USDT (gross 19,995, fee 19.995, net 19,975.005 USDT; "
        f"floor 1,980.50, mid 2,000.50; order {b}:sell#1)"
    ) in lines["sell"]
    assert "requested a withdrawal of 19,975.005 USDT from the exchange" in lines["withdraw_quote"]
    assert f"(id {b}:withdraw_quote, pending)" in lines["withdraw_quote"]
    assert f"19,974.005 USDT landed in the wallet (withdrawal {b}:withdraw_quote, fee 1, tx 0x" in lines["await_quote"]
    assert "repaid 19,974.005 USDT on Aave (tx 0x" in lines["repay"]
    summary = next(r.getMessage() for r in caplog.records if r.getMessage().startswith(f"batch {b} DONE"))
    assert summary.endswith(
        "withdrew 10 WETH, sold 10 ETH at avg 1,999.50 USDT, repaid 20,074.005 USDT, HF 1.383 → 1.495"
    )
    assert " in " in summary and " s: " in summary  # the duration


def test_a_dry_run_logs_what_it_would_have_done_with_the_same_numbers(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="delever.executor")
    path, world = _run_batch(tmp_path, dry_run=True)
    assert world.orders == []
    ((batch, _),) = _read(path)
    messages = [r.getMessage() for r in caplog.records]
    sell = next(m for m in messages if f"{batch.id} sell:" in m)
    assert sell.startswith(f"dry-run batch {batch.id} sell: would have sold 10 of 10 ETH at avg 1,999.50 USDT")
    assert any("would have repaid 19,974.005 USDT on Aave (simulated tx 0x" in m for m in messages)
    summary = next(m for m in messages if m.startswith(f"dry-run batch {batch.id} DONE"))
    assert "(simulated, nothing signed): would have withdrawn 10 WETH, sold 10 ETH at avg 1,999.50 USDT" in summary
    assert summary.endswith("HF 1.383 → 1.495")


def test_a_failed_batch_is_logged_as_a_warning_with_its_reason(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="delever.executor")
    world = make_world()
    world.book = world.book.__class__("ETH/USDT", bids=(), asks=world.book.asks)  # no bids: the sell is refused
    with Journal(tmp_path / "j.sqlite", clock=world.clock) as journal:
        executor = Executor(
            journal=journal,
            lending=FakeLending(world),
            venue=FakeVenue(world),
            clock=world.clock,
            config=default_config(world),
            observer=Narrator(journal, simulated=False),
        )
        result = executor.execute(
            BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=10 * E18), FakeLending(world).snapshot()
        )
    assert result.status is BatchStatus.FAILED
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"batch {result.batch_id} FAILED in ")
    assert "withdrew 10 WETH, sold nothing, repaid 0 USDT, HF 1.383 → — (step sell failed)" in warning
    assert warning.endswith("(step sell failed)")


@pytest.mark.parametrize(
    ("point", "step", "transit"),
    [
        ("after_outcome:withdraw", "unwrap", [("WETH", D(10), "in the wallet, not yet sent")]),
        ("after_outcome:deposit", "await_deposit", [("WETH", D(10), "sent to the exchange, not yet credited")]),
        ("after_outcome:await_deposit", "sell", [("ETH", D(10), "on the exchange, not yet sold")]),
        ("after_outcome:sell", "withdraw_quote", [("USDT", D("19975.005"), "on the exchange, not yet withdrawn")]),
        (
            "after_outcome:withdraw_quote",
            "await_quote",
            [("USDT", D("19975.005"), "withdrawn from the exchange, not yet on chain")],
        ),
        ("after_outcome:await_quote", "repay", [("USDT", D("19974.005"), "in the wallet, not yet repaid")]),
        ("before_act:repay", "repay", [("USDT", D("19974.005"), "in the wallet, not yet repaid")]),
        ("after_outcome:repay", "verify", []),
    ],
)
def test_an_open_batch_names_its_leg_since_when_and_the_funds_in_transit(tmp_path, point, step, transit):
    path, _ = _run_batch(tmp_path, crash=crash_at(point), narrate=False)
    ((batch, steps),) = _read(path)
    assert batch.status is BatchStatus.OPEN
    now = progress(batch, steps)
    assert now.step == step and now.seq == 1
    assert now.since == max(s.created_at if not s.status.terminal else s.updated_at for s in steps)
    assert [(t.asset, t.amount, t.where) for t in now.in_transit] == transit


def test_a_closed_batch_has_nothing_in_transit_and_an_empty_one_is_planning(tmp_path):
    path, _ = _run_batch(tmp_path, crash=crash_at("after_open"), narrate=False)
    ((batch, steps),) = _read(path)
    assert steps == [] and progress(batch, steps).describe() == "batch 1: planning"
    done_path, _ = _run_batch(tmp_path / "done", narrate=False)
    ((done, done_steps),) = _read(done_path)
    assert progress(done, done_steps).in_transit == ()


def test_a_batch_with_nothing_moved_says_why_in_one_line(tmp_path):
    world = make_world()
    with Journal(tmp_path / "j.sqlite", clock=world.clock) as journal:
        executor = Executor(
            journal=journal,
            lending=FakeLending(world),
            venue=FakeVenue(world),
            clock=world.clock,
            config=default_config(world),
        )
        result = executor.execute(
            BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=0), FakeLending(world).snapshot()
        )
        summary = summarize(journal.batch(result.batch_id), journal.steps(result.batch_id))
    assert not summary.moved and summary.withdraw_skipped == "sweep batch: nothing to withdraw"
    assert (
        batch_line(summary)
        == f"batch {result.batch_id} DONE in 0.0 s: nothing moved (sweep batch: nothing to withdraw)"
    )


# ---- the read-only journal ------------------------------------------------------------------------


def test_a_read_only_journal_reads_beside_the_writer_and_never_writes(tmp_path):
    world = make_world()
    path = tmp_path / "journal.sqlite"
    with Journal(path, clock=world.clock) as writer:
        with pytest.raises(JournalLocked):
            Journal(path, clock=world.clock)  # a second writer is refused...
        reader = Journal(path, clock=world.clock, read_only=True)  # ...a reader is not
        assert reader.batches() == []
        batch = writer.open_batch(spec={"debt": "USDT"}, start={})
        assert [b.id for b in reader.batches()] == [batch]  # sees the writer's commits
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.close_batch(batch, BatchStatus.DONE)
        reader.close()
    with Journal(path, clock=world.clock) as again:
        assert again.batch(batch).status is BatchStatus.OPEN  # the reader changed nothing


def test_a_read_only_journal_refuses_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no journal at"):
        Journal(tmp_path / "nope.sqlite", clock=None, read_only=True)  # type: ignore[arg-type]
    assert not (tmp_path / "nope.sqlite").exists()
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.close()
    from bot.engine.journal import JournalCorrupt

    with pytest.raises(JournalCorrupt, match="not a delever journal"):
        Journal(other, clock=None, read_only=True)  # type: ignore[arg-type]


def test_a_repay_only_batch_says_it_withdrew_and_sold_nothing(tmp_path):
    world = make_world(idle_wallet_usdt=100)
    with Journal(tmp_path / "j.sqlite", clock=world.clock) as journal:
        executor = Executor(
            journal=journal,
            lending=FakeLending(world),
            venue=FakeVenue(world),
            clock=world.clock,
            config=default_config(world),
        )
        spec = BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=0)
        result = executor.execute(spec, FakeLending(world).snapshot())
        summary = summarize(journal.batch(result.batch_id), journal.steps(result.batch_id))
    line = batch_line(summary)
    assert line.startswith(f"batch {result.batch_id} DONE in ")
    assert line.endswith(": withdrew nothing, sold nothing, repaid 100 USDT, HF 1.383 → 1.384")

"""How many SQLite statements one batch costs the journal (the backtest runs thousands)."""

from __future__ import annotations

from bot.domain.position import health_factor_wad
from bot.engine.journal import BatchStatus
from tests.support.engine_kit import Rig


def test_a_full_batch_reads_no_step_row_back_after_writing_it(tmp_path):
    rig = Rig(tmp_path)
    statements: list[str] = []
    rig.journal._db.set_trace_callback(statements.append)
    start_hf = health_factor_wad(rig.world.position)
    result = rig.executor().execute(rig.spec(10), rig.lending.snapshot())
    rig.journal._db.set_trace_callback(None)
    assert result.status is BatchStatus.DONE and health_factor_wad(rig.world.position) > start_hf
    step_reads = [s for s in statements if s.startswith("SELECT * FROM steps WHERE batch_id=") and "AND step=" in s]
    attempt_reads = [s for s in statements if s.startswith("SELECT attempts")]
    # Each write returns its row as committed: no step is read back one by one (were 28 + 5 reads).
    assert (step_reads, attempt_reads) == ([], [])
    # 10 steps: intent and outcome (BEGIN, write, event, COMMIT) each, the attempts, open/close: 114
    # (were 147; 115 while the journal's tag was read again for each batch id)
    assert len(statements) <= 114, len(statements)

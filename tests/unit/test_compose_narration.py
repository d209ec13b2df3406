"""The daemon built by ``bot.compose`` says what it did: a line per leg and per batch at INFO,
in the conditional for a dry-run."""

from __future__ import annotations

import logging

from bot.compose.daemon import build_runtime
from tests.support.compose_kit import fake_adapters, settings
from tests.support.fakes import make_world


def _messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "delever.executor" and r.levelno == logging.INFO]


def test_a_dry_run_daemon_logs_what_it_would_have_done(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    world = make_world(debt_usdt=130_000)  # HF ≈ 1.277 < trigger 1.4
    runtime = build_runtime(
        settings(tmp_path, mode="dry-run", chain_id=1),
        live_flag=False,
        clock=world.clock,
        adapters=fake_adapters(world, chain_id=1),
    )
    assert runtime.run(once=True) == 0
    messages = _messages(caplog)
    sell = next(m for m in messages if " sell: " in m)
    assert sell.startswith("dry-run batch ") and ": would have sold " in sell and " at avg " in sell
    summary = next(m for m in messages if " DONE in " in m)
    assert "(simulated, nothing signed): would have withdrawn " in summary and " HF 1.277 → " in summary


def test_a_signing_daemon_logs_each_leg_in_the_past_tense(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    world = make_world(debt_usdt=130_000)
    runtime = build_runtime(settings(tmp_path), live_flag=False, clock=world.clock, adapters=fake_adapters(world))
    assert runtime.run(once=True) == 0
    (order,) = world.orders
    messages = _messages(caplog)
    sell = next(m for m in messages if " sell: " in m)
    assert sell.startswith("batch ") and ": sold " in sell and f"order {order.client_id}" in sell
    assert not any("would" in m for m in messages)
    assert any(" withdraw_quote: requested a withdrawal of " in m for m in messages)


def test_the_control_state_gauge_follows_the_journal(tmp_path):
    from bot.engine.journal import ControlState

    world = make_world(debt_usdt=130_000)
    runtime = build_runtime(settings(tmp_path), live_flag=False, clock=world.clock, adapters=fake_adapters(world))
    runtime.journal.set_control(ControlState.REDUCE_ONLY, "verify failed in review")
    assert runtime.run(once=True) == 0
    assert "delever_control_state 1.0" in runtime.metrics.text()

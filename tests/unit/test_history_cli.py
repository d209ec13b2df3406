"""`delever history` and the journal fields of `delever status`, through the command line, on a
journal written by the real executor over the fakes — read while its writer holds the lock."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.cli.status_cmd import activity_payload
from bot.compose.live import read_activity
from bot.engine.executor import Executor
from bot.engine.journal import Journal
from bot.engine.steps import BatchSpec
from bot.settings import load_settings
from tests.support.compose_kit import CANARY_KEY, PAP, WALLET
from tests.support.engine_kit import default_config
from tests.support.fakes import E18, Crash, FakeLending, FakeVenue, crash_at, make_world

ENV = {
    "DELEVER_WALLET__PRIVATE_KEY": CANARY_KEY,
    "DELEVER_EXCHANGE__API_KEY": "history-test-key",
    "DELEVER_EXCHANGE__API_SECRET": "history-test-secret",
}


def _config(tmp_path: Path, mode: str) -> Path:
    config = tmp_path / "c.toml"
    config.write_text(
        f'''mode = "{mode}"
[chain]
rpc_url = "http://127.0.0.1:9"
chain_id = 31337
pool_addresses_provider = "{PAP}"
[wallet]
key_source = "env"
[exchange]
withdrawal_allowlist = ["{WALLET}"]
[journal]
path = "{tmp_path / "j.sqlite"}"
'''
    )
    return config


def _batches(path: Path, *, crash_last_at: str | None = None, count: int = 1) -> None:
    """``count`` 5-WETH batches journalled at ``path``; the last one stopped at ``crash_last_at``."""
    world = make_world()
    lending, venue = FakeLending(world), FakeVenue(world)
    with Journal(path, clock=world.clock) as journal:
        for n in range(count):
            crash = crash_at(crash_last_at) if crash_last_at and n == count - 1 else None
            executor = Executor(
                journal=journal,
                lending=lending,
                venue=venue,
                clock=world.clock,
                config=default_config(world),
                crash=crash,
            )
            try:
                executor.execute(BatchSpec(collateral="WETH", debt="USDT", withdraw_amount=5 * E18), lending.snapshot())
            except Crash:
                pass


def _history(config: Path, *args: str):
    return CliRunner().invoke(app, ["--config", str(config), "history", *args], env=ENV)


def test_history_json_is_one_object_with_legs_fills_withdrawal_and_costs(tmp_path):
    config = _config(tmp_path, "testnet")
    _batches(tmp_path / "j.sqlite", count=2)
    with Journal(tmp_path / "j.sqlite", clock=make_world().clock):  # the daemon holds the writer lock
        done = _history(config, "--json", "--limit", "1")
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert payload["journal"] == str(tmp_path / "j.sqlite") and payload["control"] == {
        "state": "NORMAL",
        "reason": None,
    }
    (batch,) = payload["batches"]  # --limit 1: the newest
    assert batch["seq"] == 2 and batch["status"] == "DONE"
    # the first batch took the book's top level: the second sells 5 ETH at 1,999
    assert (batch["withdrawn"], batch["sold"], batch["avg_price"], batch["repaid"]) == ("5", "5", "1999", "9984.005")
    assert batch["fill"]["fee_quote"] == "9.995" and batch["fill"]["order_ids"] == [f"{batch['id']}:sell#1"]
    assert batch["withdrawal"]["amount"] == "9985.005" and batch["withdrawal"]["arrived"] == "9984.005"
    assert batch["withdrawal"]["id"] == f"{batch['id']}:withdraw_quote"
    assert (batch["hf_before"][:5], batch["hf_after"][:5], batch["verified"]) == ("1.433", "1.493", True)
    assert batch["costs"] == {
        "gas_eth": "0.00015",
        "trading_fee_quote": "9.995",
        "withdrawal_fee_quote": "1",
        "deposit_fee_base": "0",
        "slippage_quote": "5",
    }
    assert [leg["status"] for leg in batch["legs"]].count("OK") == 8


def test_history_reads_the_dry_run_journal_of_a_dry_run_config(tmp_path):
    config = _config(tmp_path, "dry-run")
    _batches(tmp_path / "j.dry-run.sqlite")
    done = _history(config, "--json")
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert payload["journal"] == str(tmp_path / "j.dry-run.sqlite") and len(payload["batches"]) == 1
    assert payload["mode"] == "dry-run"
    sell = next(leg for leg in payload["batches"][0]["legs"] if leg["step"] == "sell")
    assert sell["detail"].startswith("would have sold 5 of 5 ETH at avg 2,000.00 USDT")  # a simulation says so
    assert not (tmp_path / "j.sqlite").exists()


def test_history_without_a_journal_says_where_it_looked_in_one_line_and_exits_two(tmp_path):
    done = _history(_config(tmp_path, "testnet"))
    assert done.exit_code == 2
    assert done.output.strip().splitlines() == [
        f"delever: error: no journal at {tmp_path / 'j.sqlite'} (the testnet daemon of this config writes there)"
    ]
    assert not (tmp_path / "j.sqlite").exists()  # reading made nothing


def test_history_table_and_one_batch_in_detail(tmp_path):
    config = _config(tmp_path, "testnet")
    _batches(tmp_path / "j.sqlite", count=2, crash_last_at="after_outcome:sell")
    table = _history(config)
    assert table.exit_code == 0, table.output
    assert "WETH out" in table.stdout
    rows = [line for line in table.stdout.splitlines() if line.startswith("│ ")]
    assert "DONE" in rows[0] and "$2,000.00" in rows[0] and "1.383→1.433" in rows[0]
    assert "OPEN" in rows[1] and "$1,999.00" in rows[1] and "1.433→—" in rows[1] and "at withdraw_quote" in rows[1]
    detail = _history(config, "--batch", "2")
    assert detail.exit_code == 0, detail.output
    assert "sold 5 of 5 ETH at avg 1,999.00 USDT" in detail.stdout
    assert "OPEN" in detail.stdout and "so far, at withdraw_quote" in detail.stdout
    assert "costs: gas 0.0001 ETH · trading fee 9.995" in detail.stdout
    missing = _history(config, "--batch", "9")
    assert missing.exit_code == 2 and "no batch '9'" in missing.output


def test_status_fields_name_the_open_batch_its_leg_and_the_funds_in_transit(tmp_path):
    settings = load_settings(_config(tmp_path, "testnet"), env=ENV)
    assert activity_payload(read_activity(settings)) == {"journal": None, "batch_in_progress": None, "in_transit": []}
    _batches(tmp_path / "j.sqlite", count=2, crash_last_at="after_outcome:withdraw_quote")
    with Journal(tmp_path / "j.sqlite", clock=make_world().clock) as writer:  # the daemon runs
        (open_batch,) = writer.open_batches()
        since = writer.steps(open_batch.id)[-1].updated_at
        payload = activity_payload(read_activity(settings))
    assert payload["journal"] == {"path": str(tmp_path / "j.sqlite"), "control": "NORMAL", "reason": None}
    assert payload["batch_in_progress"] == {
        "batch_id": open_batch.id,
        "seq": 2,
        "step": "await_quote",
        "doing": "batch 2: waiting for USDT on chain",
        "since": since,
    }
    assert payload["in_transit"] == [
        {"asset": "USDT", "amount": "9985.005", "where": "withdrawn from the exchange, not yet on chain"}
    ]


def test_status_prints_the_batch_in_progress_and_the_funds_in_transit(tmp_path, capsys):
    from bot.cli.status_cmd import _render, status_payload
    from bot.engine.history import when

    settings = load_settings(_config(tmp_path, "testnet"), env=ENV)
    world = make_world()
    idle = status_payload(FakeLending(world).snapshot())
    idle.update(activity_payload(read_activity(settings)))
    _render(idle)
    assert "Daemon: no journal yet (no batch has run)" in capsys.readouterr().out
    _batches(tmp_path / "j.sqlite", count=1, crash_last_at="after_outcome:await_deposit")
    payload = status_payload(FakeLending(world).snapshot())
    payload.update(activity_payload(read_activity(settings)))
    _render(payload)
    out = " ".join(capsys.readouterr().out.split())  # the console wraps at its width
    since = when(payload["batch_in_progress"]["since"])
    batch_id = payload["batch_in_progress"]["batch_id"]
    assert f"Daemon: batch {batch_id} in progress: batch 1: selling ETH (IOC, slippage-capped) since {since} UTC" in out
    assert "in transit: 5 ETH on the exchange, not yet sold" in out

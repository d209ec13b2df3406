"""``bot.compose.daemon``: the daemon factory, notifications, metrics and the canary-secret sweep."""

from __future__ import annotations

import json
import logging
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from bot.clock import ManualClock
from bot.compose.adapters import AdapterUnavailable, make_real_adapters
from bot.compose.daemon import apply_gas_urgency, build_runtime, clear_halt, secret_values
from bot.engine.journal import BatchStatus, ControlState, Journal, JournalLocked, StepStatus
from bot.engine.metrics import Metrics
from bot.engine.notify import Notifier, NotifyConfig, Observers
from bot.errors import UserInputError
from tests.support.compose_kit import (
    CANARIES,
    CANARY_API_SECRET,
    CANARY_KEY,
    CANARY_PASSWORD,
    CANARY_TG_TOKEN,
    WALLET,
    fake_adapters,
    settings,
)
from tests.support.fakes import E18, make_world
from tests.support.settings_support import write_keystore


class _Inbox(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []
    fail = False

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.path, body))
        self.send_response(500 if type(self).fail else 200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        return None


@pytest.fixture
def inbox():
    _Inbox.received, _Inbox.fail = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Inbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Inbox
    server.shutdown()
    server.server_close()


def _settings(tmp_path, *, mode="testnet", chain_id=31337, webhook=None, tg_api=None, keystore=False):
    notify = {}
    if webhook:
        notify["webhook_url"] = webhook
    if tg_api:
        notify.update(telegram_api_url=tg_api, telegram_token=CANARY_TG_TOKEN, telegram_chat_id="42")
    wallet = None
    if keystore:  # the key stays in the file; the password is the secret the settings hold
        path = write_keystore(tmp_path / "keystore.json", CANARY_KEY, CANARY_PASSWORD)
        wallet = {
            "key_source": "keystore",
            "address": WALLET,
            "keystore_path": path,
            "keystore_password": CANARY_PASSWORD,
        }
    return settings(tmp_path, mode=mode, chain_id=chain_id, wallet=wallet, notify=notify)


def test_runtime_with_an_unreachable_rpc_says_so_without_the_url(tmp_path):
    with pytest.raises(AdapterUnavailable, match="does not answer") as info:
        make_real_adapters(_settings(tmp_path))
    assert "127.0.0.1" not in str(info.value)


def test_runtime_testnet_on_chain_id_one_is_refused_by_the_schema(tmp_path):
    with pytest.raises(ValidationError, match="testnet chain id"):
        _settings(tmp_path, chain_id=1)


def test_runtime_refuses_a_mode_violation_before_building_adapters(tmp_path):
    world = make_world()
    make = fake_adapters(world, chain_id=1)
    with pytest.raises(UserInputError, match="--live"):
        build_runtime(_settings(tmp_path, mode="live", chain_id=1), live_flag=False, clock=world.clock, adapters=make)
    assert make.calls == [] and not (tmp_path / "journal.sqlite").exists()


def test_runtime_testnet_refuses_an_rpc_on_mainnet(tmp_path):
    world = make_world()
    with pytest.raises(UserInputError, match="RPC serves chain id 1"):
        build_runtime(
            _settings(tmp_path), live_flag=False, clock=world.clock, adapters=fake_adapters(world, chain_id=1)
        )


def test_runtime_live_refuses_without_the_flag_and_without_the_config(tmp_path):
    world = make_world()
    with pytest.raises(UserInputError, match="--live"):
        build_runtime(
            _settings(tmp_path, mode="live", chain_id=1),
            live_flag=False,
            clock=world.clock,
            adapters=fake_adapters(world, chain_id=1),
        )
    with pytest.raises(UserInputError, match='mode = "live"'):
        build_runtime(_settings(tmp_path), live_flag=True, clock=world.clock, adapters=fake_adapters(world))


def test_runtime_live_refuses_another_pool_addresses_provider(tmp_path):
    world = make_world()
    with pytest.raises(UserInputError, match="PoolAddressesProvider"):
        build_runtime(
            _settings(tmp_path, mode="live", chain_id=1),
            live_flag=True,
            clock=world.clock,
            adapters=fake_adapters(world, chain_id=1, provider="0x" + "9" * 40),
        )


def test_runtime_second_daemon_on_the_same_journal_is_refused(tmp_path):
    world = make_world()
    first = build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=fake_adapters(world))
    try:
        with pytest.raises(JournalLocked):
            build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=fake_adapters(world))
    finally:
        first.journal.close()


def test_runtime_second_daemon_is_refused_before_its_adapters_are_built(tmp_path):
    world = make_world()
    first = build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=fake_adapters(world))
    make = fake_adapters(world)
    try:
        with pytest.raises(JournalLocked):
            build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=make)
        assert make.calls == []
    finally:
        first.journal.close()


def test_runtime_dry_run_keeps_its_own_journal(tmp_path):
    world = make_world()
    runtime = build_runtime(
        _settings(tmp_path, mode="dry-run"), live_flag=False, clock=world.clock, adapters=fake_adapters(world)
    )
    assert runtime.journal.path.name == "journal.dry-run.sqlite"
    runtime.journal.close()


def test_runtime_dry_run_once_simulates_and_signs_nothing(tmp_path):
    world = make_world(debt_usdt=130_000)  # HF ≈ 1.277 < trigger 1.4
    runtime = build_runtime(
        _settings(tmp_path, mode="dry-run", chain_id=1),
        live_flag=False,
        clock=world.clock,
        adapters=fake_adapters(world, chain_id=1),
    )
    journal_path = runtime.journal.path
    assert runtime.run(once=True) == 0
    assert world.txs == [] and world.orders == [] and world.withdrawals == []
    with Journal(journal_path, clock=world.clock) as journal:
        (batch,) = journal.batches()
        assert batch.status is BatchStatus.DONE
        assert journal.step(batch.id, "sell").status is StepStatus.OK


def test_runtime_testnet_once_deleverages_on_the_fakes(tmp_path):
    world = make_world(debt_usdt=130_000)
    runtime = build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=fake_adapters(world))
    assert runtime.run(once=True) == 0
    assert len(world.orders) == 1 and world.reserve("WETH").collateral < 100 * E18


def test_notify_webhook_and_telegram_receive_batches_and_alerts(inbox):
    url, server = inbox
    notifier = Notifier(
        NotifyConfig(
            webhook_urls=(f"{url}/hook",), telegram_api_url=url, telegram_token=CANARY_TG_TOKEN, telegram_chat_id="42"
        )
    )
    notifier.batch_done(batch_id="t-1", status=BatchStatus.DONE, accounting={"sold_filled": "1.5", "steps": {}})
    notifier.alert("critical", "halted: review")
    notifier.flush()
    paths = [p for p, _ in server.received]
    assert paths.count("/hook") == 2 and paths.count(f"/bot{CANARY_TG_TOKEN}/sendMessage") == 2
    hook = [b for p, b in server.received if p == "/hook"]
    assert hook[0]["kind"] == "batch" and hook[0]["sold_filled"] == "1.5" and hook[1]["level"] == "critical"
    tg = [b for p, b in server.received if p != "/hook"]
    assert tg[0]["chat_id"] == "42" and "halted" in tg[1]["text"]


def test_notify_failures_never_stop_anything(inbox, caplog):
    url, server = inbox
    server.fail = True
    notifier = Notifier(NotifyConfig(webhook_urls=(f"{url}/hook", "http://127.0.0.1:9/closed"), timeout_s=0.5))
    notifier.alert("critical", "x")
    notifier.flush()
    assert notifier.failed == 2 and notifier.sent == 0


def test_notify_observers_swallow_a_broken_observer():
    class Broken(Metrics):
        def alert(self, level, message):
            raise RuntimeError("boom")

    Observers(Broken()).alert("critical", "still fine")


def test_metrics_count_batches_steps_and_hf():
    m = Metrics()
    m.observe_hf(Decimal("1.25"))
    m.step_done(batch_id="b", step="sell", status=StepStatus.OK, seconds=0.2)
    m.batch_done(
        batch_id="b",
        status=BatchStatus.DONE,
        accounting={"sold_filled": "2", "gross_quote": "4000", "repay_requested_units": ["3990000000"]},
    )
    m.alert("warning", "x")
    text = m.text()
    assert "delever_health_factor 1.25" in text
    assert 'delever_batches_total{status="DONE"} 1.0' in text
    assert "delever_sold_base_total 2.0" in text and 'delever_step_seconds_count{step="sell"} 1.0' in text
    assert 'delever_errors_total{level="warning"} 1.0' in text


def test_canary_secrets_appear_in_no_journal_row_log_metric_or_notification(tmp_path, inbox, caplog):
    url, server = inbox
    caplog.set_level(logging.DEBUG)
    world = make_world(debt_usdt=130_000)
    # failure paths too: a lost response, a rate limit, a rejected first withdrawal to the exchange
    world.fault("sell", "lost")
    world.fault("venue_withdraw", "rate")
    config = _settings(tmp_path, webhook=f"{url}/hook", tg_api=url, keystore=True)
    assert CANARY_PASSWORD in secret_values(config)
    runtime = build_runtime(config, live_flag=False, clock=world.clock, adapters=fake_adapters(world))
    runtime.controller.observer.alert("warning", f"an adapter leaked {CANARY_API_SECRET} into a message")
    journal_dump = lambda: runtime.journal.dump_text()  # noqa: E731
    texts = []
    runtime.controller.run(max_ticks=3)
    texts.append(journal_dump())
    texts.append(runtime.metrics.text())
    runtime.notifier.flush()
    texts += [json.dumps(b) for _, b in server.received]
    texts += [r.getMessage() for r in caplog.records]
    texts.append(repr(runtime.executor.config))
    runtime.journal.close()
    assert len(world.orders) >= 1 and server.received
    blob = "\n".join(texts)
    for canary in CANARIES:
        assert canary not in blob, canary
    assert "***" in blob  # the leaked one was masked before it left the process


def test_runtime_builds_from_the_real_settings_and_masks_their_secrets(tmp_path, inbox, caplog):
    url, server = inbox
    caplog.set_level(logging.DEBUG)
    world = make_world(debt_usdt=130_000)
    config = settings(
        tmp_path,
        notify={"webhook_url": f"{url}/hook"},
        limits={"hf_floor": "1.10", "max_slippage_bps": 100, "cooldown_s": 0, "min_batch_usd": 100},
    )
    runtime = build_runtime(config, live_flag=False, clock=world.clock, adapters=fake_adapters(world))
    assert runtime.kill_switch.path == tmp_path / "STOP"
    runtime.controller.observer.alert("warning", f"leak {CANARY_KEY} {CANARY_API_SECRET}")
    assert runtime.run(once=True) == 0
    assert len(world.orders) == 1
    blob = "\n".join([json.dumps(b) for _, b in server.received] + [r.getMessage() for r in caplog.records])
    with Journal(tmp_path / "journal.sqlite", clock=world.clock) as journal:
        blob += journal.dump_text()
    for canary in (CANARY_KEY, CANARY_API_SECRET, CANARY_KEY[2:]):
        assert canary not in blob
    assert any(b.get("kind") == "batch" for _, b in server.received)


def test_runtime_gas_urgency_follows_the_distance_to_the_floor():
    from dataclasses import dataclass

    from bot.engine.gas_policy import GasPolicy

    @dataclass(frozen=True)
    class SenderConfig:
        urgency: Decimal = Decimal(1)

    sender = SimpleNamespace(config=SenderConfig())
    lending = SimpleNamespace(sender=sender)
    assert apply_gas_urgency(lending, hf=Decimal("2"), hf_floor=Decimal("1.1")) == GasPolicy().base_multiplier
    assert apply_gas_urgency(lending, hf=Decimal("1.1"), hf_floor=Decimal("1.1")) == GasPolicy().max_multiplier
    assert sender.config.urgency == GasPolicy().max_multiplier
    assert apply_gas_urgency(SimpleNamespace(), hf=Decimal("1"), hf_floor=Decimal("1.1")) is None


# ---- run --clear-halt: the journal the daemon of the same config uses -------------------------------


def _halt(path, *, mode, chain_id):
    with Journal(path, clock=ManualClock()) as journal:
        journal.bind(mode=mode, chain_id=chain_id)
        batch = journal.open_batch(spec={}, start={})
        journal.write_intent(batch, "sell", key=f"{batch}:sell", intent={})
        journal.write_outcome(batch, "sell", StepStatus.NEEDS_REVIEW, error="order not found")
        journal.set_control(ControlState.HALTED, "sell unknown")
    return batch


def test_clear_halt_opens_the_dry_run_journal_of_a_dry_run_config(tmp_path):
    batch = _halt(tmp_path / "journal.dry-run.sqlite", mode="dry-run", chain_id=1)
    _halt(tmp_path / "journal.sqlite", mode="live", chain_id=1)
    was, marked = clear_halt(_settings(tmp_path, mode="dry-run", chain_id=1), clock=ManualClock())
    assert (was, marked) == ("HALTED (sell unknown)", [f"{batch}:sell"])
    with Journal(tmp_path / "journal.sqlite", clock=ManualClock()) as live:
        assert live.control() == (ControlState.HALTED, "sell unknown")


def test_clear_halt_opens_the_configured_journal_of_a_signing_config(tmp_path):
    _halt(tmp_path / "journal.sqlite", mode="testnet", chain_id=31337)
    was, marked = clear_halt(_settings(tmp_path), clock=ManualClock())
    assert was == "HALTED (sell unknown)" and len(marked) == 1
    with Journal(tmp_path / "journal.sqlite", clock=ManualClock()) as journal:
        assert journal.control() == (ControlState.NORMAL, None)


@pytest.mark.parametrize(
    ("mode", "chain_id", "refusal"),
    [
        ("live", 31337, "belongs to mode live, not testnet"),
        ("testnet", 11155111, "belongs to chain_id 11155111, not 31337"),
    ],
)
def test_clear_halt_refuses_a_journal_of_another_mode_or_chain(tmp_path, mode, chain_id, refusal):
    _halt(tmp_path / "journal.sqlite", mode=mode, chain_id=chain_id)
    with pytest.raises(UserInputError, match=refusal):
        clear_halt(_settings(tmp_path), clock=ManualClock())
    with Journal(tmp_path / "journal.sqlite", clock=ManualClock()) as journal:
        assert journal.control()[0] is ControlState.HALTED


def test_clear_halt_without_the_daemons_journal_says_where_it_looked(tmp_path):
    _halt(tmp_path / "journal.sqlite", mode="testnet", chain_id=1)  # a signing run's, not the dry-run's
    with pytest.raises(UserInputError, match=r"no journal at .*journal\.dry-run\.sqlite"):
        clear_halt(_settings(tmp_path, mode="dry-run", chain_id=1), clock=ManualClock())


def test_clear_halt_while_the_daemon_runs_is_refused(tmp_path):
    world = make_world()
    runtime = build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=fake_adapters(world))
    try:
        with pytest.raises(JournalLocked, match="stop the daemon first"):
            clear_halt(_settings(tmp_path), clock=ManualClock())
    finally:
        runtime.journal.close()

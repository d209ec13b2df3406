"""The runtime factory, notifications, metrics and the canary-secret sweep."""

from __future__ import annotations

import json
import logging
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from bot.engine.journal import BatchStatus, JournalLocked, StepStatus
from bot.engine.metrics import Metrics
from bot.engine.notify import Notifier, NotifyConfig, Observers
from bot.engine.runtime import AdapterUnavailable, RealAdapters, build_runtime, make_real_adapters
from bot.errors import UserInputError
from tests.support.fakes import E18, FakeLending, FakeVenue, make_world

CANARY_KEY = "0x" + "c4" * 32
CANARY_PASSWORD = "canary-keystore-pw-7731"
CANARY_API_SECRET = "canary-api-secret-55aa"
CANARY_TG_TOKEN = "123456:canary-telegram-token"
CANARIES = (CANARY_KEY, CANARY_PASSWORD, CANARY_API_SECRET, CANARY_TG_TOKEN, "c4c4c4c4c4c4c4c4")
PAP = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"


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


def _settings(tmp_path, *, mode="testnet", chain_id=31337, webhook=None, tg_api=None, world=None):
    wallet = (world.wallet_address if world else "0x00000000000000000000000000000000000000a1")
    return SimpleNamespace(
        mode=mode,
        chain=SimpleNamespace(chain_id=chain_id, pool_addresses_provider=PAP, poll_interval_s=12.0, rpc_url="http://127.0.0.1:1"),
        wallet=SimpleNamespace(address=wallet, private_key=SecretStr(CANARY_KEY), keystore_password=SecretStr(CANARY_PASSWORD)),
        exchange=SimpleNamespace(symbol="ETH/USDT", deposit_network="ETH", withdrawal_allowlist=(wallet,),
                                 api_key=SecretStr("canary-api-key-1"), api_secret=SecretStr(CANARY_API_SECRET)),
        policy=SimpleNamespace(name="threshold", params={"trigger_hf": "1.4", "target_hf": "1.5"}),
        limits=SimpleNamespace(max_slippage_bps=100, hf_floor=Decimal("1.10"), price_shock_bps=500, max_batch_usd=None,
                               max_daily_usd=None, min_batch_usd=Decimal("0"), cooldown_s=0.0, max_oracle_divergence_bps=300),
        journal=SimpleNamespace(path=tmp_path / "journal.sqlite"),
        metrics=SimpleNamespace(enabled=False, host="127.0.0.1", port=9108),
        notify=SimpleNamespace(webhook_url=SecretStr(webhook) if webhook else None, telegram_token=SecretStr(CANARY_TG_TOKEN) if tg_api else None,
                               telegram_chat_id="42" if tg_api else None, telegram_api_url=tg_api),
        engine=SimpleNamespace(poll_interval_s=5.0, transfer_timeout_s=3600.0),
    )


def _adapters(world, *, chain_id=31337, provider=PAP):
    calls = []

    def make(settings):
        calls.append(settings)
        return RealAdapters(FakeLending(world), FakeVenue(world), chain_id, provider)

    make.calls = calls
    return make


def test_runtime_with_an_unreachable_rpc_says_so_without_the_url(tmp_path):
    with pytest.raises(AdapterUnavailable, match="does not answer") as info:
        make_real_adapters(_settings(tmp_path))
    assert "127.0.0.1" not in str(info.value)


def test_runtime_testnet_refuses_chain_id_one_before_building_adapters(tmp_path):
    world = make_world()
    make = _adapters(world)
    with pytest.raises(UserInputError, match="chain id 1"):
        build_runtime(_settings(tmp_path, chain_id=1), live_flag=False, clock=world.clock, adapters=make)
    assert make.calls == []


def test_runtime_testnet_refuses_an_rpc_on_mainnet(tmp_path):
    world = make_world()
    with pytest.raises(UserInputError, match="RPC serves chain id 1"):
        build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=_adapters(world, chain_id=1))


def test_runtime_live_refuses_without_the_flag_and_without_the_config(tmp_path):
    world = make_world()
    with pytest.raises(UserInputError, match="--live"):
        build_runtime(_settings(tmp_path, mode="live", chain_id=1), live_flag=False, clock=world.clock,
                      adapters=_adapters(world, chain_id=1))
    with pytest.raises(UserInputError, match='mode = "live"'):
        build_runtime(_settings(tmp_path), live_flag=True, clock=world.clock, adapters=_adapters(world))


def test_runtime_live_refuses_another_pool_addresses_provider(tmp_path):
    world = make_world()
    with pytest.raises(UserInputError, match="PoolAddressesProvider"):
        build_runtime(_settings(tmp_path, mode="live", chain_id=1), live_flag=True, clock=world.clock,
                      adapters=_adapters(world, chain_id=1, provider="0x" + "9" * 40))


def test_runtime_second_daemon_on_the_same_journal_is_refused(tmp_path):
    world = make_world()
    first = build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=_adapters(world))
    try:
        with pytest.raises(JournalLocked):
            build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=_adapters(world))
    finally:
        first.journal.close()


def test_runtime_second_daemon_is_refused_before_its_adapters_are_built(tmp_path):
    world = make_world()
    first = build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=_adapters(world))
    make = _adapters(world)
    try:
        with pytest.raises(JournalLocked):
            build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=make)
        assert make.calls == []
    finally:
        first.journal.close()


def test_runtime_dry_run_keeps_its_own_journal(tmp_path):
    world = make_world()
    runtime = build_runtime(_settings(tmp_path, mode="dry-run"), live_flag=False, clock=world.clock,
                            adapters=_adapters(world))
    assert runtime.journal.path.name == "journal.dry-run.sqlite"
    runtime.journal.close()


def test_runtime_dry_run_once_simulates_and_signs_nothing(tmp_path):
    world = make_world(debt_usdt=130_000)  # HF ≈ 1.277 < trigger 1.4
    runtime = build_runtime(_settings(tmp_path, mode="dry-run", chain_id=1), live_flag=False, clock=world.clock,
                            adapters=_adapters(world, chain_id=1))
    journal_path = runtime.journal.path
    assert runtime.run(once=True) == 0
    assert world.txs == [] and world.orders == [] and world.withdrawals == []
    from bot.engine.journal import Journal
    with Journal(journal_path, clock=world.clock) as journal:
        (batch,) = journal.batches()
        assert batch.status is BatchStatus.DONE
        assert journal.step(batch.id, "sell").status is StepStatus.OK


def test_runtime_testnet_once_deleverages_on_the_fakes(tmp_path):
    world = make_world(debt_usdt=130_000)
    runtime = build_runtime(_settings(tmp_path), live_flag=False, clock=world.clock, adapters=_adapters(world))
    assert runtime.run(once=True) == 0
    assert len(world.orders) == 1 and world.reserve("WETH").collateral < 100 * E18


def test_notify_webhook_and_telegram_receive_batches_and_alerts(inbox):
    url, server = inbox
    notifier = Notifier(NotifyConfig(webhook_urls=(f"{url}/hook",), telegram_api_url=url, telegram_token=CANARY_TG_TOKEN,
                                     telegram_chat_id="42"))
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
    m.batch_done(batch_id="b", status=BatchStatus.DONE, accounting={"sold_filled": "2", "gross_quote": "4000", "repay_requested_units": ["3990000000"]})
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
    settings = _settings(tmp_path, webhook=f"{url}/hook", tg_api=url, world=world)
    runtime = build_runtime(settings, live_flag=False, clock=world.clock, adapters=_adapters(world))
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
    from bot.settings import Settings

    url, server = inbox
    caplog.set_level(logging.DEBUG)
    world = make_world(debt_usdt=130_000)
    from eth_account import Account

    wallet = Account.from_key(CANARY_KEY).address
    world.wallet_address = wallet
    settings = Settings(
        mode="testnet",
        chain={"rpc_url": "http://127.0.0.1:8545", "chain_id": 31337, "pool_addresses_provider": PAP, "poll_interval_s": 1},
        wallet={"address": wallet, "key_source": "env", "private_key": CANARY_KEY},
        exchange={"symbol": "ETH/USDT", "deposit_network": "ERC20", "withdrawal_allowlist": [wallet],
                  "api_key": "canary-api-key-1", "api_secret": CANARY_API_SECRET},
        policy={"name": "threshold", "params": {"trigger_hf": 1.4, "target_hf": 1.5}},
        limits={"hf_floor": "1.10", "max_slippage_bps": 100, "cooldown_s": 0, "min_batch_usd": 100},
        journal={"path": str(tmp_path / "journal.sqlite")},
        notify={"webhook_url": f"{url}/hook"},
    )
    runtime = build_runtime(settings, live_flag=False, clock=world.clock, adapters=_adapters(world))
    assert runtime.kill_switch.path == tmp_path / "STOP"
    runtime.controller.observer.alert("warning", f"leak {CANARY_KEY} {CANARY_API_SECRET}")
    assert runtime.run(once=True) == 0
    assert len(world.orders) == 1
    blob = "\n".join([json.dumps(b) for _, b in server.received] + [r.getMessage() for r in caplog.records])
    from bot.engine.journal import Journal
    with Journal(tmp_path / "journal.sqlite", clock=world.clock) as journal:
        blob += journal.dump_text()
    for canary in (CANARY_KEY, CANARY_API_SECRET, CANARY_KEY[2:]):
        assert canary not in blob
    assert any(b.get("kind") == "batch" for _, b in server.received)


def test_runtime_gas_urgency_follows_the_distance_to_the_floor():
    from dataclasses import dataclass

    from bot.engine.gas_policy import GasPolicy
    from bot.engine.runtime import apply_gas_urgency

    @dataclass(frozen=True)
    class SenderConfig:
        urgency: Decimal = Decimal(1)

    sender = SimpleNamespace(config=SenderConfig())
    lending = SimpleNamespace(sender=sender)
    assert apply_gas_urgency(lending, hf=Decimal("2"), hf_floor=Decimal("1.1")) == GasPolicy().base_multiplier
    assert apply_gas_urgency(lending, hf=Decimal("1.1"), hf_floor=Decimal("1.1")) == GasPolicy().max_multiplier
    assert sender.config.urgency == GasPolicy().max_multiplier
    assert apply_gas_urgency(SimpleNamespace(), hf=Decimal("1"), hf_floor=Decimal("1.1")) is None

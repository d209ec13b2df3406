"""The console's JSON API over a real journal and a recording source: what each endpoint
answers, the controls' token, CSRF and Host checks, the CSV export and the event stream."""

from __future__ import annotations

import csv
import io
import json

import pytest
from starlette.testclient import TestClient

from bot.console.app import TOKEN_HEADER, build_app, plotly_js
from bot.engine.journal import Journal
from bot.engine.steps import BatchSpec
from bot.engine.steps.sequence import STEP_NAMES
from tests.support.console_kit import RecordingControls, fake_source, journal_with_batch

TOKEN = "console-token-0123456789abcdef"
JSON = {"Content-Type": "application/json"}


def _client(source, *, token=TOKEN, hosts=("testserver",)):
    return TestClient(build_app(source, token=token, allowed_hosts=list(hosts), journal_poll_s=0.01))


@pytest.fixture
def journal(tmp_path):
    return journal_with_batch(tmp_path)


def test_batches_are_the_history_objects_of_the_journal(journal):
    path, _ = journal
    body = _client(fake_source(path, RecordingControls())).get("/api/batches").json()
    (batch,) = body["batches"]
    assert (batch["seq"], batch["status"], batch["withdrawn"], batch["sold"]) == (1, "DONE", "10", "10")
    assert [leg["step"] for leg in batch["legs"]][:2] == ["repay_idle", "withdraw"]
    assert batch["steps"] == list(STEP_NAMES)
    assert body["control"] == {"state": "NORMAL", "reason": None}


def test_a_dex_batch_lists_its_own_steps(journal):
    path, world = journal
    with Journal(path, clock=world.clock) as j:
        (done,) = j.batches()
        spec = BatchSpec("WETH", "USDT", 10**18, route="dex", dex_repay_units=10**6, dex_pool_fee=500)
        j.open_batch(spec=spec.to_payload(), start=done.start)
    body = _client(fake_source(path, RecordingControls())).get("/api/batches").json()
    assert [b["steps"] for b in body["batches"]] == [list(STEP_NAMES), ["atomic_deleverage", "verify"]]


def test_batches_export_as_csv_one_row_per_batch(journal):
    path, _ = journal
    response = _client(fake_source(path, RecordingControls())).get("/api/batches.csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert response.headers["content-type"].startswith("text/csv")
    assert [(r["seq"], r["status"], r["withdrawn"], r["sold"]) for r in rows] == [("1", "DONE", "10", "10")]


def test_events_page_by_cursor_and_flag_alerts(tmp_path):
    path, _ = journal_with_batch(tmp_path, halted=True)
    client = _client(fake_source(path, RecordingControls()))
    first = client.get("/api/events").json()
    assert first["next"] == len(first["events"]) > 5
    assert [e["kind"] for e in first["events"] if e["alert"]] == ["control:HALTED"]
    assert client.get(f"/api/events?after={first['next']}").json() == {"events": [], "next": first["next"]}
    later = client.get("/api/events?after=3").json()
    assert [e["id"] for e in later["events"]] == list(range(4, first["next"] + 1)) and later["next"] == first["next"]


def test_limits_show_the_hf_lines_and_the_days_sales_against_the_limit(journal):
    path, world = journal
    body = _client(fake_source(path, RecordingControls(), now=world.clock.now())).get("/api/limits").json()
    assert (body["hf_trigger"], body["hf_target"], body["hf_floor"]) == ("1.3", "1.6", "1.05")
    sold = float(body["sold_today_usd"])
    assert sold > 0 and float(body["daily_remaining_usd"]) == pytest.approx(1_000_000 - sold)
    assert body["controls"] is True and body["steps"][-1] == "verify"


def test_no_journal_yet_reads_as_empty(tmp_path):
    client = _client(fake_source(tmp_path / "none.sqlite", RecordingControls()))
    assert client.get("/api/batches").json() == {"journal": None, "control": None, "batches": []}
    assert client.get("/api/events").json() == {"events": [], "next": 0}


def test_status_and_plan_are_the_sources_objects(journal):
    path, _ = journal
    client = _client(fake_source(path, RecordingControls(), plan={"status": "PLANNED", "batches": [{"index": 1}]}))
    assert client.get("/api/status").json()["health_factor"] == "1.2345678"
    assert client.get("/api/plan").json() == {"status": "PLANNED", "batches": [{"index": 1}]}


def test_stop_needs_the_token(journal):
    path, _ = journal
    controls = RecordingControls()
    client = _client(fake_source(path, controls))
    assert client.post("/api/stop", headers=JSON, content="{}").status_code == 401
    assert client.post("/api/stop", headers={**JSON, TOKEN_HEADER: "wrong" * 8}, content="{}").status_code == 401
    assert controls.stops == 0
    ok = client.post("/api/stop", headers={**JSON, TOKEN_HEADER: TOKEN}, content="{}")
    assert (ok.status_code, ok.json()["ok"], controls.stops) == (200, True, 1)


def test_controls_are_off_without_a_configured_token(journal):
    path, _ = journal
    controls = RecordingControls()
    client = _client(fake_source(path, controls), token=None)
    refused = client.post("/api/stop", headers={**JSON, TOKEN_HEADER: TOKEN}, content="{}")
    assert refused.status_code == 403 and "read-only" in refused.json()["error"]
    assert client.get("/api/limits").json()["controls"] is False and controls.stops == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ],
)
def test_cross_site_control_requests_are_refused_even_with_the_token(journal, headers):
    path, _ = journal
    controls = RecordingControls()
    response = _client(fake_source(path, controls)).post("/api/stop", headers={**headers, TOKEN_HEADER: TOKEN})
    assert response.status_code == 403 and controls.stops == 0


def test_clear_halt_refused_while_the_daemon_holds_the_journal_is_a_409(journal):
    path, _ = journal
    controls = RecordingControls(refuse_clear=True)
    response = _client(fake_source(path, controls)).post(
        "/api/clear-halt", headers={**JSON, TOKEN_HEADER: TOKEN}, content="{}"
    )
    assert response.status_code == 409 and "stop it" in response.json()["error"]


def test_a_foreign_host_header_is_refused(journal):
    path, _ = journal
    client = _client(fake_source(path, RecordingControls()), hosts=("127.0.0.1",))
    assert client.get("/api/batches", headers={"Host": "rebind.example"}).status_code == 400


def test_page_and_plotly_are_served_locally_with_a_strict_policy(journal):
    path, _ = journal
    client = _client(fake_source(path, RecordingControls()))
    page = client.get("/")
    assert 'src="/static/plotly.min.js"' in page.text and "https://" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) == plotly_js().stat().st_size > 1_000_000
    assert client.get("/static/../app.py").status_code == 404


def test_the_stream_sends_the_journal_then_the_status(journal):
    path, _ = journal
    client = _client(fake_source(path, RecordingControls()))
    events = []
    with client.stream("GET", "/api/stream") as response:
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
            if len(events) == 2:
                break
    (journal_kind, update), (status_kind, status) = events
    assert (journal_kind, status_kind) == ("journal", "status")
    assert update["batches"][0]["status"] == "DONE" and update["next"] == len(update["events"])
    assert update["limits"]["controls"] is True and update["limits"]["hf_floor"] == "1.05"
    assert status["health_factor"] == "1.2345678"

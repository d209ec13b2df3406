"""The console in a real browser (Playwright driving the system's Chromium; nothing downloaded)
against a live devnet daemon serving it (`delever run --console`): the page's HF is `status
--json`'s to 4 decimals; through an unwind the batch timeline advances through every leg without
a reload (a screenshot is saved in reports/console/); no secret reaches a page or an answer;
"stop" without the token is refused and with it stops the daemon after its current step.
First paint, first data and journal-write-to-page latency are printed as one JSON line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.engine.journal import StepStatus
from tests.support.devnet import CONFIG
from tests.support.unwind_harness import Devnet, delever

# Not slow: `make test` runs them where a browser is installed and names what is missing where not.
pytestmark = [pytest.mark.e2e, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("DELEVER_CHROMIUM", "/usr/bin/chromium"))
ARTEFACTS = ROOT / "reports" / "console"
TOKEN = "console-e2e-token-" + "7e" * 8
LEGS = ("withdraw", "unwrap", "deposit", "await_deposit", "sell", "withdraw_quote", "await_quote", "repay", "verify")
TIMELINE = "() => Array.from(document.querySelectorAll('#timeline li')).map(li => [li.dataset.step, li.className])"


def _need_browser() -> None:
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("browser tests skipped: the playwright package is missing (make install)")
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium; CI's .ci/run does)")


@dataclass
class Console:
    devnet: Devnet
    page: Any
    url: str
    timings: dict[str, float]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[Console]:
    _need_browser()
    from playwright.sync_api import sync_playwright

    devnet = Devnet.up(tmp_path_factory.mktemp("console"))
    try:
        port = _free_port()
        env = {"DELEVER_CONSOLE__TOKEN": TOKEN, "DELEVER_CONSOLE__PORT": str(port)}
        devnet.start_daemon(args=("--console",), env={**env, "DELEVER_ENGINE__HOLD_TO_TARGET": "true"})
        url = f"http://127.0.0.1:{port}/"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox"] if os.geteuid() == 0 else []
            )
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_function("() => !!document.getElementById('hf-value').dataset.hf", timeout=60_000)
            paint = page.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0].startTime")
            timings = {"first_contentful_paint_ms": paint, "first_data_ms": page.evaluate("() => delever.firstDataMs")}
            page.evaluate("() => { window.samePage = true; }")
            try:
                yield Console(devnet, page, url, timings)
            finally:
                browser.close()
    finally:
        devnet.down()


def _hf4(value: str) -> str:
    return str(Decimal(value).quantize(Decimal("0.0001")))


def test_page_shows_the_hf_of_status_json_to_4_decimals(console):
    for _ in range(3):  # HF accrues interest per block: compare at one block
        done = delever(console.devnet.tmp, "--config", str(CONFIG), "status", "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        status = json.loads(done.stdout)
        console.page.wait_for_function(
            f"() => Number(document.getElementById('block').textContent.split(' ')[1]) >= {status['block']}",
            timeout=30_000,
        )
        shown = console.page.locator("#hf-value").text_content()
        if shown == _hf4(status["health_factor"]):
            break
    assert shown == _hf4(status["health_factor"])
    assert console.page.locator("#hf-value").get_attribute("data-hf")[:6] == status["health_factor"][:6]


def test_timeline_advances_through_every_leg_without_a_reload(console):
    page = console.page
    console.devnet.crash_to(Decimal("1.25"))
    seen: list[tuple[tuple[str, str], ...]] = []
    shot = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        title = page.locator("#batch-title").text_content() or ""
        if title.startswith("#1 "):
            legs = tuple(tuple(leg) for leg in page.evaluate(TIMELINE))
            if not seen or seen[-1] != legs:
                seen.append(legs)
            done = {step for step, state in legs if state == "OK"}
            if shot is None and {"sell", "deposit"} <= done and "repay" not in done:
                ARTEFACTS.mkdir(parents=True, exist_ok=True)
                shot = ARTEFACTS / "console-unwind.png"
                page.screenshot(path=str(shot), full_page=True)
            if "DONE" in title:
                break
        time.sleep(0.1)
    assert seen, "the page never showed batch #1"
    ok_at_some_point = {step for legs in seen for step, state in legs if state == "OK"}
    assert set(LEGS) <= ok_at_some_point, seen[-1]
    # It advanced leg by leg: the page showed batch #1 in many states, each with more legs done.
    counts = [sum(state == "OK" for _, state in legs) for legs in seen]
    assert len(set(counts)) >= 5 and counts == sorted(counts), counts
    assert page.evaluate("() => window.samePage") is True  # no reload
    assert shot is not None and shot.stat().st_size > 50_000
    latencies = page.evaluate("() => delever.latencies")
    console.timings.update(
        journal_to_page_median_ms=round(statistics.median(latencies) * 1000, 1),
        journal_to_page_max_ms=round(max(latencies) * 1000, 1),
        journal_updates=len(latencies),
    )
    print(json.dumps({"console_timings": console.timings}))


def test_no_secret_in_the_page_or_any_answer(console):
    state = console.devnet.state
    secrets = [TOKEN, state["api_secret"], state["api_key"]]
    key = state.get("wallet_private_key") or state.get("private_key")
    secrets += [key, key.removeprefix("0x")] if key else []
    request = console.page.request
    bodies = [console.page.content()]
    for path in ("api/status", "api/plan", "api/batches", "api/batches.csv", "api/events", "api/limits"):
        bodies.append(request.get(console.url + path).text())
    for secret in secrets:
        assert all(secret not in body for body in bodies), secret[:10]
    assert '"batches":[{' in bodies[3]


def test_stop_is_refused_without_the_token_then_stops_the_daemon_after_its_step(console):
    page, daemon = console.page, console.devnet.daemon
    page.fill("#token", "")
    page.click("#stop")
    page.wait_for_function("() => document.getElementById('control-result').textContent.startsWith('refused')")
    time.sleep(2)
    assert daemon.poll() is None, "stopped without the token"
    page.fill("#token", TOKEN)
    page.click("#stop")
    page.wait_for_function("() => document.getElementById('control-result').textContent.includes('stops after')")
    assert daemon.wait(timeout=90) == 0
    assert "stopping: console: stop after the current step" in console.devnet.log()
    _, steps = console.devnet.journal()
    # Nothing was cut mid-write: no step left UNKNOWN (an open batch resumes on the next start).
    assert all(row.status is not StepStatus.UNKNOWN for rows in steps.values() for row in rows)

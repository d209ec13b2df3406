"""A canary secret in every secret setting (wallet key, exchange key and secret, Telegram token,
webhook URL, the console token itself) appears in no page, API answer, CSV or streamed event of
the console the composition root builds — also when a read fails and its error is shown."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from bot.compose.console import console_server
from bot.console.app import TOKEN_HEADER
from bot.redact import clear_secrets
from bot.settings import ConsoleConfig
from tests.support import compose_kit
from tests.support.console_kit import journal_with_batch

CONSOLE_TOKEN = "canary-console-token-5f5f5f5f"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/canarywebhooksecret77"
CANARIES = (*compose_kit.CANARIES, compose_kit.CANARY_API_KEY, CONSOLE_TOKEN, "canarywebhooksecret77")


@pytest.fixture
def client(tmp_path):
    journal_with_batch(tmp_path, halted=True)
    settings = compose_kit.settings(
        tmp_path,
        notify={"telegram_token": compose_kit.CANARY_TG_TOKEN, "telegram_chat_id": "42", "webhook_url": WEBHOOK},
        console={"token": CONSOLE_TOKEN},
    )
    server = console_server(settings, section=ConsoleConfig(token=CONSOLE_TOKEN), port=0)
    try:
        yield TestClient(server._server.config.app, base_url="http://127.0.0.1")
    finally:
        server.stop()
        clear_secrets()


def test_no_canary_in_any_page_answer_or_event(client):
    bodies = [client.get(path).text for path in ("/", "/static/console.js", "/api/limits", "/api/batches")]
    bodies += [client.get(path).text for path in ("/api/events", "/api/batches.csv", "/api/status", "/api/plan")]
    for path in ("/api/stop", "/api/clear-halt"):
        bodies.append(client.post(path, headers={"Content-Type": "application/json"}, content="{}").text)
        bodies.append(client.post(path, headers={TOKEN_HEADER: "wrong-" + CONSOLE_TOKEN}, content="{}").text)
    with client.stream("GET", "/api/stream") as response:
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if sum(line.startswith("event: ") for line in lines) == 2 and line == "":
                break
    bodies.append("\n".join(lines))
    assert "event: status" in bodies[-1] and "error" in bodies[-1]  # the chain read failed: shown, not leaked
    assert '"batches":[{' in bodies[3]  # the journal was read
    for body in bodies:
        for canary in CANARIES:
            assert canary not in body, (canary[:12], body[:500])

"""Logging: console vs JSON on stderr, levels, and redaction of secrets anywhere in a line."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
import structlog
from pydantic import SecretStr

from bot.cli.common import CliContext
from bot.errors import UserInputError
from bot.logs import configure_from_context, configure_logging, get_logger
from bot.redact import (
    ENGINE_LOGGERS,
    MASK,
    Redactor,
    clear_secrets,
    install_log_redaction,
    is_secret_key,
    mask_url,
    redact,
    register_secret,
    register_url_secrets,
    scrub,
    url_secret_parts,
)

SECRET = "s3cr3t-value-for-logs-91"
HEX_KEY = "0x" + "ab" * 32


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    clear_secrets()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_mode_writes_one_object_per_line_on_stderr(capsys):
    configure_logging(json=True, level="info")
    get_logger("delever.test").info("batch_planned", withdraw_eth=Decimal("12.5"), batch=3)
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = json_lines(err)
    assert line["event"] == "batch_planned"
    assert line["level"] == "info"
    assert line["logger"] == "delever.test"
    assert line["withdraw_eth"] == "12.5" and line["batch"] == 3
    assert line["timestamp"].endswith("Z")


def test_console_mode_is_human_readable_not_json(capsys):
    configure_logging(json=False, level="info")
    get_logger("delever.test").info("batch_planned", batch=3)
    err = capsys.readouterr().err
    assert "batch_planned" in err and "batch=3" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err.splitlines()[0])


def test_auto_mode_uses_json_when_stderr_is_not_a_terminal(capsys):
    configure_logging(json=None, level="info")  # pytest's captured stderr is not a TTY
    get_logger().info("hello")
    assert json_lines(capsys.readouterr().err)[0]["event"] == "hello"


def test_level_filters_lower_levels(capsys):
    configure_logging(json=True, level="warning")
    log = get_logger("x")
    log.info("quiet")
    log.warning("loud")
    logging.getLogger("lib").info("quiet too")
    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["loud"]


def test_unknown_level_is_a_user_error():
    with pytest.raises(UserInputError, match="--log-level: must be one of debug, info, warning, error"):
        configure_logging(json=True, level="verbose")


def test_configure_from_context_honours_log_json_and_level(capsys):
    configure_from_context(CliContext(config_path=None, log_json=True, log_level="debug"))
    get_logger().debug("dbg")
    assert json_lines(capsys.readouterr().err)[0]["event"] == "dbg"


def test_reconfiguring_keeps_a_single_handler(capsys):
    configure_logging(json=True, level="info")
    configure_logging(json=True, level="info")
    get_logger().info("once")
    assert len(json_lines(capsys.readouterr().err)) == 1


@pytest.mark.parametrize("as_json", [True, False])
def test_secret_keys_and_registered_values_are_masked_everywhere(capsys, as_json):
    register_secret(SECRET)
    register_secret(HEX_KEY)
    configure_logging(json=as_json, level="debug")
    log = get_logger("delever.test")
    log.info("connecting", api_secret="plain-but-secret-key-name", private_key=HEX_KEY, token="t0k3n-abc")
    log.info(f"message with {SECRET} inside", nested={"deep": [f"x{SECRET}y", {"password": "pw-123456"}]})
    log.info("bare hex", blob=HEX_KEY[2:].upper(), obj=SecretStr(SECRET))
    logging.getLogger("web3.providers").warning("stdlib line with %s", SECRET)
    try:
        raise RuntimeError(f"failed with key {HEX_KEY}")
    except RuntimeError:
        log.exception("boom")
    try:
        raise ValueError(SECRET)
    except ValueError:
        logging.getLogger("ccxt").exception("stdlib boom")
    err = capsys.readouterr().err
    for leaked in (
        SECRET,
        HEX_KEY,
        HEX_KEY[2:],
        HEX_KEY[2:].upper(),
        "plain-but-secret-key-name",
        "t0k3n-abc",
        "pw-123456",
    ):
        assert leaked not in err
    assert MASK in err and "boom" in err and "Traceback" in err and "RuntimeError" in err


def test_is_secret_key_matches_secret_names_only():
    for key in (
        "private_key",
        "wallet_private_key",
        "api_secret",
        "API_KEY",
        "X-MBX-APIKEY",
        "keystore_password",
        "telegram_token",
        "signature",
        "authorization",
    ):
        assert is_secret_key(key), key
    for key in ("tokens", "token_address", "address", "keystore_path", "event", "api_url", 3):
        assert not is_secret_key(key), key


def test_scrub_masks_hex_keys_with_and_without_prefix_in_any_case():
    register_secret(HEX_KEY)
    body = HEX_KEY[2:]
    assert scrub(f"a {HEX_KEY} b {body.upper()} c") == f"a {MASK} b {MASK} c"


def test_short_values_are_not_registered():
    register_secret("abc")
    assert scrub("abc abcd") == "abc abcd"


def test_redact_walks_containers_and_renders_odd_types():
    register_secret(SECRET)
    out = redact({"a": (1, Decimal("2.5"), SECRET), "api_key": None, "e": ValueError(SECRET), "b": b"\x01" * 32})
    assert out == {"a": [1, "2.5", MASK], "api_key": None, "e": f"ValueError: {MASK}", "b": MASK}


def test_url_secret_parts_finds_provider_keys_and_credentials():
    assert url_secret_parts("https://eth-mainnet.g.alchemy.com/v2/AbCdEf0123456789xyz") == ["AbCdEf0123456789xyz"]
    assert url_secret_parts("https://user:pa55word@node.example:8545/") == ["pa55word", "user"]
    assert url_secret_parts("https://node.example/?apikey=0123456789abcdef0123") == ["0123456789abcdef0123"]
    assert url_secret_parts("http://127.0.0.1:8545") == []
    assert mask_url("https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef") == (
        f"https://mainnet.infura.io/v3/{MASK}"
    )


def test_registered_url_secrets_are_masked_in_logs(capsys):
    register_url_secrets("https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef")
    configure_logging(json=True, level="info")
    get_logger().info("rpc", url="https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef")
    assert "0123456789abcdef0123456789abcdef" not in capsys.readouterr().err


def test_redactor_registers_its_secrets_in_the_one_registry():
    redactor = Redactor([SECRET, HEX_KEY, None, "", "abc"])
    assert redactor(f"a {SECRET} b {HEX_KEY} abc") == f"a {MASK} b {MASK} abc"
    assert scrub(f"the journal sees {SECRET} too") == f"the journal sees {MASK} too"  # one registry


def test_engine_log_records_are_masked_before_any_handler_sees_them(caplog):
    register_secret(SECRET)
    install_log_redaction()
    install_log_redaction()  # idempotent: one filter per logger
    assert all(len(logging.getLogger(name).filters) == 1 for name in ENGINE_LOGGERS)
    with caplog.at_level(logging.INFO):
        logging.getLogger("delever.executor").warning("venue said %s", {"echo": SECRET})
    assert caplog.records[-1].getMessage() == f"venue said {{'echo': '{MASK}'}}"
    assert SECRET not in caplog.text

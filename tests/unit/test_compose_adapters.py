"""``bot.compose.adapters``: the one builder of real adapters, without a network."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.compose import adapters
from bot.compose.adapters import ChainLink, ChainUnavailable, ReadOnlyLending, connect_chain, open_lending, open_venue
from bot.errors import ConfigError
from bot.settings import ExchangeConfig
from tests.support.compose_kit import settings


def test_open_venue_honours_the_timeout_and_the_recv_window() -> None:
    venue = open_venue(ExchangeConfig(timeout_ms=5000, recv_window_ms=7000, api_url="http://127.0.0.1:9"))
    client = venue._client
    assert (client.timeout, client.options["recvWindow"]) == (5000, 7000)


def test_open_venue_reads_the_secret_keys_and_points_at_api_url() -> None:
    venue = open_venue(
        ExchangeConfig(api_url="http://127.0.0.1:9", api_key="key-1", api_secret="secret-1", timeout_ms=2500)
    )
    client = venue._client
    assert client.apiKey == "key-1" and client.secret == "secret-1" and client.timeout == 2500
    assert client.urls["api"]["private"] == "http://127.0.0.1:9/api/v3"
    assert "secret-1" not in repr(venue)


def test_open_venue_refuses_an_exchange_it_cannot_speak_to() -> None:
    with pytest.raises(ConfigError, match="exchange.id: 'kraken' is not supported"):
        open_venue(ExchangeConfig(id="kraken"))


def test_connect_chain_to_a_dead_rpc_says_so_in_one_line_without_the_url(tmp_path: Path) -> None:
    with pytest.raises(ChainUnavailable, match="does not answer") as info:
        connect_chain(settings(tmp_path).chain)
    assert "127.0.0.1" not in str(info.value)


class _ChainServing:
    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id
        self.block_number = 7


class _W3:
    def __init__(self, chain_id: int) -> None:
        self.eth = _ChainServing(chain_id)


@pytest.mark.parametrize("read_only", [True, False])
def test_every_lending_checks_the_chain_id_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_only) -> None:
    monkeypatch.setattr(adapters, "make_web3", lambda url: _W3(1))
    with pytest.raises(ConfigError, match="the RPC serves chain id 1, the config says 31337"):
        open_lending(settings(tmp_path), read_only=read_only)
    assert not (tmp_path / "journal.sqlite").exists()  # no transaction store was opened


def test_without_a_signer_the_lending_is_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapters, "make_web3", lambda url: _W3(31337))
    watched = "0x" + "22" * 20
    lending = open_lending(
        settings(
            tmp_path,
            mode="dry-run",
            wallet={"key_source": "none", "address": watched},
            exchange={"withdrawal_allowlist": [watched]},
        )
    )
    assert isinstance(lending, ReadOnlyLending) and lending.chain_id == 31337
    assert connect_chain(settings(tmp_path).chain).head() == 7


def test_a_signer_that_is_not_the_wallet_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eth_account import Account

    stranger = Account.from_key("0x" + "5a" * 32)
    link = ChainLink(_W3(31337), 31337)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="is not wallet.address"):
        adapters.signing_lending(link, settings(tmp_path), stranger)

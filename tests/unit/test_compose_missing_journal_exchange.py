"""A journal that went missing, seen from the exchange: an empty journal is refused (one line,
exit 2) while the exchange lists withdrawals of ours to this wallet, whatever the per-wallet
record says; ``run --new-journal`` accepts it once, and a journal that passed is not asked again."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.compose.daemon import build_runtime
from bot.engine.journal import Journal
from bot.engine.state_recovery import EXCHANGE_HISTORY_CHECKED
from bot.errors import UserInputError
from tests.support.compose_kit import WALLET, fake_adapters, settings
from tests.support.fakes import make_world

G1 = "0x" + "11" * 32
OURS = ("dlw-aaaaaaaaaaaaaaaaaaaaaaaa", "dlw-bbbbbbbbbbbbbbbbbbbbbbbb")


class VenueWithHistory:
    """The fake venue plus the exchange's withdrawal history (``CcxtVenue.withdrawal_ids_to``)."""

    def __init__(self, venue: Any, history: dict[str, tuple[str, ...]]) -> None:
        self._venue, self.history, self.asked = venue, history, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venue, name)

    def withdrawal_ids_to(self, coin: str, address: str) -> tuple[str, ...]:
        self.asked.append((coin, address))
        return self.history.get(address.lower(), ())


def _runtime(tmp_path, world, history, *, new_journal=False):
    make = fake_adapters(world)
    venues = []

    def build(config):
        real = make(config)
        venue = VenueWithHistory(real.venue, history)
        venues.append(venue)
        return dataclasses.replace(real, venue=venue, genesis_hash=G1, wallet_nonce=0)

    runtime = build_runtime(
        settings(tmp_path),
        live_flag=False,
        clock=world.clock,
        adapters=build,
        new_journal=new_journal,
        read_chain=lambda s: (G1, 0),
    )
    return runtime, venues[0]


def test_an_empty_journal_is_refused_while_the_exchange_lists_our_withdrawals_to_the_wallet(tmp_path):
    world = make_world()
    history = {WALLET.lower(): OURS}
    with pytest.raises(UserInputError) as refused:
        _runtime(tmp_path, world, history)
    message = str(refused.value)
    assert "\n" not in message and "--new-journal" in message
    assert f"the exchange lists 2 USDT withdrawal(s) of ours to wallet {WALLET} ({OURS[0]}, {OURS[1]})" in message
    with pytest.raises(UserInputError, match="holds nothing"):  # refused again: the refusal adopted nothing
        _runtime(tmp_path, world, history)
    runtime, _ = _runtime(tmp_path, world, history, new_journal=True)  # a human says so
    runtime.journal.close()
    runtime, venue = _runtime(tmp_path, world, history)  # the new journal is now the wallet's
    runtime.journal.close()
    assert venue.asked == []


def test_a_wallet_without_withdrawals_of_ours_starts_and_is_checked_once(tmp_path):
    world = make_world()
    runtime, venue = _runtime(tmp_path, world, {"0x" + "99" * 20: OURS})  # another wallet's
    assert venue.asked == [("USDT", WALLET)] and runtime.journal.marked(EXCHANGE_HISTORY_CHECKED)
    runtime.journal.close()
    runtime, venue = _runtime(tmp_path, world, {WALLET.lower(): OURS})  # later withdrawals: its own
    runtime.journal.close()
    assert venue.asked == []


def test_a_journal_holding_batches_is_not_asked_about_the_exchange(tmp_path):
    world = make_world()
    config = settings(tmp_path)
    with Journal(tmp_path / "journal.sqlite", clock=world.clock) as journal:
        journal.bind(mode=config.mode, chain_id=config.chain.chain_id, genesis_hash=G1)
        journal.open_batch(spec={}, start={})
    runtime, venue = _runtime(tmp_path, world, {WALLET.lower(): OURS})
    runtime.journal.close()
    assert venue.asked == []

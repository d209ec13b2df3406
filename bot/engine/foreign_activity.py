"""Wallet activity that no journal of ours explains: foreign, and acted on before the next act.

Two daemons on one wallet (another journal, another machine), a human with the key, or a
liquidator all show up on chain as activity of the wallet we did not journal:

- a transaction *from* the wallet at a nonce our transaction store never signed;
- a transfer of the collateral, the debt asset or their aTokens to or from the wallet in a
  transaction that is neither ours (its hash is in the store or in a step's outcome: our own
  transactions, and the exchange's withdrawal to us) nor made by us otherwise.

Debt that others change (a borrow on the wallet's behalf through credit delegation, a repay on
its behalf) moves no token of the wallet and is not watched: each tick re-reads the position.

While a batch is open, foreign activity halts the journal (``NeedsReview``, one line) before the
next write is sent: the batch was planned on a wallet that has changed under it. With no batch
open it is a warning (alert) and the tick goes on to re-read the position from the chain.

The scan is incremental: each check reads the blocks after the last one checked (the mark is
kept in the journal, so a restart picks up where the last process stopped, including a batch
left open). A first start begins at the head.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.engine.journal import ControlState, Journal
from bot.errors import NeedsReview

log = logging.getLogger("delever.foreign")

WATCH_MARK = "wallet_watch"  # journal meta: {"block": last block checked, "nonce": mined nonce then}
SHOWN = 3  # foreign items named in one line
RECENT_BATCHES = 3  # closed batches whose transaction hashes still explain activity


class ForeignActivity(NeedsReview):
    """The wallet did something no journal of ours explains while a batch was open."""


@dataclass(frozen=True, slots=True)
class WalletTransfer:
    tx_hash: str
    block: int
    token: str  # a label: "WETH", "aWETH", "USDT"…
    incoming: bool
    amount: int  # token base units


@dataclass(frozen=True, slots=True)
class WalletActivity:
    """What the chain shows of the wallet in blocks ``from_block..to_block``."""

    from_block: int
    to_block: int
    nonce: int  # the wallet's mined transaction count at ``to_block``
    foreign_nonces: tuple[int, ...]  # nonces mined in the range that our store never signed
    transfers: tuple[WalletTransfer, ...]


class WalletWatch(Protocol):
    """The chain side (``bot.adapters.chain.wallet_watch``)."""

    def head(self) -> tuple[int, int]:
        """(head block, the wallet's mined nonce at it)."""

    def activity(self, from_block: int, *, nonce_before: int) -> WalletActivity:
        """The wallet's activity from ``from_block`` to the head; ``nonce_before``: its mined
        nonce before ``from_block``."""

    def own_tx_hashes(self) -> frozenset[str]:
        """Every hash our transaction store ever sent (normalised: lower case, 0x)."""


def normalise_hash(value: str) -> str:
    text = value.strip().lower()
    return text if text.startswith("0x") else "0x" + text


def hashes_in(payloads: Iterable[dict[str, Any] | None]) -> set[str]:
    """Transaction hashes named in step outcomes (``tx_hash``, ``txid``)."""
    found: set[str] = set()
    for payload in payloads:
        for key in ("tx_hash", "txid"):
            value = (payload or {}).get(key)
            if isinstance(value, str) and value:
                found.add(normalise_hash(value))
    return found


def foreign_items(activity: WalletActivity, known_hashes: set[str]) -> list[str]:
    """What in ``activity`` no journal of ours explains, one short phrase each."""
    items = [f"a transaction at nonce {n} that we never signed" for n in activity.foreign_nonces]
    for t in activity.transfers:
        if normalise_hash(t.tx_hash) not in known_hashes:
            way = "into" if t.incoming else "out of"
            items.append(f"{t.amount} base units of {t.token} {way} the wallet in tx {t.tx_hash} (block {t.block})")
    return items


def describe(items: list[str], activity: WalletActivity) -> str:
    shown = "; ".join(items[:SHOWN]) + (f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else "")
    return f"foreign wallet activity in blocks {activity.from_block}-{activity.to_block}: {shown}"


class ForeignActivityCheck:
    """Runs the watch after the last checked block; halts or warns (see the module docstring)."""

    def __init__(
        self, watch: WalletWatch, journal: Journal, *, alert: Callable[[str, str], None] = lambda level, text: None
    ) -> None:
        self.watch = watch
        self.journal = journal
        self.alert = alert

    def check(self, *, batch_open: bool) -> list[str]:
        """Scan the new blocks; raise ``ForeignActivity`` (journal HALTED) when a batch is open
        and something is foreign; otherwise return what was foreign (alerted as a warning)."""
        mark = self.journal.noted(WATCH_MARK)
        if mark is None:
            block, nonce = self.watch.head()
            self.journal.note(WATCH_MARK, {"block": block, "nonce": nonce})
            return []
        activity = self.watch.activity(int(mark["block"]) + 1, nonce_before=int(mark["nonce"]))
        if activity.to_block < activity.from_block:
            return []  # no new block
        items = foreign_items(activity, self._known_hashes())
        # The mark moves past what was seen before anything else: a halt cleared by a human, or
        # a warning, is not raised again for the same blocks.
        self.journal.note(WATCH_MARK, {"block": activity.to_block, "nonce": activity.nonce})
        if not items:
            return []
        text = describe(items, activity)
        if batch_open:
            reason = f"{text}; the open batch was planned on a wallet that changed under it"
            self.journal.set_control(ControlState.HALTED, reason)
            raise ForeignActivity(reason)  # the executor alerts (critical) as for any halt
        log.warning("%s; re-reading the position", text)
        self.alert("warning", f"{text}; no batch was open: the plan is re-read from the chain")
        return items

    def _known_hashes(self) -> set[str]:
        batches = self.journal.open_batches() + self.journal.batches()[-RECENT_BATCHES:]
        payloads: list[dict[str, Any] | None] = []
        for batch_id in {b.id for b in batches}:
            payloads += [row.outcome for row in self.journal.steps(batch_id)]
        return set(self.watch.own_tx_hashes()) | hashes_in(payloads)

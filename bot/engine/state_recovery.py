"""A journal that went missing, told apart from a wallet that never ran: the exchange half.

The chain half (``bot.compose.daemon``) compares the per-wallet record with the wallet's nonce.
It needs that record, which lives on this machine; the exchange keeps its own history. Every
withdrawal this bot makes carries a ``withdrawOrderId`` of ours (``dlw-…``) and goes to the
wallet, so a journal that holds nothing while the exchange lists such withdrawals to this
wallet has lost its past (deleted, reset, restored from an old backup, another machine): the
daemon refuses it (exit 2) instead of starting afresh, until a human says so with
``run --new-journal``.

The check runs once per journal: a journal that passed it, or was started on purpose with
``--new-journal``, carries ``EXCHANGE_HISTORY_CHECKED`` in its meta and is not asked again (its
own batches are then the record). A refused journal gets no mark: it is refused again.
"""

from __future__ import annotations

from collections.abc import Sequence

EXCHANGE_HISTORY_CHECKED = "exchange_history_checked"
SHOWN_IDS = 3  # withdrawal ids named in the refusal


def missing_journal_seen_on_exchange(
    *, journal: str, wallet: str, coin: str, withdrawal_ids: Sequence[str]
) -> str | None:
    """The one-line refusal when the exchange lists withdrawals of ours to ``wallet`` that an
    empty journal cannot explain; None when it lists none."""
    ids = sorted(set(withdrawal_ids))
    if not ids:
        return None
    shown = ", ".join(ids[:SHOWN_IDS]) + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")
    return (
        f"journal {journal} holds nothing, but the exchange lists {len(ids)} {coin} withdrawal(s) of ours to "
        f"wallet {wallet} ({shown}): the journal that made them is missing; restore it (or point journal.path "
        "at it), or start a new one on purpose with `delever run --new-journal`"
    )

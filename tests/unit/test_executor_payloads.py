"""The typed step payloads: every intent and outcome survives the journal's JSON exactly, the
journal keeps the shape it has always had, and a journal written in that shape resumes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.journal import BatchStatus, to_json
from bot.engine.steps import (
    STEPS,
    AwaitDepositIntent,
    AwaitQuoteIntent,
    DepositCreditOutcome,
    DepositIntent,
    QuoteArrivalOutcome,
    RepayIntent,
    SellIntent,
    SellOutcome,
    TransferOutcome,
    TxOutcome,
    UnwrapIntent,
    VerifyIntent,
    VerifyOutcome,
    WithdrawIntent,
    WithdrawQuoteIntent,
    account_batch,
)
from bot.ports import TransferState
from tests.support.engine_kit import Rig
from tests.support.fakes import Crash, crash_at, make_world

units = st.integers(min_value=0, max_value=2**256 - 1)
maybe_units = st.none() | units
amounts = st.decimals(min_value=0, max_value=10**15, allow_nan=False, allow_infinity=False)
words = st.text(max_size=12)
maybe_words = st.none() | words
transfers = st.builds(TransferOutcome, st.sampled_from(TransferState), maybe_words, amounts, amounts, words)

PAYLOADS = {
    RepayIntent: st.builds(RepayIntent, words, units, units, units),
    WithdrawIntent: st.builds(WithdrawIntent, words, units, units),
    UnwrapIntent: st.builds(UnwrapIntent, units),
    DepositIntent: st.builds(DepositIntent, words, units, words, words),
    TxOutcome: st.builds(TxOutcome, maybe_words, maybe_units, maybe_units, maybe_units, maybe_units, maybe_words),
    AwaitDepositIntent: st.builds(AwaitDepositIntent, words, words, words, amounts),
    TransferOutcome: transfers,
    DepositCreditOutcome: st.builds(DepositCreditOutcome, transfers, maybe_units),
    SellIntent: st.builds(SellIntent, words, amounts, amounts, amounts, amounts, amounts, amounts),
    SellOutcome: st.builds(
        SellOutcome, amounts, amounts, amounts, amounts, amounts, st.tuples(words, words), st.booleans()
    ),
    WithdrawQuoteIntent: st.builds(WithdrawQuoteIntent, words, amounts, words, words, units, st.none() | amounts),
    AwaitQuoteIntent: st.builds(AwaitQuoteIntent, words, words, units),
    QuoteArrivalOutcome: st.builds(QuoteArrivalOutcome, transfers, maybe_units, maybe_units),
    VerifyIntent: st.builds(VerifyIntent, units, st.lists(words, max_size=4).map(tuple)),
    VerifyOutcome: st.builds(VerifyOutcome, units, units, st.booleans()),
}


def test_every_step_type_has_a_round_trip_test():
    used = {t for step in STEPS for t in (step.intent_type, step.outcome_type)}
    assert used == set(PAYLOADS)


@given(st.one_of(*PAYLOADS.values()))
def test_a_payload_survives_the_journal_json_exactly(value):
    stored = json.loads(to_json(value.to_payload()))
    back = type(value).from_payload(stored)
    assert back == value
    assert to_json(back.to_payload()) == to_json(value.to_payload())


@given(PAYLOADS[TxOutcome])
def test_a_tx_outcome_journals_an_error_only_when_it_failed(tx):
    keys = set(tx.to_payload())
    assert keys - {"error"} == {"tx_hash", "block", "nonce", "gas_used", "gas_cost_wei"}
    assert ("error" in keys) is (tx.error is not None)


def test_amounts_are_journalled_as_strings_and_keep_their_digits():
    sold = SellOutcome(
        Decimal("10.0000"),
        Decimal("10.0000"),
        Decimal("19995"),
        Decimal("19.99500000"),
        Decimal("19975.00500000"),
        ("k:sell#1",),
        False,
    )
    assert sold.to_payload() == {
        "requested": "10.0000",
        "filled": "10.0000",
        "gross_quote": "19995",
        "fee_quote": "19.99500000",
        "net_quote": "19975.00500000",
        "client_order_ids": ["k:sell#1"],
        "exhausted": False,
    }
    assert WithdrawIntent("WETH", 10**19, 2**256 - 1).to_payload()["hf_before_wad"] == str(2**256 - 1)


# ---- the journal's shape, as the first version wrote it ---------------------------------------------
# One full batch over the fake world (idle USDT in the wallet, unwrap on); "B" stands for the
# batch id. These literals are the journal's on-disk contract: change them only with a migration.

TX = "0x" + "0" * 63
GOLDEN = [
    (
        "repay_idle",
        {"amount": "1000000000", "debt_before": "120000000000", "symbol": "USDT", "wallet_balance": "1000000000"},
        {"block": 1001, "gas_cost_wei": 50000000000000, "gas_used": 50000, "nonce": None, "tx_hash": TX + "1"},
    ),
    (
        "withdraw",
        {"amount": "10000000000000000000", "hf_before_wad": "1394957983193277311", "symbol": "WETH"},
        {"block": 1002, "gas_cost_wei": 50000000000000, "gas_used": 50000, "nonce": None, "tx_hash": TX + "2"},
    ),
    (
        "unwrap",
        {"amount": "10000000000000000000"},
        {"block": 1003, "gas_cost_wei": 50000000000000, "gas_used": 50000, "nonce": None, "tx_hash": TX + "3"},
    ),
    (
        "deposit",
        {"amount": "10000000000000000000", "coin": "ETH", "symbol": "ETH", "to": "0x" + "0" * 38 + "d1"},
        {"block": 1004, "gas_cost_wei": 50000000000000, "gas_used": 50000, "nonce": None, "tx_hash": TX + "4"},
    ),
    (
        "await_deposit",
        {"coin": "ETH", "deposit_key": "B:deposit", "expected": "10.000000000000000000", "txid": TX + "4"},
        {
            "amount": "10.000000000000000000",
            "coin": "ETH",
            "confirmed_block": 1004,
            "fee": "0",
            "state": "ok",
            "txid": TX + "4",
        },
    ),
    (
        "sell",
        {
            "best_bid": "2000",
            "floor_price": "1980.50",
            "mid": "2000.5",
            "oracle": "2000",
            "qty": "10.0000",
            "reference": "2000.5",
            "symbol": "ETH/USDT",
        },
        {
            "client_order_ids": ["B:sell#1"],
            "exhausted": False,
            "fee_quote": "19.99500000",
            "filled": "10.0000",
            "gross_quote": "19995",
            "net_quote": "19975.00500000",
            "requested": "10.0000",
        },
    ),
    (
        "withdraw_quote",
        {
            "address": "0x" + "0" * 38 + "a1",
            "amount": "19975.005000",
            "coin": "USDT",
            "exchange_free_before": "19975.00500000",
            "network": "ETH",
            "wallet_balance_before": "0",
        },
        {"amount": "19975.005000", "coin": "USDT", "fee": "1", "state": "pending", "txid": None},
    ),
    (
        "await_quote",
        {"coin": "USDT", "wallet_balance_before": "0", "withdraw_key": "B:withdraw_quote"},
        {
            "amount": "19975.005000",
            "arrived_units": "19974005000",
            "coin": "USDT",
            "fee": "1",
            "state": "ok",
            "txid": TX + "5",
            "wallet_balance": "19974005000",
        },
    ),
    (
        "repay",
        {"amount": "19974005000", "debt_before": "119000000000", "symbol": "USDT", "wallet_balance": "19974005000"},
        {"block": 1005, "gas_cost_wei": 50000000000000, "gas_used": 50000, "nonce": None, "tx_hash": TX + "6"},
    ),
    (
        "verify",
        {"hf_before_wad": "1383333333333333333", "moved": ["repay_idle", "withdraw", "sell", "repay"]},
        {"hf_after_wad": "1508694762420715894", "hf_before_wad": "1383333333333333333", "improved": True},
    ),
]
GOLDEN_ACCOUNTING = {
    "steps": {name: "OK" for name, _, _ in GOLDEN},
    "withdrawn_units": "10000000000000000000",
    "credited": "10.000000000000000000",
    "sold_filled": "10.0000",
    "gross_quote": "19995",
    "fee_quote": "19.99500000",
    "net_quote": "19975.00500000",
    "quote_arrived_units": "19974005000",
    "repay_requested_units": ["1000000000", "19974005000"],
    "hf_before_wad": "1383333333333333333",
    "hf_after_wad": "1508694762420715894",
}


def _rig(tmp_path) -> Rig:
    world = make_world(idle_wallet_usdt=1000)
    return Rig(tmp_path, clock=world.clock, world=world)


def _golden(batch_id: str, payload: dict | None) -> dict | None:
    return None if payload is None else json.loads(json.dumps(payload).replace('"B:', f'"{batch_id}:'))


def test_a_full_batch_writes_the_journal_shape_of_the_first_version(tmp_path):
    rig = _rig(tmp_path)
    result = rig.executor(unwrap_native=True).execute(rig.spec(10), rig.lending.snapshot())
    rows = rig.journal.steps(result.batch_id)
    b = result.batch_id
    assert [(r.step, r.intent, r.outcome) for r in rows] == [(s, _golden(b, i), _golden(b, o)) for s, i, o in GOLDEN]
    assert result.accounting == GOLDEN_ACCOUNTING
    assert rig.journal.batch(b).outcome == GOLDEN_ACCOUNTING
    assert account_batch(rows).to_dict() == GOLDEN_ACCOUNTING


def test_a_batch_journalled_in_the_first_version_shape_resumes(tmp_path):
    """Crash with the exchange withdrawal's intent written, put the first version's literal
    payloads in every row, and resume: the typed reader takes them and finishes the batch."""
    rig = _rig(tmp_path)
    with pytest.raises(Crash):
        rig.executor(unwrap_native=True, crash=crash_at("after_intent:withdraw_quote")).execute(
            rig.spec(10), rig.lending.snapshot()
        )
    (batch,) = rig.journal.open_batches()
    written = {r.step: r for r in rig.journal.steps(batch.id)}
    assert list(written) == [name for name, _, _ in GOLDEN[:7]]
    db = rig.journal._db
    for name, intent, outcome in GOLDEN[:7]:
        outcome = None if name == "withdraw_quote" else outcome  # still PENDING, attempts 0
        db.execute(
            "UPDATE steps SET intent=?, outcome=? WHERE batch_id=? AND step=?",
            (
                json.dumps(_golden(batch.id, intent)),
                None if outcome is None else json.dumps(_golden(batch.id, outcome)),
                batch.id,
                name,
            ),
        )
    rig.restart()
    (result,) = rig.executor(unwrap_native=True).resume()
    assert result.status is BatchStatus.DONE
    assert result.accounting == GOLDEN_ACCOUNTING
    assert len(rig.world.withdrawals) == 1 and rig.world.wallet["USDT"] == 0


def test_spec_and_start_payloads_are_asdict_without_its_copies():
    """``batch_spec`` reads the fields itself: the same dict as ``asdict`` while every field is
    a str, int, bool, Decimal or None (values asdict's deep copy returns as they are)."""
    from dataclasses import asdict
    from typing import get_args, get_type_hints

    from bot.domain.position import Position, Reserve
    from bot.engine.batch_spec import _RESERVE_FIELDS, _SPEC_FIELDS, BatchSpec, _fields_of

    atomic = {str, int, bool, Decimal, type(None)}
    for cls in (BatchSpec, Reserve):
        for name, hint in get_type_hints(cls).items():
            assert set(get_args(hint) or (hint,)) <= atomic, (cls.__name__, name, hint)
    spec = BatchSpec("WETH", "USDT", 5 * 10**17, Decimal("2000.50"), Decimal("1990"), "n", 7, refill_units=3)
    assert _fields_of(spec, _SPEC_FIELDS) == asdict(spec)
    position = Position((Reserve("WETH", 18, 2 * 10**11, 8000, 8250, 500, 10**18), Reserve("USDT", 6, 10**8, debt=5)))
    for reserve in position.reserves:
        assert list(_fields_of(reserve, _RESERVE_FIELDS).items()) == list(asdict(reserve).items())

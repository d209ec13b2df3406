"""The daemon's journal binding (``bot.compose.daemon``): the chain's genesis block, the per-wallet
lock and record, ``run --new-journal``, a missing journal refused, reconciliation only once
bound, and ``run --clear-halt`` checking the same against the chain."""

from __future__ import annotations

import dataclasses
import time

import pytest

from bot.adapters.chain.tx_sender import NonceGap
from bot.adapters.chain.tx_store import Attempt, TxRecord, TxStatus, TxStore
from bot.clock import ManualClock
from bot.compose.adapters import ChainUnavailable
from bot.compose.daemon import build_runtime, clear_halt
from bot.engine.journal import BatchStatus, ControlState, Journal, JournalOfAnotherChain, WalletLocked
from bot.errors import UserInputError
from tests.support.compose_kit import WALLET, fake_adapters, settings
from tests.support.fakes import make_world

G1 = "0x" + "11" * 32
G2 = "0x" + "22" * 32


def _adapters(world, *, genesis=G1, nonce=3, seen=None):
    """The fake adapters with the chain facts the real ones read (genesis, wallet nonce); ``seen``
    records the journal's binding at the moment the daemon reconciles."""
    make = fake_adapters(world)

    def build(config):
        real = make(config)
        path = config.journal.path

        def reconcile():
            if seen is not None:
                with Journal(path, clock=ManualClock(), lock=False) as journal:
                    seen.append(journal.binding().get("genesis_hash"))

        return dataclasses.replace(real, genesis_hash=genesis, wallet_nonce=nonce, reconcile=reconcile)

    return build


def _runtime(tmp_path, world, **kwargs):
    new_journal = kwargs.pop("new_journal", False)
    read_chain = kwargs.pop("read_chain", None)
    config = kwargs.pop("config", None) or settings(tmp_path)
    return build_runtime(
        config,
        live_flag=False,
        clock=world.clock,
        adapters=_adapters(world, **kwargs),
        new_journal=new_journal,
        read_chain=read_chain,
    )


def test_the_journal_is_bound_to_the_genesis_before_anything_in_flight_is_reconciled(tmp_path):
    seen: list[str | None] = []
    runtime = _runtime(tmp_path, make_world(), seen=seen)
    runtime.journal.close()
    assert seen == [G1]


def test_a_journal_of_another_chain_is_refused_and_nothing_is_reconciled(tmp_path):
    world = make_world()
    _runtime(tmp_path, world).journal.close()
    seen: list[str | None] = []
    with pytest.raises(JournalOfAnotherChain) as refused:
        _runtime(tmp_path, world, genesis=G2, seen=seen)
    assert (
        seen == [] and "--new-journal" in str(refused.value) and str(tmp_path / "journal.sqlite") in str(refused.value)
    )


def test_new_journal_moves_a_journal_of_another_chain_aside(tmp_path):
    world = make_world()
    first = _runtime(tmp_path, world)
    old_tag = first.journal.tag
    first.journal.close()
    runtime = _runtime(tmp_path, world, genesis=G2, new_journal=True, read_chain=lambda s: (G2, 3))
    try:
        assert runtime.journal.tag != old_tag and runtime.journal.binding()["genesis_hash"] == G2
    finally:
        runtime.journal.close()
    assert (tmp_path / f"journal.sqlite.{old_tag}.bak").exists()


def test_new_journal_refuses_to_forget_a_batch_open_on_this_chain(tmp_path):
    world = make_world()
    first = _runtime(tmp_path, world)
    batch = first.journal.open_batch(spec={}, start={})
    first.journal.close()
    with pytest.raises(UserInputError, match=f"has batch {batch} open on this chain: resume it"):
        _runtime(tmp_path, world, new_journal=True, read_chain=lambda s: (G1, 3))
    with Journal(tmp_path / "journal.sqlite", clock=ManualClock()) as journal:
        assert journal.batch(batch).status is BatchStatus.OPEN


def test_two_journals_on_one_wallet_cannot_both_run(tmp_path):
    world = make_world()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _runtime(tmp_path, world, config=settings(tmp_path / "a"))
    try:
        with pytest.raises(WalletLocked) as refused:
            _runtime(tmp_path, world, config=settings(tmp_path / "b"))
        assert str(tmp_path / "a" / "journal.sqlite") in str(refused.value) and WALLET in str(refused.value)
    finally:
        first.journal.close()
    _runtime(
        tmp_path, world, config=settings(tmp_path / "b"), new_journal=True, read_chain=lambda s: (G1, 3)
    ).journal.close()


def _delete_journal(tmp_path):
    for path in tmp_path.glob("journal.sqlite*"):
        path.unlink()


def test_a_deleted_journal_is_refused_while_the_wallet_ran_on_this_chain(tmp_path):
    world = make_world()
    _runtime(tmp_path, world).journal.close()
    _delete_journal(tmp_path)
    with pytest.raises(UserInputError) as refused:
        _runtime(tmp_path, world)
    assert "is new or empty, but wallet" in str(refused.value) and "--new-journal" in str(refused.value)
    assert "\n" not in str(refused.value)
    # The refusal did not adopt the new journal: it is refused again, until a human says so.
    with pytest.raises(UserInputError, match="is new or empty"):
        _runtime(tmp_path, world)
    _runtime(tmp_path, world, new_journal=True, read_chain=lambda s: (G1, 3)).journal.close()
    _runtime(tmp_path, world).journal.close()  # the new journal is now the wallet's


def test_a_deleted_journal_is_no_loss_where_the_wallet_never_sent_anything_or_on_a_new_chain(tmp_path):
    world = make_world()
    _runtime(tmp_path, world, nonce=0).journal.close()
    _delete_journal(tmp_path)
    _runtime(tmp_path, world, nonce=0).journal.close()
    _delete_journal(tmp_path)
    _runtime(tmp_path, world, genesis=G2).journal.close()


# ---- run --clear-halt -----------------------------------------------------------------------------


def _halted(tmp_path, *, genesis=G1):
    with Journal(tmp_path / "journal.sqlite", clock=ManualClock()) as journal:
        journal.bind(mode="testnet", chain_id=31337, genesis_hash=genesis)
        journal.open_batch(spec={}, start={})
        journal.set_control(ControlState.HALTED, "stuck")


def test_clear_halt_refuses_a_journal_of_another_chain_when_the_rpc_answers(tmp_path):
    _halted(tmp_path)
    with pytest.raises(JournalOfAnotherChain, match="--new-journal"):
        clear_halt(settings(tmp_path), clock=ManualClock(), read_chain=lambda s: (G2, 4))
    assert clear_halt(settings(tmp_path), clock=ManualClock(), read_chain=lambda s: (G1, 4))[0] == "HALTED (stuck)"


def test_clear_halt_refuses_a_journal_whose_nonces_the_chain_can_never_reach(tmp_path):
    _halted(tmp_path)
    store = TxStore(tmp_path / "journal.sqlite")
    for nonce, status in ((4, TxStatus.OK), (5, TxStatus.OK), (6, TxStatus.PENDING)):
        key = f"k{nonce}"
        record = TxRecord(key, WALLET, 31337, nonce, "0x" + "0" * 40, "0x", 0, 21000, TxStatus.SIGNED)
        store.insert_signed(record, Attempt(f"0x{nonce:064x}", key, 0, "0x00", 1, 1, 1, time.time()))
        store.update(key, status=status)
    store.close()
    with pytest.raises(NonceGap) as refused:
        clear_halt(settings(tmp_path), clock=ManualClock(), read_chain=lambda s: (G1, 4))
    message = str(refused.value)
    assert "expects" in message and "at nonce 7" in message and "next nonce is 4" in message
    assert "the journal has it OK" in message and "--new-journal" in message
    with Journal(tmp_path / "journal.sqlite", clock=ManualClock()) as journal:
        assert journal.control()[0] is ControlState.HALTED  # nothing cleared


def test_clear_halt_offline_still_clears(tmp_path):
    _halted(tmp_path)

    def unreachable(config):
        raise ChainUnavailable("the chain RPC does not answer")

    assert clear_halt(settings(tmp_path), clock=ManualClock(), read_chain=unreachable)[0] == "HALTED (stuck)"


def test_run_cli_refuses_clear_halt_with_new_journal_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from bot.cli import app

    config = tmp_path / "c.toml"
    config.write_text(
        'mode = "dry-run"\n[chain]\nrpc_url = "http://127.0.0.1:9"\nchain_id = 1\n'
        'pool_addresses_provider = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"\n'
        f'[wallet]\naddress = "{WALLET}"\n[journal]\npath = "{tmp_path / "j.sqlite"}"\n'
    )
    result = CliRunner().invoke(app, ["--config", str(config), "run", "--clear-halt", "--new-journal"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["delever: error: --clear-halt and --new-journal do not go together"]

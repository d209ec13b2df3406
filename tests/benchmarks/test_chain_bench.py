"""Chain read benchmarks on a local anvil with the devnet Aave market (run: make bench)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from web3 import Web3

from bot.adapters.chain.aave_reader import AaveReader
from bot.devnet import scenario
from tests.support.devnet import Devnet, start_devnet

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chain() -> Iterator[Devnet]:
    with start_devnet() as c:
        yield c


@pytest.fixture(scope="module")
def reader(chain: Devnet) -> AaveReader:
    r = AaveReader(
        chain.w3, pool_addresses_provider=chain.market.pool_addresses_provider, multicall3=chain.market.multicall3
    )
    r.market()  # discovery is a one-off: not part of a read
    return r


def test_bench_read_one_position(benchmark, reader: AaveReader, chain: Devnet) -> None:  # type: ignore[no-untyped-def]
    read = benchmark(reader.read, chain.wallet)
    assert read.matches_chain


def test_bench_account_data_of_1000_wallets_one_call(benchmark, reader: AaveReader, chain: Devnet) -> None:  # type: ignore[no-untyped-def]
    # A few real positions among empty wallets: the pool loops over each user's reserves.
    others = scenario.accounts(chain.w3)[3:8]
    for wallet in others:
        scenario.open_position(chain.w3, chain.market, wallet=wallet, collateral_amount=Decimal(3))
    wallets = [chain.wallet, *others] + [Web3.to_checksum_address(f"0x{i:040x}") for i in range(1, 1000 - len(others))]
    assert len(wallets) == 1000
    data = benchmark(reader.read_many_account_data, wallets)
    assert len(data) == 1000 and data[0].health_factor_wad == reader.read(chain.wallet).chain_account.health_factor_wad


def test_bench_tx_sender_send_to_receipt(benchmark, chain: Devnet, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    """Guards + simulate + estimate + sign + fsync + broadcast + receipt (anvil automine, 1 confirmation)."""
    from itertools import count

    from bot.adapters.chain.tx_sender import TxRequest
    from tests.support.chain import make_sender

    sender = make_sender(chain.w3, tmp_path_factory.mktemp("bench") / "tx.db", index=7, poll_interval=0.005)
    keys = count()
    to = Web3.to_checksum_address("0x" + "cd" * 20)
    result = benchmark(lambda: sender.send(f"bench-{next(keys)}", TxRequest(to=to, value=1)))
    assert result.outcome.value == "OK"

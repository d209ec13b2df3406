"""The Multicall3 data files are the canonical contract: checked by signature and CREATE address."""

from __future__ import annotations

import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from bot.devnet.multicall3 import MULTICALL3_ADDRESS, deploy_transaction, runtime_code

DEPLOYER = "0x05f32B3cC3888453ff71B01135B34FF8e41263F2"  # per the mds1/multicall README


def _fields() -> list[bytes]:
    return rlp.decode(bytes.fromhex(deploy_transaction().removeprefix("0x")))


def test_multicall3_deploy_transaction_is_signed_by_the_published_deployer() -> None:
    assert Account.recover_transaction(deploy_transaction()) == DEPLOYER


def test_multicall3_deploy_transaction_creates_the_canonical_address_at_nonce_zero() -> None:
    fields = _fields()
    nonce, to = fields[0], fields[3]
    assert nonce == b"" and to == b""  # nonce 0, contract creation
    created = keccak(rlp.encode([bytes.fromhex(DEPLOYER[2:]), 0]))[12:]
    assert to_checksum_address(created) == MULTICALL3_ADDRESS


def test_multicall3_runtime_code_is_what_the_signed_creation_code_returns() -> None:
    creation = _fields()[5]
    # The constructor copies 0xee0 bytes from offset 0x20 of the creation code and returns them.
    assert creation[:32].hex().endswith("610ee0806100206000396000f3fe")
    runtime = bytes.fromhex(runtime_code().removeprefix("0x"))
    assert len(runtime) == 0xEE0
    assert creation[32 : 32 + 0xEE0] == runtime

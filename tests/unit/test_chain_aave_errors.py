"""Aave revert codes and revert-data decoding."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_abi import encode
from web3.exceptions import ContractLogicError

from bot.adapters.chain.aave_error_codes import AAVE_ERRORS
from bot.adapters.chain.aave_errors import (
    ERROR_STRING_SELECTOR,
    PANIC_SELECTOR,
    RevertReason,
    decode_exception,
    decode_revert_data,
    error_name,
    parse_errors_sol,
)

ERRORS_SOL = (
    Path(__file__).resolve().parents[2]
    / "devnet-deps/node_modules/@aave/core-v3/contracts/protocol/libraries/helpers/Errors.sol"
)


@pytest.mark.skipif(not ERRORS_SOL.exists(), reason="run `make install` for the Aave package")
def test_aave_error_table_matches_pinned_errors_sol() -> None:
    assert parse_errors_sol(ERRORS_SOL.read_text()) == AAVE_ERRORS
    assert len(AAVE_ERRORS) == 90


def test_aave_error_names_for_common_codes() -> None:
    assert error_name(35) == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"
    assert error_name("36") == "COLLATERAL_CANNOT_COVER_NEW_BORROW"
    assert error_name(26) == "INVALID_AMOUNT"
    assert error_name(999) is None and error_name("x") is None


def error_string(message: str) -> bytes:
    return ERROR_STRING_SELECTOR + encode(["string"], [message])


def test_decode_revert_data_error_string_with_aave_code() -> None:
    reason = decode_revert_data("0x" + error_string("35").hex())
    assert reason == RevertReason("35", 35, "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD")
    assert str(reason) == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD (35)"


def test_decode_revert_data_plain_message_and_panic() -> None:
    assert str(decode_revert_data(error_string("ERC20: transfer amount exceeds balance"))) == (
        "ERC20: transfer amount exceeds balance"
    )
    assert decode_revert_data(PANIC_SELECTOR + (0x11).to_bytes(32, "big")).message == "panic 0x11"


def test_decode_revert_data_garbage_kept_raw_never_guessed() -> None:
    assert decode_revert_data(ERROR_STRING_SELECTOR + b"\x01\x02").message == "0x08c379a00102"
    assert decode_revert_data(None).message == ""


def test_decode_exception_from_web3_contract_logic_error() -> None:
    exc = ContractLogicError("execution reverted: 35", data="0x" + error_string("35").hex())
    assert decode_exception(exc).name == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"
    assert decode_exception(ContractLogicError("execution reverted: 32")).code == 32

"""Multicall decoding: garbage from the RPC is an error, never a guessed value."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from eth_abi import encode
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.chain import abis
from bot.adapters.chain.multicall import Call, ChainDataError, Multicall, decode_aggregate3_result, encode_aggregate3
from bot.adapters.chain.rpc import is_retryable, retrying_read
from bot.errors import Halt, Retryable

TARGET = "0x" + "33" * 20


class FakeEth:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls = 0

    def call(self, params: dict[str, Any], block: Any) -> Any:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class FakeW3:
    def __init__(self, answer: Any) -> None:
        self.eth = FakeEth(answer)


def aggregate_result(*results: tuple[bool, bytes]) -> bytes:
    return encode(["(bool,bytes)[]"], [list(results)])


CALLS = [Call(TARGET, abis.BALANCE_OF, (TARGET,), label="balanceOf"), Call(TARGET, abis.DECIMALS, label="decimals")]


def test_multicall_decodes_each_result() -> None:
    w3 = FakeW3(aggregate_result((True, encode(["uint256"], [42])), (True, encode(["uint8"], [6]))))
    assert Multicall(w3, TARGET).call(CALLS) == [(42,), (6,)]  # type: ignore[arg-type]


def test_multicall_failed_subcall_is_an_error() -> None:
    w3 = FakeW3(aggregate_result((True, encode(["uint256"], [42])), (False, b"")))
    with pytest.raises(ChainDataError, match="decimals failed inside aggregate3"):
        Multicall(w3, TARGET).call(CALLS)  # type: ignore[arg-type]


def test_multicall_short_return_data_is_an_error() -> None:
    w3 = FakeW3(aggregate_result((True, b"\x00" * 31), (True, encode(["uint8"], [6]))))
    with pytest.raises(ChainDataError, match="balanceOf"):
        Multicall(w3, TARGET).call(CALLS)  # type: ignore[arg-type]


def test_multicall_wrong_result_count_is_an_error() -> None:
    w3 = FakeW3(aggregate_result((True, encode(["uint256"], [42]))))
    with pytest.raises(ChainDataError, match="1 results for 2 calls"):
        Multicall(w3, TARGET).call(CALLS)  # type: ignore[arg-type]


def test_multicall_garbage_bytes_is_an_error() -> None:
    with pytest.raises(ChainDataError, match="garbage"):
        Multicall(FakeW3(b"\x01\x02\x03"), TARGET).call(CALLS)  # type: ignore[arg-type]


def test_multicall_no_code_empty_answer_is_an_error() -> None:
    with pytest.raises(ChainDataError):
        Multicall(FakeW3(b""), TARGET).call(CALLS)  # type: ignore[arg-type]


def test_reads_retried_on_transport_errors_then_retryable() -> None:
    w3 = FakeW3(requests.ConnectionError("http://secret-key@host refused"))
    with pytest.raises(Retryable) as raised:
        Multicall(w3, TARGET).call(CALLS)  # type: ignore[arg-type]
    assert w3.eth.calls == 4
    assert "secret-key" not in str(raised.value)  # the URL (API key) never reaches the message


def test_is_retryable_only_for_transport_failures() -> None:
    assert is_retryable(requests.ConnectionError()) and is_retryable(requests.Timeout())
    assert not is_retryable(ValueError("bad argument"))
    attempts = []

    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise requests.Timeout()
        return 7

    assert retrying_read(flaky, what="x") == 7 and len(attempts) == 3


def test_fn_encoding_and_strict_decode() -> None:
    assert abis.BALANCE_OF.selector.hex() == "70a08231"
    assert abis.GET_USER_ACCOUNT_DATA.selector.hex() == "bf92857c"
    with pytest.raises(abis.AbiDecodeError):
        abis.GET_USER_ACCOUNT_DATA.decode(encode(["uint256"] * 5, [1] * 5))


@given(st.lists(st.tuples(st.binary(min_size=20, max_size=20), st.booleans(), st.binary(max_size=100)), max_size=8))
def test_aggregate3_codec_matches_eth_abi(calls: list[tuple[bytes, bool, bytes]]) -> None:
    as_hex = [("0x" + t.hex(), f, d) for t, f, d in calls]
    expected = abis.AGGREGATE3.selector + encode(["(address,bool,bytes)[]"], [[(t, f, d) for t, f, d in as_hex]])
    assert encode_aggregate3(as_hex) == expected
    results = [(f, d) for _t, f, d in calls]
    assert decode_aggregate3_result(encode(["(bool,bytes)[]"], [results])) == results


def test_aggregate3_decode_rejects_lying_lengths() -> None:
    good = bytearray(encode(["(bool,bytes)[]"], [[(True, b"\x01" * 40)]]))
    bad_count = bytes(good[:32]) + (10**6).to_bytes(32, "big") + bytes(good[64:])
    with pytest.raises(abis.AbiDecodeError):
        decode_aggregate3_result(bad_count)
    with pytest.raises(abis.AbiDecodeError):
        decode_aggregate3_result(bytes(good[:-40]))  # truncated


def test_uint_words_decode_requires_exact_length() -> None:
    assert abis.GET_USER_ACCOUNT_DATA.decode(encode(["uint256"] * 6, list(range(6)))) == tuple(range(6))
    with pytest.raises(abis.AbiDecodeError):
        abis.GET_USER_ACCOUNT_DATA.decode(encode(["uint256"] * 7, [1] * 7))


def test_rpc_http_refusal_halts_without_the_url() -> None:
    response = requests.Response()
    response.status_code = 401
    error = requests.HTTPError(
        "401 Client Error: Unauthorized for url: https://rpc.example/v3/SECRETKEY", response=response
    )
    with pytest.raises(Halt) as raised:
        retrying_read(lambda: (_ for _ in ()).throw(error), what="block number")
    assert "SECRETKEY" not in str(raised.value) and "HTTP 401" in str(raised.value)

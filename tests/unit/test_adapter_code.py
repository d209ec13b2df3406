"""The adapter code check: the project's build with its immutables, for this wallet, or a refusal."""

from __future__ import annotations

import re

import pytest

from bot.adapters.chain.adapter_code import AdapterMismatch, check_adapter_code, immutables_in, project_build

OWNER = "0x" + "11" * 20
POOL = "0x" + "22" * 20
ROUTER = "0x" + "33" * 20
ADDRESS = "0x" + "44" * 20


def deployed_code(owner: str = OWNER, pool: str = POOL, router: str = ROUTER) -> bytearray:
    """The build as the constructor leaves it: each immutable written at every recorded span."""
    build = project_build()
    code = bytearray(build.runtime_code)
    for name, value in (("owner", owner), ("pool", pool), ("router", router)):
        word = bytes(12) + bytes.fromhex(value[2:])
        for start, length in build.spans[name]:
            code[start : start + length] = word
    return code


def check(code: bytes, **overrides: str) -> None:
    expected = {"owner": OWNER, "pool": POOL, "router": ROUTER} | overrides
    check_adapter_code(bytes(code), address=ADDRESS, **expected)


def test_the_build_with_the_expected_immutables_passes() -> None:
    code = deployed_code()
    check(code)
    assert immutables_in(bytes(code), project_build()) == {"owner": OWNER, "pool": POOL, "router": ROUTER}


def test_every_immutable_span_is_a_32_byte_word_inside_the_code() -> None:
    build = project_build()
    spans = [span for spans in build.spans.values() for span in spans]
    assert len(spans) == 22 and all(length == 32 and start + 32 <= len(build.runtime_code) for start, length in spans)


def test_one_changed_byte_outside_the_immutables_is_refused() -> None:
    code = deployed_code()
    code[10] ^= 0x01
    with pytest.raises(AdapterMismatch, match="is not this version's adapter build"):
        check(code)


def test_other_code_of_another_length_is_refused() -> None:
    with pytest.raises(AdapterMismatch, match="runtime code differs"):
        check(bytes(deployed_code()) + b"\x00")


def test_no_code_at_the_address_is_refused() -> None:
    with pytest.raises(AdapterMismatch, match="holds no contract"):
        check(b"")


@pytest.mark.parametrize(
    ("name", "what"), [("owner", "the wallet"), ("pool", "the market's Aave Pool"), ("router", "[dex] swap_router")]
)
def test_an_adapter_built_for_another_owner_pool_or_router_is_refused(name: str, what: str) -> None:
    other = "0x" + "99" * 20
    code = deployed_code(**{name: other})
    with pytest.raises(AdapterMismatch, match=re.escape(f"has {name} {other}, not {what}")):
        check(code)


def test_copies_of_one_immutable_that_disagree_are_refused() -> None:
    code = deployed_code()
    start, _length = project_build().spans["pool"][-1]
    code[start + 31] ^= 0x01
    with pytest.raises(AdapterMismatch, match="pool differs between its copies"):
        check(code)


def test_the_comparison_ignores_case_of_the_expected_addresses() -> None:
    mixed = "0xAbCdEf" + "ab" * 17
    check(deployed_code(owner=mixed.lower()), owner=mixed)

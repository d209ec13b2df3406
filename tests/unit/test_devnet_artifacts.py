"""Artifacts from npm @aave/core-v3: found by name, libraries linked at the referenced offsets."""

from __future__ import annotations

import pytest

from bot.devnet import artifacts

FAKE = {
    name: f"0x{i:040x}"
    for i, name in enumerate(
        ["SupplyLogic", "BorrowLogic", "LiquidationLogic", "EModeLogic", "BridgeLogic", "PoolLogic",
         "FlashLoanLogic", "ConfiguratorLogic"],
        start=0xA0,
    )
}  # fmt: skip


def test_artifacts_pool_needs_the_seven_pool_libraries() -> None:
    pool = artifacts.load("Pool")
    assert set(pool.libraries) == {
        "SupplyLogic", "BorrowLogic", "LiquidationLogic", "EModeLogic", "BridgeLogic", "PoolLogic", "FlashLoanLogic",
    }  # fmt: skip


def test_artifacts_flashloanlogic_is_the_only_library_linked_to_a_library() -> None:
    assert artifacts.load("FlashLoanLogic").libraries == ("BorrowLogic",)
    for name in ("SupplyLogic", "BorrowLogic", "LiquidationLogic", "PoolLogic", "ConfiguratorLogic"):
        assert artifacts.load(name).libraries == ()


def test_artifacts_linking_writes_each_address_at_every_reference() -> None:
    pool = artifacts.load("Pool")
    assert "__$" in pool.bytecode
    code = pool.linked(FAKE)
    assert "__$" not in code
    assert len(code) == len(pool.bytecode)
    for libs in pool.link_references.values():
        for lib, spots in libs.items():
            for spot in spots:
                start = 2 + 2 * spot["start"]
                assert code[start : start + 40] == FAKE[lib][2:]


def test_artifacts_linking_without_a_library_refuses() -> None:
    with pytest.raises(ValueError, match="BorrowLogic"):
        artifacts.load("FlashLoanLogic").linked({})


def test_artifacts_unknown_name_raises_key_error() -> None:
    with pytest.raises(KeyError):
        artifacts.load("NoSuchContract")


def test_artifacts_mock_aggregator_keeps_its_answer_in_slot_zero() -> None:
    # set_price writes slot 0; the only state variable must be the answer (no setter exists).
    names = {item.get("name") for item in artifacts.abi("MockAggregator")}
    assert {"latestAnswer", "decimals"} <= names
    assert not any(n and n.startswith("set") for n in names)

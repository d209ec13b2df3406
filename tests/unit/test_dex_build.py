"""The committed adapter build is what the Solidity source compiles to with the pinned solc-js."""

from __future__ import annotations

from bot.adapters.chain import dex_adapter
from bot.devnet.dex.build import compile_adapter


def test_the_committed_adapter_build_is_the_source_compiled_by_the_pinned_solc() -> None:
    fresh = compile_adapter()
    committed = dex_adapter.artifact()

    assert fresh["compiler"] == "solc-js 0.8.28+commit.7893614a.Emscripten.clang"
    assert committed == fresh
    assert committed["bytecode"].startswith("0x60") and len(committed["deployedBytecode"]) > 2_000

"""Is the contract at ``[dex] adapter_address`` the project's adapter build, for this wallet?

A deployed adapter's runtime code is the committed build's ``deployedBytecode`` with the three
immutables (owner, Aave Pool, Uniswap v3 SwapRouter) written in at the positions the compiler
recorded (``immutableReferences``). So: zero those spans and the code must equal the build byte
for byte; then every copy of each immutable must hold the same value, and that value must be the
wallet, the market's Pool and the configured router. Pure: the caller reads the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.adapters.chain import dex_adapter
from bot.errors import UserInputError

# The immutables in declaration order (``owner``, ``pool``, ``router`` in the source): solc numbers
# their AST ids in that order, and ``immutableReferences`` is keyed by those ids.
IMMUTABLE_NAMES = ("owner", "pool", "router")


class AdapterMismatch(UserInputError):
    """The configured adapter address does not hold the project's adapter for this wallet."""


@dataclass(frozen=True, slots=True)
class AdapterBuild:
    """The build's runtime code (immutables zeroed) and where each immutable sits in it."""

    runtime_code: bytes
    spans: dict[str, tuple[tuple[int, int], ...]]  # name -> ((start, length), …)


def project_build() -> AdapterBuild:
    artifact = dex_adapter.artifact()
    references = artifact["immutableReferences"]
    ids = sorted(references, key=int)
    if len(ids) != len(IMMUTABLE_NAMES):
        raise RuntimeError(f"the adapter build has {len(ids)} immutables, expected {len(IMMUTABLE_NAMES)}")
    spans = {
        name: tuple((int(ref["start"]), int(ref["length"])) for ref in references[ast_id])
        for name, ast_id in zip(IMMUTABLE_NAMES, ids, strict=True)
    }
    return AdapterBuild(bytes.fromhex(str(artifact["deployedBytecode"]).removeprefix("0x")), spans)


def immutables_in(code: bytes, build: AdapterBuild) -> dict[str, str]:
    """Each immutable's value in ``code`` as a lower-case address; raises when its copies differ
    or a value is not an address (20 bytes, zero-padded)."""
    values: dict[str, str] = {}
    for name, spans in build.spans.items():
        words = {code[start : start + length] for start, length in spans}
        if len(words) != 1:
            raise AdapterMismatch(f"the adapter's {name} differs between its copies in the code")
        word = words.pop()
        if len(word) != 32 or any(word[:12]):
            raise AdapterMismatch(f"the adapter's {name} is not an address")
        values[name] = "0x" + word[12:].hex()
    return values


def masked(code: bytes, build: AdapterBuild) -> bytes:
    out = bytearray(code)
    for spans in build.spans.values():
        for start, length in spans:
            out[start : start + length] = bytes(length)
    return bytes(out)


def check_adapter_code(
    code: bytes, *, address: str, owner: str, pool: str, router: str, build: AdapterBuild | None = None
) -> None:
    """Raise ``AdapterMismatch`` (one line) unless ``code`` (the runtime code at ``address``) is the
    project's adapter build deployed by ``owner`` for ``pool`` and ``router``."""
    build = build or project_build()
    if not code:
        raise AdapterMismatch(f"[dex] adapter_address {address} holds no contract on this chain")
    if len(code) != len(build.runtime_code) or masked(code, build) != build.runtime_code:
        raise AdapterMismatch(
            f"[dex] adapter_address {address} is not this version's adapter build "
            "(its runtime code differs): deploy it with `delever adapter deploy`"
        )
    found = immutables_in(code, build)
    expected = {"owner": owner, "pool": pool, "router": router}
    for name in IMMUTABLE_NAMES:
        if found[name] != expected[name].lower():
            what = {"owner": "the wallet", "pool": "the market's Aave Pool", "router": "[dex] swap_router"}[name]
            raise AdapterMismatch(
                f"[dex] adapter_address {address} has {name} {found[name]}, not {what} {expected[name]}: "
                "deploy one with `delever adapter deploy`"
            )

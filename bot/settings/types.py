"""Constrained value types for the settings and the chain-id tables behind the mode rules.

Validators here never put the input into their message: a value may be a secret in the wrong
place, and pydantic's own messages are re-raised without the input (see ``bot.settings.errors``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlsplit

from eth_utils import to_checksum_address
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

FROZEN_STRICT = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost); names are not resolved."""
    import ipaddress

    if host.strip().lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


# Chain ids a "testnet" run may use; anything else (mainnets and unknown ids) is refused there.
TESTNET_CHAIN_IDS: dict[int, str] = {
    31337: "anvil / hardhat devnet",
    1337: "local devnet",
    11155111: "Ethereum Sepolia",
    17000: "Ethereum Holesky",
    560048: "Ethereum Hoodi",
    84532: "Base Sepolia",
    421614: "Arbitrum Sepolia",
    11155420: "OP Sepolia",
    80002: "Polygon Amoy",
    43113: "Avalanche Fuji",
    534351: "Scroll Sepolia",
    97: "BNB Chain testnet",
}

MAINNET_CHAIN_IDS: dict[int, str] = {
    1: "Ethereum",
    10: "OP Mainnet",
    56: "BNB Chain",
    100: "Gnosis",
    137: "Polygon",
    324: "zkSync Era",
    1088: "Metis",
    5000: "Mantle",
    8453: "Base",
    42161: "Arbitrum One",
    43114: "Avalanche C-Chain",
    59144: "Linea",
    534352: "Scroll",
}

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_PRIVATE_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_ZERO_ADDRESS = "0x" + "0" * 40


def _checksummed(value: object) -> str:
    if not isinstance(value, str) or not _HEX_ADDRESS.match(value):
        raise ValueError("must be a 0x-prefixed 20-byte hex address")
    expected = to_checksum_address(value)
    if value != expected:
        # An address is public; showing the checksummed form is the quickest fix.
        raise ValueError(f"must be EIP-55 checksummed ({expected})")
    if value == _ZERO_ADDRESS:
        raise ValueError("must not be the zero address")
    return value


def url_validator(schemes: tuple[str, ...]):
    def check(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a URL string")
        try:
            parts = urlsplit(value)
        except ValueError:
            raise ValueError("must be a valid URL") from None
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"must be a {' or '.join(schemes)} URL with a host")
        return value

    return check


def private_key_shape(value: object) -> object:
    # Runs before SecretStr wraps the value: check the shape, say nothing about the content.
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    if not isinstance(raw, str) or not _PRIVATE_KEY.match(raw.strip()):
        raise ValueError("must be 32 bytes of hex (64 hex digits, optional 0x)")
    return raw.strip()


ChecksumAddress = Annotated[str, AfterValidator(_checksummed)]
RpcUrl = Annotated[str, AfterValidator(url_validator(("http", "https", "ws", "wss")))]
HttpUrl = Annotated[str, AfterValidator(url_validator(("http", "https")))]
PrivateKeyFormat = BeforeValidator(private_key_shape)

PositiveUsd = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]*$", max_length=64)]

"""Compiled Aave v3 artifacts from npm ``@aave/core-v3`` (hardhat JSON), with library linking.

No compiler: the creation bytecode is used as shipped, with ``__$<34 hex>$__`` placeholders
replaced by deployed library addresses at the offsets ``linkReferences`` gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.devnet.anvil import repo_root
from bot.errors import UserInputError

ARTIFACTS_RELATIVE_PATH = Path("devnet-deps/node_modules/@aave/core-v3/artifacts")


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str  # creation code, "0x…", possibly with link placeholders
    link_references: dict[str, dict[str, list[dict[str, int]]]]

    @property
    def libraries(self) -> tuple[str, ...]:
        return tuple(lib for libs in self.link_references.values() for lib in libs)

    def linked(self, libraries: dict[str, str]) -> str:
        """Creation code with every library placeholder replaced by its address."""
        code = self.bytecode.removeprefix("0x")
        for _source, libs in self.link_references.items():
            for lib, spots in libs.items():
                if lib not in libraries:
                    raise ValueError(f"{self.name} needs library {lib} deployed first")
                address = libraries[lib].lower().removeprefix("0x")
                for spot in spots:
                    start = 2 * spot["start"]
                    code = code[:start] + address + code[start + 2 * spot["length"] :]
        if "__$" in code:
            raise ValueError(f"{self.name} still has unlinked placeholders")
        return "0x" + code


def artifacts_dir(root: Path | None = None) -> Path:
    path = (root or repo_root()) / ARTIFACTS_RELATIVE_PATH
    if not path.is_dir():
        raise UserInputError(f"Aave v3 artifacts not found at {path}: run `make install` first")
    return path


@lru_cache(maxsize=4)
def _index(directory: str) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in Path(directory).rglob("*.json"):
        if path.name.endswith(".dbg.json") or "build-info" in path.parts:
            continue
        # Mocks and real contracts share a few names; prefer the shortest (least nested) path.
        name = path.stem
        if name not in index or len(path.parts) < len(index[name].parts):
            index[name] = path
    return index


@lru_cache(maxsize=64)
def load(name: str, root: Path | None = None) -> Artifact:
    index = _index(str(artifacts_dir(root)))
    if name not in index:
        raise KeyError(f"no artifact named {name}")
    data = json.loads(index[name].read_text())
    return Artifact(
        name=data["contractName"],
        source=data["sourceName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        link_references=data.get("linkReferences", {}),
    )


def abi(name: str) -> list[dict[str, Any]]:
    return load(name).abi

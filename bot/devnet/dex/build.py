"""Compile the project's Solidity (``contracts/``) with the pinned solc-js and write the artifact.

The bot never compiles at run time: it loads the committed artifact
(``bot/adapters/chain/deleverage_adapter.json``). A unit test recompiles the source with the
npm ``solc`` pinned in ``devnet-deps`` and checks the bytes match, so the committed code is
always what the source says. After editing the source: ``python -m bot.devnet.dex.build``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.devnet.anvil import repo_root
from bot.errors import UserInputError

CONTRACT_NAME = "DeleverageAdapter"
SOURCE_RELATIVE_PATH = Path("contracts/DeleverageAdapter.sol")
ARTIFACT_RELATIVE_PATH = Path("bot/adapters/chain/deleverage_adapter.json")
SOLC_RELATIVE_PATH = Path("devnet-deps/node_modules/solc")

# Cancun: transient storage; every chain the bot targets has it.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "none"},  # the code depends on the source's meaning only
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.immutableReferences",
            ]
        }
    },
}

# solc-js reads the standard JSON on stdin and prints the output; no network, no filesystem imports.
_NODE_SCRIPT = """
const solc = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify({version: solc.version(), output: JSON.parse(solc.compile(input))}));
});
"""


def compile_adapter(root: Path | None = None) -> dict[str, Any]:
    """The artifact (abi, creation and runtime code, compiler version, settings) from the source."""
    root = root or repo_root()
    solc_dir = root / SOLC_RELATIVE_PATH
    node = shutil.which("node")
    if node is None or not solc_dir.is_dir():
        raise UserInputError(f"solc-js not found at {solc_dir} (or no node): run `make install` first")
    source_name = SOURCE_RELATIVE_PATH.as_posix()
    standard_input = {
        "language": "Solidity",
        "sources": {source_name: {"content": (root / SOURCE_RELATIVE_PATH).read_text()}},
        "settings": SETTINGS,
    }
    completed = subprocess.run(
        [node, "-e", _NODE_SCRIPT, str(solc_dir)],
        input=json.dumps(standard_input),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(completed.stdout)
    errors = [e for e in result["output"].get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise RuntimeError("solc: " + "; ".join(e.get("formattedMessage", e["message"]).strip() for e in errors))
    contract = result["output"]["contracts"][source_name][CONTRACT_NAME]
    return {
        "contractName": CONTRACT_NAME,
        "sourceName": source_name,
        "compiler": f"solc-js {result['version']}",
        "settings": {k: v for k, v in SETTINGS.items() if k != "outputSelection"},
        "abi": contract["abi"],
        "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + contract["evm"]["deployedBytecode"]["object"],
        # Where the constructor writes owner, pool and router into the runtime code: a deployed
        # adapter matches ``deployedBytecode`` once these spans are zeroed.
        "immutableReferences": contract["evm"]["deployedBytecode"]["immutableReferences"],
    }


def write_artifact(root: Path | None = None) -> Path:
    root = root or repo_root()
    path = root / ARTIFACT_RELATIVE_PATH
    path.write_text(json.dumps(compile_adapter(root), indent=1) + "\n")
    return path


if __name__ == "__main__":
    sys.stdout.write(f"wrote {write_artifact()}\n")

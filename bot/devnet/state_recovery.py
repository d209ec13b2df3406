"""`devnet down` when the state file is damaged: find what this devnet started, stop it.

Every process `devnet up` starts writes its output to a log in the state directory (anvil to
``anvil.log``, the exchange emulator to ``exchange.log``), so a live process whose stdout is one
of those files was started from this directory, whatever the state file still says. Pids that
can be read out of the damaged text but cannot be tied to a log are not ours to kill: they are
named for a human to check.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bot.devnet import anvil
from bot.devnet.state import DamagedStateFile
from bot.errors import UserInputError
from bot.logs import get_logger

ANVIL = "anvil"


def processes_logging_to(directory: Path) -> dict[str, int]:
    """Live processes whose stdout is a ``*.log`` in ``directory``: log stem -> pid."""
    logs = directory.resolve()
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            target = Path(os.readlink(entry / "fd" / "1"))
        except OSError:
            continue  # gone, or not ours to inspect
        if target.parent == logs and target.suffix == ".log" and anvil.pid_alive(int(entry.name)):
            found[target.stem] = int(entry.name)
    return found


def salvaged_pids(path: Path) -> dict[str, int]:
    """``name: pid`` pairs still legible in the damaged file's ``"pids"`` object."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    match = re.search(r'"pids"\s*:\s*\{([^}]*)', text)
    if not match:
        return {}
    return {name: int(pid) for name, pid in re.findall(r'"([A-Za-z0-9_\-]+)"\s*:\s*(\d{1,9})', match.group(1))}


def stop_from_damaged(damaged: DamagedStateFile) -> list[str]:
    """Stop the processes this devnet started (found by their logs), anvil last, and remove the
    damaged file. ``UserInputError`` naming the file and the pids to check when a pid it names
    is alive but cannot be tied to this devnet."""
    path = damaged.path
    ours = processes_logging_to(path.parent)
    unproven = {
        name: pid for name, pid in salvaged_pids(path).items() if pid not in ours.values() and anvil.pid_alive(pid)
    }
    stopped = []
    for name in sorted(ours, key=lambda n: n == ANVIL):  # anvil last: the emulator reads it
        if anvil.terminate_pid(ours[name]):
            stopped.append(name)
    if unproven:
        named = ", ".join(f"{name} pid {pid}" for name, pid in sorted(unproven.items()))
        raise UserInputError(
            f"devnet state file {path} {damaged.problem}; stopped {', '.join(stopped) or 'nothing'}; it names {named}, still running but not "
            f"provably started by this devnet: stop them by hand if they are (kill PID), then delete {path}"
        )
    path.unlink(missing_ok=True)
    get_logger("delever.devnet").warning(
        "devnet_state_damaged", file=str(path), problem=damaged.problem, stopped=stopped, removed=True
    )
    return stopped

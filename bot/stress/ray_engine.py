"""The stress lab's tasks on Ray: a local Ray (``ray.init()``) or an existing cluster
(``--ray-address``). The same ``StressTask``s as the process pool, one Ray task each (a task
is a chunk of paths, so Ray's per-task overhead stays small), gathered in task order: the same
seed gives the same JSON on either engine.

On a cluster, every node needs delever installed (the same version): the tasks import it.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from typing import Any

from bot.backtest.sweep import progress_bar
from bot.errors import UserInputError
from bot.stress.lab import StressTask, run_stress_task


def run_on_ray(tasks: list[StressTask], *, address: str | None, cpus: int | None, progress: bool) -> list[Any]:
    try:
        import ray
    except ImportError:
        raise UserInputError("--engine ray needs the ray package (pip install ray)") from None
    started = not ray.is_initialized()
    if started:
        _check_reachable(address)
        try:
            with warnings.catch_warnings():  # Ray Client warns before it raises: one line, ours
                warnings.simplefilter("ignore", UserWarning)
                ray.init(
                    address=address,
                    num_cpus=None if address else cpus,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                    configure_logging=False,
                )
        except ConnectionError as exc:
            raise UserInputError(f"--ray-address {address}: cannot connect ({exc}){_auth_hint()}") from None
    remote = ray.remote(run_stress_task)
    bar = progress_bar(len(tasks), "stress (ray)") if progress else None
    try:
        refs = [remote.remote(task) for task in tasks]
        results = []
        for ref in refs:  # in task order: the first failing chunk is the one reported
            try:
                results.append(ray.get(ref))
            except ray.exceptions.RayTaskError as exc:
                raise exc.cause from None  # the task's own error (one line), not Ray's traceback
            if bar:
                bar[0].advance(bar[1])
        return results
    finally:
        if bar:
            bar[0].stop()
        if started:
            ray.shutdown()


# A GCS address that does not answer makes ray.init retry for minutes, logging as it goes: a
# bounded TCP connect first. (Ray Client, "ray://", has its own 30 s bound; "auto" reads a file.)
CONNECT_TIMEOUT_S = 10.0


def _check_reachable(address: str | None) -> None:
    if address is None or address in ("auto", "local") or address.startswith("ray://"):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserInputError(f"--ray-address {address}: expected HOST:PORT (the head's GCS), ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise UserInputError(f"--ray-address {address}: cannot connect ({exc.strerror or exc})") from None


def _auth_hint() -> str:
    """Ray turns token authentication on by default for clusters (2.59 local, 2.61 all): a driver
    without it is refused in words that do not say so."""
    if os.environ.get("RAY_AUTH_MODE") == "token":
        return ""
    return "; a cluster with token authentication needs RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN or ~/.ray/auth_token)"

"""`delever stress --engine ray` on a local Ray of two CPUs, and on an existing cluster (a
`ray start --head` on loopback, by its GCS address and by Ray Client), gives byte for byte the
JSON of the local process pool for the same seed; a cluster it cannot use is one line, exit 2."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARGS = ["stress", "--paths", "12", "--horizon", "2d", "--bar", "1h", "--seed", "3", "--workers", "2", "--json"]


def test_ray_and_the_process_pool_give_the_same_json():
    local = CliRunner().invoke(app, ARGS)
    on_ray = CliRunner().invoke(app, [*ARGS, "--engine", "ray"])
    assert local.exit_code == 0, local.output
    assert on_ray.exit_code == 0, on_ray.output
    assert on_ray.stdout == local.stdout
    rows = json.loads(on_ray.stdout)["policies"]
    assert [r["paths"] for r in rows] == [12, 12, 12, 12]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_head() -> Iterator[dict[str, str]]:
    """A Ray cluster's head of 2 CPUs on loopback (`ray start --head`, with token authentication
    as Ray now turns on by default), stopped after the module: the GCS and Ray Client ports, and
    the environment a driver needs (its own HOME, so no ~/.ray of the user's is read or written)."""
    gcs, client = _free_port(), _free_port()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths have a length limit
    ray = [str(Path(sys.executable).with_name("ray"))]
    cluster = {"gcs": str(gcs), "client": str(client), "HOME": temp, "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env = {**os.environ, "RAY_AUTH_MODE": "token", "HOME": temp, "RAY_AUTH_TOKEN": cluster["RAY_AUTH_TOKEN"]}
    args = ["start", "--head", f"--port={gcs}", f"--ray-client-server-port={client}", "--num-cpus=2"]
    args += ["--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"]
    try:
        subprocess.run([*ray, *args], env=env, check=True, capture_output=True, timeout=180)
        yield cluster
    finally:
        subprocess.run([*ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def _stress(*extra: str, cluster: dict[str, str], auth: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "DELEVER_"))} | {"HOME": cluster["HOME"]}
    if auth:
        env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": cluster["RAY_AUTH_TOKEN"]}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *ARGS, *extra], env=env, capture_output=True, text=True, timeout=300
    )


def test_an_existing_cluster_by_its_gcs_or_ray_client_address_gives_the_same_json(ray_head):
    gcs, client = ray_head["gcs"], ray_head["client"]
    local = _stress(cluster=ray_head, auth=False)

    on_node = _stress("--engine", "ray", "--ray-address", f"127.0.0.1:{gcs}", cluster=ray_head, auth=True)
    by_client = _stress("--engine", "ray", "--ray-address", f"ray://127.0.0.1:{client}", cluster=ray_head, auth=True)

    assert local.returncode == 0, local.stderr[-2000:]
    assert (on_node.returncode, on_node.stderr[-2000:]) == (0, on_node.stderr[-2000:])
    assert (by_client.returncode, by_client.stderr[-2000:]) == (0, by_client.stderr[-2000:])
    assert on_node.stdout == local.stdout and by_client.stdout == local.stdout


def test_a_cluster_that_refuses_the_driver_or_does_not_answer_is_one_line_and_exit_2(ray_head):
    gcs, closed = ray_head["gcs"], _free_port()

    no_token = _stress("--engine", "ray", "--ray-address", f"127.0.0.1:{gcs}", cluster=ray_head, auth=False)
    nobody = _stress("--engine", "ray", "--ray-address", f"127.0.0.1:{closed}", cluster=ray_head, auth=True)

    assert no_token.returncode == 2 and "RAY_AUTH_MODE=token" in no_token.stderr.strip().splitlines()[-1]
    assert nobody.returncode == 2
    assert nobody.stderr.strip().splitlines() == [
        f"delever: error: --ray-address 127.0.0.1:{closed}: cannot connect (Connection refused)"
    ]

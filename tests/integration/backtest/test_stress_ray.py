"""`delever stress --engine ray` on a local Ray of two CPUs gives byte for byte the JSON of the
local process pool for the same seed."""

from __future__ import annotations

import json

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

"""Stress lab speed: 10-day 5-minute bootstrapped paths (2,880 bars), each a whole backtest
through the daemon's engine.

- ``small``: the threshold policy alone on 100 WETH at HF 1.45 (a few batches a path), on the
  process pool of two workers and on a local Ray of two CPUs (start-up included): paths per
  second and the Ray / pool ratio.
- ``feb-2026``: the February 2026 position of the case study (651,000 WETH against $1B,
  $5M of depth within 1 %, crash factor 0.3, the fund's limits), the threshold policy at the
  worked question's three triggers: hundreds of batches a path. ``extra_info`` extrapolates
  10,000 paths × 3 policies on two cores from the measured rate.

Slow (minutes on two cores): ``make bench`` or ``pytest --benchmark-enable -m slow`` runs them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.settings import load_backtest_settings
from bot.stress.lab import HistorySource, StressTask, chunks, run_stress

pytestmark = pytest.mark.slow

WORKERS = 2
SOURCE = HistorySource(bar_s=300, horizon=2_880, seed=1, block=24, window=72, start_price=2451.96)
FEB_POSITION = (("collateral", "651000"), ("debt", "1000000000"))
FEB_LIMITS = (
    '[limits]\nhf_floor = "1.05"\nmax_slippage_bps = 50\ncooldown_s = 0\n'
    'max_batch_usd = "1e12"\nmax_daily_usd = "1e12"\n'
)
TRIGGERS = ("1.2", "1.25", "1.3")


def small_tasks(n_paths: int) -> list[StressTask]:
    return [
        StressTask(SOURCE, 0, ids.start, ids.stop, "threshold", (), "100", "1.45", ()) for ids in chunks(n_paths, 8)
    ]


def feb_tasks(n_paths: int, config: Path) -> list[StressTask]:
    tasks = []
    for point, trigger in enumerate(TRIGGERS):
        values = (
            ("depth_usd_1pct", "5000000"),
            ("crash_depth_factor", "0.3"),
            ("trigger_hf", trigger),
            ("target_hf", "1.8"),
        )
        for ids in chunks(n_paths, 1):
            tasks.append(
                StressTask(
                    SOURCE,
                    point,
                    ids.start,
                    ids.stop,
                    "threshold",
                    values,
                    "100",
                    "1.45",
                    (),
                    FEB_POSITION,
                    load_backtest_settings(str(config)),
                )
            )
    return tasks


def paths_run(rows: list) -> int:
    return sum(len(chunk) for chunk in rows)


@pytest.mark.timeout(3600)
def test_bench_stress_small_position_on_the_pool_and_on_ray(benchmark):
    n_paths = 400
    tasks = small_tasks(n_paths)
    start = time.perf_counter()
    pool_rows = run_stress(tasks, workers=WORKERS, progress=False)
    pool_s = time.perf_counter() - start

    def on_ray():
        from bot.stress.ray_engine import run_on_ray

        return run_on_ray(tasks, address=None, cpus=WORKERS, progress=False)

    ray_rows = benchmark.pedantic(on_ray, rounds=1, iterations=1) if benchmark.enabled else benchmark(on_ray)
    assert ray_rows == pool_rows
    assert paths_run(pool_rows) == n_paths
    if benchmark.enabled:
        ray_s = benchmark.stats.stats.mean
        warm_s = _on_a_running_ray(tasks, pool_rows)
        benchmark.extra_info["pool_paths_per_second"] = round(n_paths / pool_s, 2)
        benchmark.extra_info["ray_paths_per_second"] = round(n_paths / ray_s, 2)
        benchmark.extra_info["ray_to_pool"] = round(pool_s / ray_s, 3)
        benchmark.extra_info["running_ray_paths_per_second"] = round(n_paths / warm_s, 2)
        benchmark.extra_info["running_ray_to_pool"] = round(pool_s / warm_s, 3)
        benchmark.extra_info["load_average"] = os.getloadavg()[0]


def _on_a_running_ray(tasks: list[StressTask], expected: list) -> float:
    """Seconds for the same tasks on a local Ray already started and warm (an existing
    cluster's case: no start-up in the time)."""
    import logging

    import ray

    from bot.stress.ray_engine import run_on_ray

    ray.init(num_cpus=WORKERS, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        assert run_on_ray(tasks[:WORKERS], address=None, cpus=WORKERS, progress=False) == expected[:WORKERS]
        start = time.perf_counter()
        assert run_on_ray(tasks, address=None, cpus=WORKERS, progress=False) == expected
        return time.perf_counter() - start
    finally:
        ray.shutdown()


@pytest.mark.timeout(7200)
def test_bench_stress_feb_2026_position_three_triggers(benchmark, tmp_path):
    n_paths = 8  # per trigger; the extrapolation scales the measured rate
    config = tmp_path / "fund.toml"
    config.write_text(FEB_LIMITS)
    tasks = feb_tasks(n_paths, config)
    cpu0 = time.process_time()

    def run():
        return run_stress(tasks, workers=WORKERS, progress=False)

    rows = benchmark.pedantic(run, rounds=1, iterations=1) if benchmark.enabled else benchmark(run)
    assert paths_run(rows) == n_paths * len(TRIGGERS)
    if benchmark.enabled:
        wall = benchmark.stats.stats.mean
        runs = n_paths * len(TRIGGERS)
        benchmark.extra_info["path_runs_per_second"] = round(runs / wall, 3)
        benchmark.extra_info["minutes_for_10000_paths_x_3"] = round(30_000 / (runs / wall) / 60, 1)
        benchmark.extra_info["driver_cpu_s"] = round(time.process_time() - cpu0, 1)
        benchmark.extra_info["load_average"] = os.getloadavg()[0]

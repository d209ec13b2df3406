"""Parameter sweeps: ``--set key=a,b,c`` grids over params (and candle windows), run in parallel
processes with a progress bar; one row per (window, combination, policy).

Each task names its candles by file path and time range (workers load and cache them), so
nothing big crosses process boundaries. Results come back in task order: a sweep's output
does not depend on the number of workers or on scheduling.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from bot.backtest.baselines import BASELINES
from bot.backtest.data import Candles, load_csv
from bot.errors import ConfigError
from bot.settings import BacktestSettings, load_backtest_settings
from strategies import parse_set_pairs


@dataclass(frozen=True)
class Window:
    path: str
    since: int | None = None
    until: int | None = None

    @property
    def label(self) -> str:
        return os.path.basename(self.path)


@dataclass(frozen=True)
class Task:
    window: Window
    policy: str | None  # None: the config's policy.name
    values: tuple[tuple[str, str], ...]
    collateral: str
    start_hf: str
    baselines: tuple[str, ...]
    position: tuple[tuple[str, str], ...] | None = None
    config: str | None = None  # the config file (None: the schema's defaults)


def parse_sets(pairs: list[str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Split ``--set`` pairs into fixed values and sweep axes (``key=a,b,c``).

    JSON lists/objects (``steps=[[0,0.25]]``) are values, never axes."""
    fixed: list[str] = []
    axes: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        raw = raw.strip()
        if sep and "," in raw and not raw.startswith(("[", "{", '"')):
            values = [v.strip() for v in raw.split(",")]
            if not key.strip() or any(not v for v in values):
                raise ConfigError(f"--set {pair!r}: empty value in the sweep list")
            axes[key.strip()] = values
        else:
            fixed.append(pair)
    return parse_set_pairs(fixed), axes


def grid(axes: dict[str, list[str]]) -> list[dict[str, str]]:
    if not axes:
        return [{}]
    keys = list(axes)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(axes[k] for k in keys))]


@lru_cache(maxsize=16)
def _candles(window: Window) -> Candles:
    c = load_csv(window.path)
    if window.since is not None and window.until is not None:
        c = c.between(window.since, window.until)
    return c


@lru_cache(maxsize=4)
def _settings(path: str | None) -> BacktestSettings:
    return load_backtest_settings(path)


def run_task(task: Task) -> list[dict[str, Any]]:
    from bot.backtest.scenario import PolicyFailed

    position = dict(task.position) if task.position else None
    try:
        out = _run_scenario(task, position)
    except PolicyFailed as exc:
        point = ", ".join(f"{k}={v}" for k, v in task.values)
        raise PolicyFailed(f"sweep point {point or '(fixed)'}: {exc}") from None
    return out.summaries


def _run_scenario(task: Task, position: dict[str, Any] | None) -> Any:
    from bot.backtest.scenario import run_scenario

    return run_scenario(
        _candles(task.window),
        task.policy,
        dict(task.values),
        collateral=Decimal(task.collateral),
        start_hf=Decimal(task.start_hf),
        position=position,
        baselines=task.baselines,
        config=_settings(task.config),
    )


def tasks_for(
    windows: list[Window],
    policy: str | None,
    fixed: dict[str, Any],
    axes: dict[str, list[str]],
    *,
    collateral: str,
    start_hf: str,
    baselines: tuple[str, ...] = BASELINES,
    position: dict[str, Any] | None = None,
    config: str | None = None,
) -> list[Task]:
    pos = tuple(sorted((k, str(v)) for k, v in position.items())) if position else None
    tasks = []
    for window in windows:
        for combo in grid(axes):
            values = {**{k: (v if isinstance(v, str) else _json(v)) for k, v in fixed.items()}, **combo}
            tasks.append(Task(window, policy, tuple(values.items()), collateral, start_hf, baselines, pos, config))
    return tasks


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _warm_shock_tables(tasks: list[Task]) -> None:
    from bot.backtest.scenario import split_settings
    from bot.compose.shock_history import shock_table

    configs = {task.config: _settings(task.config) for task in tasks}
    for task in tasks:
        shock_table(split_settings(dict(task.values), configs[task.config]).config.limits.shock_quantile)


def run_sweep(
    tasks: Sequence[Any],
    *,
    workers: int | None = None,
    progress: bool = True,
    run: Callable[[Any], Any] | None = None,
    label: str = "sweep",
) -> list[Any]:
    """Run every task with ``run`` (default: ``run_task``, a backtest per task; the stress lab
    passes its own); ``workers`` processes (default: the CPU count, 1 = in this process)."""
    run = run or run_task
    workers = min(workers or os.cpu_count() or 1, max(1, len(tasks)))  # no idle processes
    results: list[Any] = [None] * len(tasks)
    bar = progress_bar(len(tasks), label) if progress else None
    try:
        if workers <= 1 or len(tasks) <= 1:
            for n, task in enumerate(tasks):
                results[n] = run(task)
                if bar:
                    bar[0].advance(bar[1])
        else:
            if run is run_task:
                _warm_shock_tables(tasks)  # built once here, inherited by the forked workers
            pool = ProcessPoolExecutor(max_workers=workers)
            try:
                futures = [pool.submit(run, task) for task in tasks]
                # In task order: the failure reported is the first point's that fails, whatever
                # the scheduling.
                for n, fut in enumerate(futures):
                    results[n] = fut.result()
                    if bar:
                        bar[0].advance(bar[1])
            finally:
                pool.shutdown(wait=True, cancel_futures=True)  # a failed point stops the sweep
    finally:
        if bar:
            bar[0].stop()
    return [r or [] for r in results]


def progress_bar(total: int, label: str = "sweep") -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(
        label,
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    progress.start()
    return progress, progress.add_task(label, total=total)

"""The stress lab: one backtest per path, per grid point — the policy under test and the
baselines through the one engine (``bot.backtest.scenario.run_scenario``) — reduced to the
odds (``bot.stress.stats``).

Work goes out as ``StressTask``s: a grid point and a chunk of path numbers. A worker rebuilds
its paths from the source (a seed or file names: nothing big crosses process boundaries) and
returns one small ``PathOutcome`` per path and actor. Tasks run through the backtest sweep's
process pool and progress bar (``bot.backtest.sweep.run_sweep``); results come back in task
order, so the output does not depend on the number of workers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numpy as np

from bot.backtest.data import Candles, load_csv, validate
from bot.backtest.runner import RunResult
from bot.backtest.sweep import run_sweep
from bot.settings import BacktestSettings, load_backtest_settings
from bot.stress.stats import PathOutcome, summarise_policy

START_T = 1_767_225_600  # 2026-01-01T00:00Z: bootstrapped paths' first open (UTC days matter to the daily cap)


@dataclass(frozen=True)
class HistorySource:
    """Paths from the shipped history: its regime-aware block bootstrap (``bot.stress.paths``)
    or a jump diffusion fitted to it (``bot.stress.jumps``)."""

    bar_s: int
    horizon: int  # bars per path
    seed: int
    block: int  # bars per block
    window: int  # bars in the realised-volatility state
    start_price: float
    model: str = "bootstrap"  # or "jumps"

    def candles(self, ids: range) -> list[Candles]:
        from bot.stress.history import shipped_history
        from bot.stress.paths import bootstrap, scaled

        history = shipped_history(self.bar_s, self.window, self.block)
        numbers = np.arange(ids.start, ids.stop)
        if self.model == "jumps":
            from bot.stress.jumps import fit, simulate

            unit = simulate(fit(history.bars), numbers, seed=self.seed, horizon=self.horizon)
        else:
            unit = bootstrap(history, numbers, seed=self.seed, horizon=self.horizon, block=self.block)
        paths = scaled(unit, self.start_price)
        ts = START_T + self.bar_s * np.arange(self.horizon, dtype=np.int64)
        out = []
        for i, p in zip(ids, paths):
            c = Candles(ts, p[:, 0], p[:, 1], p[:, 2], p[:, 3], p[:, 4], source=f"{self.model} path {i}")
            validate(c, name=c.source)  # a long horizon could leave the prices a simulation can carry
            out.append(c)
        return out

    def fitted(self) -> dict[str, Any]:
        """The jump diffusion's fitted parameters (empty for the bootstrap)."""
        if self.model != "jumps":
            return {}
        from bot.stress.history import shipped_history
        from bot.stress.jumps import fit

        m = fit(shipped_history(self.bar_s, self.window, self.block).bars)
        return {k: format(v, ".6g") for k, v in dataclasses.asdict(m).items()}

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.model,
            "bar_s": self.bar_s,
            "horizon_bars": self.horizon,
            "seed": self.seed,
            "block_bars": self.block,
            "window_bars": self.window,
            "start_price": repr(self.start_price),
            **({"fitted": self.fitted()} if self.model == "jumps" else {}),
        }


@dataclass(frozen=True)
class CsvSource:
    """The user's own paths: one candle CSV per path."""

    files: tuple[str, ...]

    def candles(self, ids: range) -> list[Candles]:
        return [_csv(self.files[i]) for i in ids]

    def describe(self) -> dict[str, Any]:
        return {"kind": "files", "files": len(self.files)}


@lru_cache(maxsize=4)
def _settings(path: str | None) -> BacktestSettings:
    return load_backtest_settings(path)


@lru_cache(maxsize=64)
def _csv(path: str) -> Candles:
    return load_csv(path)


PathSource = HistorySource | CsvSource


@dataclass(frozen=True)
class StressTask:
    source: PathSource
    point: int  # the grid point's index
    first: int  # path numbers [first, stop)
    stop: int
    policy: str | None
    values: tuple[tuple[str, str], ...]
    collateral: str
    start_hf: str
    baselines: tuple[str, ...]
    position: tuple[tuple[str, str], ...] | None = None
    config: str | None = None


def run_stress_task(task: StressTask) -> list[list[tuple[str, PathOutcome]]]:
    """Per path of the chunk: each actor's name and outcome, in the scenario's actor order."""
    from bot.backtest.scenario import BASELINE_TARGET_HF, PolicyFailed, run_scenario

    out = []
    for n, candles in zip(range(task.first, task.stop), task.source.candles(range(task.first, task.stop))):
        try:
            outcome = run_scenario(
                candles,
                task.policy,
                dict(task.values),
                collateral=Decimal(task.collateral),
                start_hf=Decimal(task.start_hf),
                position=dict(task.position) if task.position else None,
                baselines=task.baselines,
                config=_settings(task.config),
            )
        except PolicyFailed as exc:
            point = ", ".join(f"{k}={v}" for k, v in task.values)
            raise PolicyFailed(f"path {n} ({point or 'fixed params'}): {exc}") from None
        params = outcome.inputs["policy"]["params"]
        target = Decimal(str(dict(task.values).get("target_hf") or params.get("target_hf") or BASELINE_TARGET_HF))
        out.append([(s["policy"], path_outcome(r, s, target)) for r, s in zip(outcome.results, outcome.summaries)])
    return out


def path_outcome(result: RunResult, summary: dict[str, Any], target_hf: Decimal) -> PathOutcome:
    return PathOutcome(
        liquidated=bool(summary["liquidated"]),
        shortfall_usd=summary["shortfall_usd"],
        liquidation_penalty_usd=summary["liquidation_penalty_usd"],
        equity_vs_hold_usd=summary["equity_vs_hold_usd"],
        min_health_factor=summary["min_health_factor"],
        time_to_target_s=time_to_target(result, target_hf),
        acted=bool(result.world.ledger.batch_log),
    )


def time_to_target(result: RunResult, target_hf: Decimal) -> int | None:
    """Seconds from the first batch's start to the last repay of the first batch that left HF
    at ``target_hf`` or above (or the debt repaid), at the oracle of that repay; None if the
    run never acted or never got there. An atomic swap (one-shot) ends where it starts."""
    batches = sorted(result.world.ledger.batch_log.values(), key=lambda b: b.t)
    if not batches:
        return None
    ends: dict[str, int] = {}
    for move in result.world.moves:
        if move.kind == "repay":
            batch_id = move.key.split(":", 1)[0]
            ends[batch_id] = max(ends.get(batch_id, move.t), move.t)
    for b in batches:
        if b.repaid > 0 and (b.hf_after is None or b.hf_after >= target_hf):
            return ends.get(b.batch_id, b.t) - batches[0].t
    return None


def chunks(n_paths: int, size: int) -> list[range]:
    return [range(a, min(n_paths, a + size)) for a in range(0, n_paths, size)]


def run_stress(tasks: list[StressTask], *, workers: int | None, progress: bool) -> list[Any]:
    """Every task's per-path outcomes, in task order (the sweep's pool and progress bar)."""
    return run_sweep(tasks, workers=workers, progress=progress, run=run_stress_task, label="stress")


Group = tuple[dict[str, str], str, list[PathOutcome]]  # grid point's params, actor, its paths' outcomes


def group(points: list[dict[str, str]], tasks: list[StressTask], rows: list[Any]) -> list[Group]:
    """The outcomes per grid point and actor, in grid then actor order."""
    by_point: list[dict[str, list[PathOutcome]]] = [{} for _ in points]
    for task, chunk in zip(tasks, rows):
        per_actor = by_point[task.point]
        for path in chunk:
            for name, outcome in path:
                per_actor.setdefault(name, []).append(outcome)
    return [
        (params, name, outcomes) for params, per_actor in zip(points, by_point) for name, outcomes in per_actor.items()
    ]


def reduce(groups: list[Group]) -> list[dict[str, Any]]:
    """One summary per grid point and actor (``bot.stress.stats``)."""
    return [{"policy": name, "params": params, **summarise_policy(outcomes)} for params, name, outcomes in groups]

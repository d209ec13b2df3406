"""`delever stress`: the odds of liquidation over many price paths, per policy and grid point."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import typer

from bot.cli.common import EXIT_RUNTIME, EXIT_USER, fail, print_json
from bot.errors import UserInputError

MAX_PATHS = 10_000_000
MAX_HORIZON_BARS = 10_000_000
CHUNK_PATHS = 8  # paths per task at most: large enough to amortise a task, small enough for a smooth bar
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(app: typer.Typer) -> None:
    @app.command("stress")
    def stress(
        paths: int = typer.Option(1000, "--paths", help="Bootstrapped paths per grid point."),
        horizon: str = typer.Option("10d", "--horizon", help="Length of a bootstrapped path (e.g. 10d, 36h)."),
        bar: str = typer.Option("5m", "--bar", help="Bar of a bootstrapped path (1m, 5m, 15m, 30m, 1h)."),
        model: str = typer.Option(
            "bootstrap",
            "--model",
            help="Paths from the history: bootstrap (regime-aware blocks) or jumps (a fitted jump diffusion).",
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap: the same seed, the same paths."),
        block: str = typer.Option("2h", "--block", help="Length of a bootstrapped block of real bars."),
        vol_window: str = typer.Option(
            "6h", "--vol-window", help="Realised-volatility window of the regime state (blocks match its bucket)."
        ),
        start_price: str = typer.Option(
            None, "--start-price", help="First open of bootstrapped paths (default: the newest shipped close)."
        ),
        paths_dir: str = typer.Option(
            None, "--paths-dir", help="Folder of candle CSVs, one path a file (instead of the bootstrap)."
        ),
        config: str = typer.Option(
            None,
            "--config",
            help="Config file: its \\[limits], \\[policy], \\[engine] and \\[exchange] apply (default: the documented defaults).",
        ),
        policy: str = typer.Option(
            None, "--policy", help="Policy name or file path (default: the config's policy.name)."
        ),
        set_: list[str] = typer.Option([], "--set", help="Policy/model parameter key=value (key=a,b,c: a grid)."),
        collateral: str = typer.Option("100", "--collateral", help="Units of collateral."),
        start_hf: str = typer.Option("1.45", "--start-hf", help="Debt is sized so HF starts here."),
        position: str = typer.Option(None, "--position", help="Starting position file (JSON/TOML: collateral, debt)."),
        baselines: str = typer.Option(
            "do-nothing,sell-all,one-shot",
            "--baselines",
            help="Reference strategies run beside the policy ('' for none).",
        ),
        workers: int = typer.Option(0, "--workers", help="Processes, or Ray's CPUs when local (0: one per CPU)."),
        engine: str = typer.Option("local", "--engine", help="local (a process pool) or ray."),
        ray_address: str = typer.Option(
            None,
            "--ray-address",
            help="An existing Ray cluster: ray://HOST:PORT (Ray Client), the head's HOST:PORT or auto "
            "(with --engine ray; default: a local Ray).",
        ),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
        parquet: str = typer.Option(
            None, "--parquet", help="Write one row per grid point, policy and path to this file."
        ),
        report: str = typer.Option(
            None, "--report", help="Write an HTML report (HF survival, shortfall CDFs, a P(liq) heat map) here."
        ),
    ) -> None:
        """Run the policy and the baselines over many paths: P(liquidation), shortfall, time to target."""
        from bot.backtest.scenario import PolicyFailed

        try:
            _run(locals())
        except UserInputError as exc:
            fail(str(exc), EXIT_USER)
        except PolicyFailed as exc:
            fail(str(exc), EXIT_RUNTIME)


def duration_s(text: str, name: str) -> int:
    """``30s``, ``5m``, ``6h``, ``10d`` → seconds (> 0)."""
    m = _DURATION.match(text.strip())
    if not m or int(m[1]) <= 0:
        raise UserInputError(f"{name} must be a positive duration like 5m, 6h or 10d, got {text!r}")
    return int(m[1]) * _UNIT_S[m[2]]


def bars_of(text: str, name: str, bar_s: int) -> int:
    seconds = duration_s(text, name)
    if seconds % bar_s:
        raise UserInputError(f"{name} {text} is not a whole number of {bar_s}s bars")
    return seconds // bar_s


def _source(opts: dict[str, Any]) -> Any:
    from bot.stress.history import last_close
    from bot.stress.lab import CsvSource, HistorySource

    if opts["paths_dir"]:
        folder = Path(opts["paths_dir"])
        if not folder.is_dir():
            raise UserInputError(f"--paths-dir {folder}: not a folder")
        files = tuple(str(p) for p in sorted(folder.glob("*.csv")))
        if not files:
            raise UserInputError(f"--paths-dir {folder}: no .csv files")
        return CsvSource(files)
    if opts["model"] not in ("bootstrap", "jumps"):
        raise UserInputError(f"--model must be bootstrap or jumps, got {opts['model']!r}")
    if not 1 <= opts["paths"] <= MAX_PATHS:
        raise UserInputError(f"--paths must be 1 to {MAX_PATHS:,}")
    if not 0 <= opts["seed"] < 2**63:
        raise UserInputError("--seed must be 0 or more")
    from bot.backtest.data import TIMEFRAME_SECONDS

    if opts["bar"] not in TIMEFRAME_SECONDS:
        raise UserInputError(f"--bar must be one of {', '.join(TIMEFRAME_SECONDS)}, got {opts['bar']!r}")
    bar_s = TIMEFRAME_SECONDS[opts["bar"]]
    horizon = bars_of(opts["horizon"], "--horizon", bar_s)
    if not 2 <= horizon <= MAX_HORIZON_BARS:
        raise UserInputError(f"--horizon must hold 2 to {MAX_HORIZON_BARS:,} bars")
    price = last_close()
    if opts["start_price"] is not None:
        from bot.backtest.data import MAX_PRICE, MIN_PRICE
        from bot.cli.backtest_cmd import _decimal

        price = float(_decimal(opts["start_price"], "--start-price"))
        if not MIN_PRICE <= price <= MAX_PRICE / 100:
            raise UserInputError(f"--start-price must be {MIN_PRICE:g} to {MAX_PRICE / 100:g}")
    return HistorySource(
        bar_s=bar_s,
        horizon=horizon,
        seed=opts["seed"],
        block=bars_of(opts["block"], "--block", bar_s),
        window=bars_of(opts["vol_window"], "--vol-window", bar_s),
        start_price=price,
        model=opts["model"],
    )


def _run(opts: dict[str, Any]) -> None:
    from bot.backtest.baselines import BASELINES
    from bot.backtest.scenario import prepare
    from bot.backtest.sweep import grid, parse_sets
    from bot.cli.backtest_cmd import check_report_folder, check_run_options
    from bot.settings import load_backtest_settings
    from bot.stress.history import shipped_history
    from bot.stress.lab import HistorySource, StressTask, chunks, group, reduce, run_stress

    collateral, start_hf = check_run_options(opts["collateral"], opts["start_hf"], opts["workers"])
    report_dir = check_report_folder(opts["report"]) if opts["report"] else None
    if opts["parquet"]:
        check_report_folder(str(Path(opts["parquet"]).parent), "--parquet")  # writable before anything runs
    if opts["engine"] not in ("local", "ray"):
        raise UserInputError(f"--engine must be local or ray, got {opts['engine']!r}")
    if opts["ray_address"] and opts["engine"] != "ray":
        raise UserInputError("--ray-address needs --engine ray")
    source = _source(opts)
    if isinstance(source, HistorySource):
        shipped_history(source.bar_s, source.window, source.block)  # a bar the history cannot give fails here
        n_paths = opts["paths"]
    else:
        n_paths = len(source.files)
    config = load_backtest_settings(opts["config"])
    chosen = tuple(b.strip() for b in opts["baselines"].split(",") if b.strip())
    unknown = [b for b in chosen if b not in BASELINES]
    if unknown:
        raise UserInputError(f"--baselines: unknown {unknown[0]!r} (known: {', '.join(BASELINES)})")
    fixed, axes = parse_sets(opts["set_"])
    position = None
    if opts["position"]:
        from bot.backtest.scenario import load_position

        position = load_position(opts["position"])
    points = grid(axes)
    # Validate every grid point on the first path in-process: a bad value is one clean line.
    first = source.candles(range(0, 1))[0]
    inputs: dict[str, Any] = {}
    for combo in points:
        *_, point_inputs = prepare(
            first,
            opts["policy"],
            {**fixed, **combo},
            collateral=collateral,
            start_hf=start_hf,
            position=position,
            config=config,
            baselines=chosen,
        )
        inputs = inputs or point_inputs
    pos = tuple(sorted((k, str(v)) for k, v in position.items())) if position else None
    # A few tasks per CPU even for few paths (a path of a large position can take a minute).
    cpus = opts["workers"] or os.cpu_count() or 1
    size = max(1, min(CHUNK_PATHS, -(-n_paths // (4 * cpus))))
    tasks = []
    for i, combo in enumerate(points):
        values = {**{k: (v if isinstance(v, str) else _json(v)) for k, v in fixed.items()}, **combo}
        for ids in chunks(n_paths, size):
            tasks.append(
                StressTask(
                    source,
                    i,
                    ids.start,
                    ids.stop,
                    opts["policy"],
                    tuple(values.items()),
                    str(collateral),
                    str(start_hf),
                    chosen,
                    pos,
                    config,
                )
            )
    if opts["engine"] == "ray":
        from bot.stress.ray_engine import run_on_ray

        rows = run_on_ray(
            tasks, address=opts["ray_address"], cpus=opts["workers"] or None, progress=not opts["json_out"]
        )
    else:
        rows = run_stress(tasks, workers=opts["workers"] or None, progress=not opts["json_out"])
    groups = group(points, tasks, rows)
    policies = reduce(groups)
    payload = {"paths": source.describe(), "axes": axes, "policies": policies, "inputs": inputs}
    if opts["parquet"]:
        from bot.stress.parquet import write_parquet

        typer.echo(f"parquet: {write_parquet(groups, Path(opts['parquet']))}", err=True)
    if report_dir is not None:
        from bot.stress.report import write_stress_report

        written = write_stress_report(payload, groups, report_dir, title=f"delever stress: {_what(payload['paths'])}")
        typer.echo(f"report: {', '.join(str(p) for p in written)}", err=True)
    if opts["json_out"]:
        print_json(payload)
    else:
        _table(payload, list(axes))


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


COLUMNS = (
    ("policy", "policy"),
    ("paths", "paths"),
    ("liquidated_paths", "liquidated"),
    ("p_liquidation", "P(liq)"),
    ("p_liquidation_ci", "95 % CI"),
    ("shortfall_usd_mean", "shortfall mean $"),
    ("shortfall_usd_p95", "p95 $"),
    ("shortfall_usd_cvar95", "CVaR95 $"),
    ("time_to_target_s_median", "to target (median)"),
    ("min_health_factor_p5", "min HF p5"),
    ("equity_vs_hold_usd_mean", "equity vs hold mean $"),
)


def _cell(key: str, value: Any) -> str:
    from bot.backtest.present import cell

    if value is None:
        return "–"
    if key == "p_liquidation_ci":
        return f"{float(value[0]):.2%} – {float(value[1]):.2%}"
    if key == "p_liquidation":
        return f"{float(value):.2%}"
    if key == "time_to_target_s_median":
        return f"{int(value) / 3600:.1f} h"
    return cell(key, value)


def _what(src: dict[str, Any]) -> str:
    if src["kind"] == "files":
        return f"{src['files']} path files"
    return f"{src['kind']} seed {src['seed']}, {src['horizon_bars']} bars of {src['bar_s']}s"


def _table(payload: dict[str, Any], keys: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from bot.backtest.present import describe

    # Like the backtest's: one column per policy and grid point, one row per metric, so that it
    # reads in an 80-column terminal.
    rows = payload["policies"]
    table = Table(title=f"stress: {_what(payload['paths'])}")
    table.add_column("metric")
    for row in rows:
        table.add_column(str(row["policy"]), justify="right")
    for k in keys:
        table.add_row(k, *(str(row["params"].get(k)) for row in rows))
    for key, label in COLUMNS[1:]:  # the policy is the column's header
        table.add_row(label, *(_cell(key, row.get(key)) for row in rows))
    console = Console()
    for line in describe(payload["inputs"]):
        console.print(line, markup=False, highlight=False)
    console.print(table)

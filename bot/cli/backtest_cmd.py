"""`delever backtest`: policies against historical prices."""

from __future__ import annotations

import os
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer

from bot.cli.common import EXIT_RUNTIME, EXIT_USER, fail, print_json
from bot.errors import UserInputError

MAX_START_HF = Decimal(1000)
MAX_WORKERS = 256


def register(app: typer.Typer) -> None:
    @app.command("backtest")
    def backtest(
        prices: str = typer.Option(None, "--prices", help="Candles CSV (timestamp,open,high,low,close,volume)."),
        pair: str = typer.Option(None, "--pair", help="Pair to load from the data cache, e.g. ETH/USDT."),
        since: str = typer.Option(
            None, "--since", help="Start (YYYY-MM-DD[THH:MM], UTC; inclusive). Needed with --pair; cuts --prices."
        ),
        until: str = typer.Option(
            None,
            "--until",
            help="End (YYYY-MM-DD[THH:MM], UTC; exclusive: the last candle opens before it). "
            "Needed with --pair; cuts --prices.",
        ),
        config: str = typer.Option(
            None,
            "--config",
            help="Config file: its \\[limits], \\[policy], \\[engine], \\[exchange] and \\[dex] apply (default: the documented defaults).",
        ),
        policy: str = typer.Option(
            None, "--policy", help="Policy name or file path (default: the config's policy.name)."
        ),
        set_: list[str] = typer.Option([], "--set", help="Policy/model parameter key=value (key=a,b,c sweeps)."),
        collateral: str = typer.Option("100", "--collateral", help="Units of collateral."),
        start_hf: str = typer.Option("1.45", "--start-hf", help="Debt is sized so HF starts here."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
        report: str = typer.Option(
            None, "--report", help="Write an HTML report (charts for a run, a table for a sweep) to this folder."
        ),
        position: str = typer.Option(None, "--position", help="Starting position file (JSON/TOML: collateral, debt)."),
        workers: int = typer.Option(0, "--workers", help="Processes for a sweep (0: one per CPU)."),
        dex_depth: str = typer.Option(
            None,
            "--dex-depth",
            help="USD the simulated Uniswap v3 pools pay out within 1 % (default: the devnet's 3000000; 0: no DEX).",
        ),
        route: str = typer.Option(
            None, "--route", help="auto | cex | dex: the batches' route (default: the config's dex.route)."
        ),
    ) -> None:
        """Replay policies and baselines over candles, with market impact and Aave liquidations."""
        from bot.backtest.scenario import PolicyFailed

        try:
            _run(
                prices,
                pair,
                since,
                until,
                config,
                policy,
                set_,
                collateral,
                start_hf,
                json_out,
                report,
                position,
                workers,
                tuple(dex_options(dex_depth, route)),
            )
        except UserInputError as exc:
            fail(str(exc), EXIT_USER)
        except PolicyFailed as exc:  # the policy under test raised: the run is void
            fail(str(exc), EXIT_RUNTIME)


def _decimal(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UserInputError(f"{name} must be a number, got {text!r}") from None
    if not value.is_finite():
        raise UserInputError(f"{name} must be a finite number")
    return value


ROUTES = ("auto", "cex", "dex")


def dex_options(dex_depth: str | None, route: str | None) -> list[str]:
    """``--dex-depth`` and ``--route`` as the ``--set`` values they stand for (the schema checks the bounds)."""
    sets = []
    if dex_depth is not None:
        if _decimal(dex_depth, "--dex-depth") < 0:
            raise UserInputError("--dex-depth must be 0 (no DEX) or more USD")
        sets.append(f"dex_depth_usd={dex_depth}")
    if route is not None:
        if route not in ROUTES:
            raise UserInputError(f"--route must be one of {', '.join(ROUTES)}, got {route!r}")
        sets.append(f"route={route}")
    return sets


def check_run_options(collateral_s: str, start_hf_s: str, workers: int) -> tuple[Decimal, Decimal]:
    """``--collateral``, ``--start-hf`` and ``--workers`` checked (shared with ``delever stress``)."""
    from bot.settings.simulation import MAX_COLLATERAL_COINS

    collateral = _decimal(collateral_s, "--collateral")
    start_hf = _decimal(start_hf_s, "--start-hf")
    if not 0 < collateral <= MAX_COLLATERAL_COINS:
        raise UserInputError(f"--collateral must be > 0 and at most {MAX_COLLATERAL_COINS:,} coins")
    if not 1 < start_hf <= MAX_START_HF:
        raise UserInputError(f"--start-hf must be > 1 and at most {MAX_START_HF}")
    if not 0 <= workers <= MAX_WORKERS:
        raise UserInputError(f"--workers must be 0 (one per CPU) to {MAX_WORKERS}")
    return collateral, start_hf


def check_report_folder(folder: str, flag: str = "--report") -> Path:
    """Create ``folder`` and prove a file can be written there, before any simulation runs."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".delever-probe-"):
            pass
    except OSError as exc:
        raise UserInputError(f"{flag} {folder}: cannot write there ({exc.strerror or type(exc).__name__})") from None
    return path


def _run(
    prices: str | None,
    pair: str | None,
    since: str | None,
    until: str | None,
    config_path: str | None,
    policy: str | None,
    sets: list[str],
    collateral_s: str,
    start_hf_s: str,
    json_out: bool,
    report: str | None,
    position_file: str | None,
    workers: int,
    dex_sets: tuple[str, ...] = (),
) -> None:
    from bot.backtest import data
    from bot.backtest.pair import pair as pair_named
    from bot.backtest.scenario import load_position, market_pair, prepare, run_scenario
    from bot.backtest.sweep import Window, parse_sets, run_sweep, tasks_for
    from bot.settings import load_backtest_settings

    if bool(prices) == bool(pair):
        raise UserInputError("give either --prices FILE or --pair P --since D --until D")
    collateral, start_hf = check_run_options(collateral_s, start_hf_s, workers)
    report_dir = check_report_folder(report) if report else None
    lo = data.parse_date(since) if since else None
    hi = data.parse_date(until) if until else None
    if prices:
        candles = data.cut(data.load_csv(prices), lo, hi, name=os.path.basename(prices))
        window = Window(prices, int(candles.timestamp[0]), int(candles.timestamp[-1]) + 1)
    else:
        if lo is None or hi is None:
            raise UserInputError("--pair needs --since and --until")
        candles = data.load_range(pair, lo, hi)
        window = Window(str(_source_path(pair, lo, hi)), lo, hi)
    if len(candles) < 2:
        raise UserInputError("need at least two candles")
    config = load_backtest_settings(config_path)
    market = pair_named(pair) if pair else market_pair(candles, config)
    fixed, axes = parse_sets([*sets, *dex_sets])
    position = load_position(position_file) if position_file else None
    head = {
        "start": data.iso(int(candles.timestamp[0])),
        "end": data.iso(int(candles.timestamp[-1])),
        "bars": len(candles),
    }
    source = os.path.basename(prices) if prices else f"{pair} {since}..{until}"

    if axes:
        from bot.backtest.sweep import grid

        # Validate every grid point in-process, so a bad value is one clean line, not a worker traceback.
        points = grid(axes)
        inputs: dict[str, Any] = {}
        for combo in points:
            *_, point_inputs = prepare(
                candles,
                policy,
                {**fixed, **combo},
                collateral=collateral,
                start_hf=start_hf,
                position=position,
                config=config,
                pair=market,
            )
            inputs = inputs or point_inputs
        tasks = tasks_for(
            [window],
            policy,
            fixed,
            axes,
            collateral=str(collateral),
            start_hf=str(start_hf),
            position=position,
            config=config_path,
        )
        rows = run_sweep(tasks, workers=workers or None, progress=not json_out)
        sweep = [{"params": dict(t.values), "policies": r} for t, r in zip(tasks, rows)]
        # ``inputs`` are the first grid point's; each point's ``params`` hold what it changed.
        payload = {**head, "sweep": sweep, "axes": axes, "inputs": inputs}
        if report_dir is not None:
            _write_sweep_report(payload, report_dir, source)
        if json_out:
            print_json(payload)
        else:
            _sweep_table(head, sweep, list(axes), inputs)
        return

    outcome = run_scenario(
        candles, policy, fixed, collateral=collateral, start_hf=start_hf, position=position, config=config, pair=market
    )
    payload = {**head, "policies": outcome.summaries, "inputs": outcome.inputs}
    for row in outcome.summaries:
        if row.get("engine_halted"):  # as the daemon would have: the rest of the run is holding
            typer.echo(f"delever: warning: {row['policy']}: engine halted at {row['engine_halted']}", err=True)
    if report_dir is not None:
        _write_report(outcome, report_dir, source)
    if json_out:
        print_json(payload)
    else:
        _table(payload)


def _source_path(pair: str, lo: int, hi: int) -> Any:
    from bot.backtest import data

    covering = [s for s in data.sources(pair) if s.first <= lo and s.last + s.interval_s >= hi]
    return min(covering, key=lambda s: (s.interval_s, str(s.path))).path


def _write_report(outcome: Any, folder: Path, source: str) -> None:
    from bot.backtest.report import write_report

    settings = outcome.settings
    policy = outcome.actors[0].name
    trigger = getattr(outcome.actors[0], "wake_hf", None)  # the HF above which the policy never acts
    trig = float(trigger) if trigger else None
    params = outcome.inputs["policy"]["params"]
    target = params.get("target_hf")
    paths = write_report(
        outcome.results,
        outcome.summaries,
        folder,
        title=f"delever backtest: {policy} on {source}",
        trigger_hf=trig,
        hf_floor=float(settings.config.limits.hf_floor),
        target_hf=float(target) if isinstance(target, (str, int, float, Decimal)) else None,
        lt=None,
        rate=float(settings.sim.borrow_apr),
        inputs=outcome.inputs,
    )
    typer.echo(f"report: {', '.join(str(p) for p in paths)}", err=True)


def _write_sweep_report(payload: dict[str, Any], folder: Path, source: str) -> None:
    from bot.backtest.report import write_sweep_report

    paths = write_sweep_report(payload, folder, title=f"delever backtest sweep on {source}")
    typer.echo(f"report: {', '.join(str(p) for p in paths)}", err=True)


def _table(payload: dict[str, Any]) -> None:
    """One column per policy (baselines beside the policy), one row per metric; the inputs above."""
    from rich.console import Console
    from rich.table import Table

    from bot.backtest.present import TABLE_ROWS, cell, describe

    # The hindsight yardstick is a line under the table, not a column: its sale is the row
    # "sold / hindsight's least" divides by, and 80 columns hold no more.
    rows = [row for row in payload["policies"] if row["policy"] != "hindsight"]
    least = next((row for row in payload["policies"] if row["policy"] == "hindsight"), None)
    table = Table(title=f"backtest {payload['start']} → {payload['end']} ({payload['bars']} bars)")
    table.add_column("metric")
    for row in rows:
        table.add_column(str(row["policy"]), justify="right")
    for key, label in TABLE_ROWS:
        table.add_row(label, *(cell(key, row.get(key)) for row in rows))
    console = Console()
    for line in describe(payload["inputs"]):
        console.print(line, markup=False, highlight=False)
    console.print(table)
    if least is not None:
        sold = cell("collateral_sold", least["collateral_sold"])
        words = "no sale at the first bar survives" if least["liquidated"] else f"{sold} sold at the first bar"
        console.print(
            f"hindsight (the least sale that survives the whole path): {words}", markup=False, highlight=False
        )


def _sweep_table(head: dict[str, Any], sweep: list[dict[str, Any]], keys: list[str], inputs: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from bot.backtest.present import SWEEP_COLUMNS, cell, describe

    table = Table(title=f"sweep {head['start']} → {head['end']} ({head['bars']} bars, {len(sweep)} points)")
    for k in keys:
        table.add_column(k, justify="right")
    for key, label in SWEEP_COLUMNS:
        table.add_column(label, justify="left" if key == "policy" else "right")
    for point in sweep:
        for row in point["policies"]:
            table.add_row(
                *(str(point["params"].get(k)) for k in keys),
                *(cell(k, row.get(k)) for k, _ in SWEEP_COLUMNS),
            )
    console = Console()
    console.print(f"inputs of the first point ({', '.join(keys)} as in each row):", markup=False, highlight=False)
    for line in describe(inputs):
        console.print(line, markup=False, highlight=False)
    console.print(table)

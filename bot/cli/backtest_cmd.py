"""`delever backtest`: policies against historical prices."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import typer

from bot.cli.common import EXIT_USER, fail, print_json
from bot.errors import UserInputError


def register(app: typer.Typer) -> None:
    @app.command("backtest")
    def backtest(
        prices: str = typer.Option(None, "--prices", help="Candles CSV (timestamp,open,high,low,close,volume)."),
        pair: str = typer.Option(None, "--pair", help="Pair to load from the data cache, e.g. ETH/USDT."),
        since: str = typer.Option(None, "--since", help="Start date (YYYY-MM-DD) with --pair."),
        until: str = typer.Option(None, "--until", help="End date (YYYY-MM-DD) with --pair."),
        config: str = typer.Option(
            None,
            "--config",
            help="Config file: its [limits], [policy], [engine] and [exchange] apply (default: the documented defaults).",
        ),
        policy: str = typer.Option(
            None, "--policy", help="Policy name or file path (default: the config's policy.name)."
        ),
        set_: list[str] = typer.Option([], "--set", help="Policy/model parameter key=value (key=a,b,c sweeps)."),
        collateral: str = typer.Option("100", "--collateral", help="Units of collateral."),
        start_hf: str = typer.Option("1.45", "--start-hf", help="Debt is sized so HF starts here."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
        report: str = typer.Option(None, "--report", help="Write an HTML report with charts to this folder."),
        position: str = typer.Option(None, "--position", help="Starting position file (JSON/TOML: collateral, debt)."),
        workers: int = typer.Option(0, "--workers", help="Processes for a sweep (0: one per CPU)."),
    ) -> None:
        """Replay policies and baselines over candles, with market impact and Aave liquidations."""
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
            )
        except UserInputError as exc:
            fail(str(exc), EXIT_USER)
        except ValueError as exc:  # a dataclass check on a --set value
            fail(str(exc), EXIT_USER)


def _decimal(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UserInputError(f"{name} must be a number, got {text!r}") from None
    if not value.is_finite():
        raise UserInputError(f"{name} must be a finite number")
    return value


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
) -> None:
    from bot.backtest import data
    from bot.backtest.pair import pair as pair_named
    from bot.backtest.scenario import load_position, market_pair, run_scenario
    from bot.backtest.sweep import Window, parse_sets, run_sweep, tasks_for
    from bot.settings import load_backtest_settings

    if bool(prices) == bool(pair):
        raise UserInputError("give either --prices FILE or --pair P --since D --until D")
    collateral = _decimal(collateral_s, "--collateral")
    start_hf = _decimal(start_hf_s, "--start-hf")
    if collateral <= 0:
        raise UserInputError("--collateral must be > 0")
    if start_hf <= 1:
        raise UserInputError("--start-hf must be > 1")
    if prices:
        candles = data.load_csv(prices)
        window = Window(prices)
    else:
        if not since or not until:
            raise UserInputError("--pair needs --since and --until")
        lo, hi = data.parse_date(since), data.parse_date(until)
        candles = data.load_range(pair, lo, hi)
        window = Window(str(_source_path(pair, lo, hi)), lo, hi)
    if len(candles) < 2:
        raise UserInputError("need at least two candles")
    config = load_backtest_settings(config_path)
    market = pair_named(pair) if pair else market_pair(candles, config)
    fixed, axes = parse_sets(sets)
    position = load_position(position_file) if position_file else None
    head = {
        "start": data.iso(int(candles.timestamp[0])),
        "end": data.iso(int(candles.timestamp[-1])),
        "bars": len(candles),
    }

    if axes:
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
        # Validate once in-process so a bad key is one clean line, not a worker traceback.
        from bot.backtest.scenario import make_actors, split_settings

        make_actors(policy, split_settings({**fixed, **{k: v[0] for k, v in axes.items()}}, config), market)
        rows = run_sweep(tasks, workers=workers or None, progress=not json_out)
        sweep = [{"params": dict(t.values), "policies": r} for t, r in zip(tasks, rows)]
        if json_out:
            print_json({**head, "sweep": sweep})
        else:
            _sweep_table(head, sweep, list(axes))
        return

    outcome = run_scenario(
        candles, policy, fixed, collateral=collateral, start_hf=start_hf, position=position, config=config, pair=market
    )
    payload = {**head, "policies": outcome.summaries}
    if report:
        _write_report(outcome, report, candles.source or "candles")
    if json_out:
        print_json(payload)
    else:
        _table(payload)


def _source_path(pair: str, lo: int, hi: int) -> Any:
    from bot.backtest import data

    covering = [s for s in data.sources(pair) if s.first <= lo and s.last + s.interval_s >= hi]
    return min(covering, key=lambda s: (s.interval_s, str(s.path))).path


def _write_report(outcome: Any, folder: str, source: str) -> None:
    from bot.backtest.report import write_report

    settings = outcome.settings
    policy = outcome.actors[0].name
    trigger = getattr(outcome.actors[0], "wake_hf", None)  # the HF above which the policy never acts
    trig = float(trigger) if trigger else None
    floor = float(settings.config.limits.hf_floor)
    paths = write_report(
        outcome.results,
        outcome.summaries,
        folder,
        title=f"delever backtest: {policy} on {source}",
        trigger_hf=trig,
        hf_floor=floor,
        lt=None,
        rate=float(settings.sim.borrow_apr),
    )
    typer.echo(f"report: {', '.join(str(p) for p in paths)}", err=True)


COLUMNS = (
    ("policy", "policy"),
    ("liquidated", "liq."),
    ("liquidations", "#liq"),
    ("liquidation_penalty_usd", "penalty $"),
    ("min_health_factor", "min HF"),
    ("collateral_sold", "sold"),
    ("debt_repaid", "repaid $"),
    ("avg_fill_price", "avg fill"),
    ("arrival_price", "arrival"),
    ("shortfall_bps", "IS bps"),
    ("fees_usd", "fees $"),
    ("gas_usd", "gas $"),
    ("final_equity_usd", "equity $"),
    ("equity_vs_hold_usd", "vs hold $"),
)


def _table(payload: dict[str, Any]) -> None:
    """One column per policy (baselines beside the policy), one row per metric."""
    from rich.console import Console
    from rich.table import Table

    rows = payload["policies"]
    table = Table(title=f"backtest {payload['start']} → {payload['end']} ({payload['bars']} bars)")
    table.add_column("metric")
    for row in rows:
        table.add_column(str(row["policy"]), justify="right")
    for key in rows[0]:
        if key == "policy":
            continue
        table.add_row(key, *("-" if row[key] is None else str(row[key]) for row in rows))
    Console().print(table)


def _sweep_table(head: dict[str, Any], sweep: list[dict[str, Any]], keys: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sweep {head['start']} → {head['end']} ({head['bars']} bars, {len(sweep)} points)")
    for k in keys:
        table.add_column(k, justify="right")
    for _, label in COLUMNS:
        table.add_column(label, justify="left" if label == "policy" else "right")
    for point in sweep:
        for row in point["policies"]:
            table.add_row(
                *(str(point["params"].get(k)) for k in keys),
                *("-" if row[k] is None else str(row[k]) for k, _ in COLUMNS),
            )
    Console().print(table)

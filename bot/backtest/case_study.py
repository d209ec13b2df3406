"""The February 2026 unwind as a backtest: ≈651,000 WETH against $1.0B of USDT on Aave, on the
real Binance ETH/USDT 5-minute path from 2026-02-01 to 2026-02-15, every built-in policy and
the baselines, at three depth assumptions. ``python -m bot.backtest.case_study`` prints the
markdown tables of ``docs/case-study-feb-2026.md``.
"""

from __future__ import annotations

import sys
from typing import Any

from bot.backtest import data
from bot.backtest.baselines import BASELINES
from bot.backtest.sweep import Task, Window, run_sweep

WINDOW = "eth_usd_5m_2026-01-20_2026-02-15.csv"
SINCE, UNTIL = "2026-02-01", "2026-02-16"
POSITION = (("collateral", "651000"), ("debt", "1000000000"))
DEPTHS = {
    "base: $8M per 1 %, crash 0.4x": {"depth_usd_1pct": "8000000", "crash_depth_factor": "0.4"},
    "thin: $5M per 1 %, crash 0.3x": {"depth_usd_1pct": "5000000", "crash_depth_factor": "0.3"},
    "deep: $10M per 1 %, crash 0.5x": {"depth_usd_1pct": "10000000", "crash_depth_factor": "0.5"},
}
POLICIES = {
    "threshold": {"trigger_hf": "1.5", "target_hf": "1.8"},
    "ladder": {},
    "paced": {},
}
BASELINE_PARAMS = {"trigger_hf": "1.5", "target_hf": "1.8"}
# `risk_budget` at three budgets (24 h), base depth, its floor the fund's: rows of the base table.
RISK_BUDGETS = ("0.005", "0.01", "0.05")
RISK_BUDGET_DEPTH = "base: $8M per 1 %, crash 0.4x"
# The fund's limits (a [limits] section of its config): HF floor 1.05, a 50 bps IOC floor, no
# cooldown, and batch and daily caps far above anything the book can take.
LIMITS = {
    "hf_floor": "1.05",
    "max_slippage_bps": "50",
    "cooldown_s": "0",
    "max_batch_usd": "1000000000000",
    "max_daily_usd": "1000000000000",
}


# Pipelining: `threshold` at base depth, holding its target (so that it reaches HF 1.8), with
# one batch at a time and with four in flight.
PIPELINING_DEPTH = "base: $8M per 1 %, crash 0.4x"
IN_FLIGHT = ("1", "4")


def pipelining_tasks() -> list[Task]:
    window = Window(str(data.SHIPPED_DIR / WINDOW), data.parse_date(SINCE), data.parse_date(UNTIL))
    base = {**LIMITS, **DEPTHS[PIPELINING_DEPTH], **POLICIES["threshold"], **BASELINE_PARAMS}
    return [
        Task(
            window,
            "threshold",
            tuple({**base, "hold_to_target": "true", "max_in_flight": n}.items()),
            "0",
            "2",
            (),
            POSITION,
        )
        for n in IN_FLIGHT
    ]


PIPELINING_COLUMNS = (
    ("batches", "batches"),
    ("time_to_target_s", "time to HF 1.8 (h)"),
    ("shortfall_usd", "shortfall $M"),
    ("shortfall_bps", "IS bps"),
    ("min_health_factor", "min HF"),
    ("max_in_transit_usd", "most in transit $M"),
    ("min_hf_in_transit", "min HF in transit"),
    ("final_health_factor", "final HF"),
)


def pipelining_markdown(rows: list[list[dict[str, Any]]]) -> str:
    lines = ["| max_in_flight | " + " | ".join(h for _, h in PIPELINING_COLUMNS) + " |"]
    lines.append("|---|" + "---|" * len(PIPELINING_COLUMNS))
    for n, result in zip(IN_FLIGHT, rows, strict=True):
        row = result[0]
        cells = []
        for key, _ in PIPELINING_COLUMNS:
            value = row[key]
            if value is None:
                cells.append("–")
            elif key == "time_to_target_s":
                cells.append(f"{int(value) / 3600:,.1f}")
            elif key in ("shortfall_usd", "max_in_transit_usd"):
                cells.append(f"{float(value) / 1e6:,.1f}")
            else:
                cells.append(str(value))
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def tasks() -> list[Task]:
    window = Window(str(data.SHIPPED_DIR / WINDOW), data.parse_date(SINCE), data.parse_date(UNTIL))
    out = []
    for depth in DEPTHS.values():
        for policy, params in POLICIES.items():
            values = {**LIMITS, **depth, **params}
            baselines = BASELINES if policy == "threshold" else ()
            if policy == "threshold":
                values = {**values, **BASELINE_PARAMS}
            out.append(Task(window, policy, tuple(values.items()), "0", "2", baselines, POSITION))
    for budget in RISK_BUDGETS:
        values = {**LIMITS, **DEPTHS[RISK_BUDGET_DEPTH], "budget": budget, "floor_hf": LIMITS["hf_floor"]}
        out.append(Task(window, "risk_budget", tuple(values.items()), "0", "2", (), POSITION))
    return out


def _label(row: dict[str, Any], task: Task) -> str:
    if task.policy != "risk_budget" or row["policy"] != "risk_budget":
        return str(row["policy"])
    budget = dict(task.values)["budget"]
    return f"risk_budget ε {float(budget) * 100:g} %"


COLUMNS = (
    ("policy", "policy"),
    ("liquidated", "liquidated"),
    ("liquidation_penalty_usd", "liq. penalty $M"),
    ("min_health_factor", "min HF"),
    ("collateral_sold", "ETH sold (k)"),
    ("avg_fill_price", "avg fill"),
    ("shortfall_bps", "IS bps"),
    ("fees_usd", "fees $M"),
    ("final_health_factor", "final HF"),
    ("final_debt", "debt left $M"),
    ("equity_vs_hold_usd", "vs hold $M"),
)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key in ("liquidation_penalty_usd", "fees_usd", "final_debt", "equity_vs_hold_usd"):
        return f"{float(value) / 1e6:,.1f}"
    if key == "collateral_sold":
        return f"{float(value) / 1e3:,.1f}"
    if key == "liquidated":
        return "**yes**" if value else "no"
    return str(value)


def markdown(rows: list[list[dict[str, Any]]], task_list: list[Task]) -> str:
    lines = []
    per_depth = len(POLICIES)
    budgets = list(zip(rows[len(DEPTHS) * per_depth :], task_list[len(DEPTHS) * per_depth :], strict=True))
    for n, label in enumerate(DEPTHS):
        lines.append(f"\n#### {label}\n")
        lines.append("| " + " | ".join(h for _, h in COLUMNS) + " |")
        lines.append("|" + "---|" * len(COLUMNS))
        runs = list(zip(rows[n * per_depth : (n + 1) * per_depth], task_list[n * per_depth : (n + 1) * per_depth]))
        for result, task in runs + (budgets if label == RISK_BUDGET_DEPTH else []):
            for row in result:
                cells = [_label(row, task)] + [_cell(k, row[k]) for k, _ in COLUMNS[1:]]
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1:] == ["--pipelining"]:  # only the pipelining table
        sys.stdout.write(pipelining_markdown(run_sweep(pipelining_tasks(), progress=sys.stderr.isatty())))
        return
    task_list = tasks()
    rows = run_sweep(task_list, progress=sys.stderr.isatty())
    sys.stdout.write(markdown(rows, task_list))
    sys.stdout.write("\n#### pipelining: threshold holding its target, base depth\n\n")
    sys.stdout.write(pipelining_markdown(run_sweep(pipelining_tasks(), progress=sys.stderr.isatty())))


if __name__ == "__main__":
    main()

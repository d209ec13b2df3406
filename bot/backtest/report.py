"""Reports: an HTML page with interactive plotly charts and PNG versions drawn by matplotlib.

Charts per run, all policies overlaid: the price (close, low) with each policy's liquidation
price, sales and liquidations marked; the health factor with the trigger and the HF floor;
equity. Series are rebuilt after the run from the state checkpoints the runner records at
events (state is constant between them except interest), so reporting costs nothing while
simulating. The HF axis stops at max(1.5 × target, start HF) and the price axis at the candles'
range (widened to liquidation prices within half the lowest low): a baseline whose debt is gone
neither flattens the HF lines nor squashes the prices. Above the charts: the inputs, the
results table (``bot.backtest.present``), and every batch of every policy. A sweep gets a table
page (``write_sweep_report``).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from bot.backtest.metrics import batch_rows
from bot.backtest.present import NOTES, SWEEP_COLUMNS, TABLE_ROWS, cell, describe
from bot.backtest.runner import RunResult

MAX_POINTS = 4_000
COLOURS = ("#1f77b4", "#7f7f7f", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def series(result: RunResult, lt: float | None = None, rate: float = 0.05) -> dict[str, np.ndarray]:
    """Per-bar liquidation price, HF (at the close) and equity rebuilt from the checkpoints
    (``lt``: the collateral's liquidation threshold; None: the start position's)."""
    c = result.candles
    cps = result.checkpoints
    p = result.world.pair
    if lt is None:
        lt = result.start_position.reserve(p.collateral).liquidation_threshold_bps / 10_000
    coll_unit, debt_unit = 10.0**p.collateral_decimals, 10.0**p.debt_decimals
    bars = np.array([cp.bar for cp in cps])
    k = np.arange(len(c))
    idx = np.clip(np.searchsorted(bars, k, side="left") - 1, 0, len(cps) - 1)
    idx = np.where(bars[idx] > k, 0, idx)
    coll = np.array([cp.coll_units / coll_unit for cp in cps])[idx]
    debt0 = np.array([cp.debt_units / debt_unit for cp in cps])[idx]
    t0 = np.array([cp.t for cp in cps], dtype=np.float64)[idx]
    eth = np.array([cp.off_pool_coll for cp in cps])[idx]
    usd = np.array([cp.off_pool_usd for cp in cps])[idx]
    debt = debt0 * np.exp(rate * np.maximum(0.0, c.timestamp - t0) / (365 * 86_400))
    with np.errstate(divide="ignore", invalid="ignore"):
        liq = np.where((coll > 0) & (debt > 0), debt / (coll * lt), np.nan)
        hf = np.where(debt > 0, coll * lt * c.close / debt, np.nan)
    equity = (coll + eth) * c.close + usd - debt
    return {"liq": liq, "hf": hf, "equity": equity}


def _stride(n: int) -> int:
    return max(1, math.ceil(n / MAX_POINTS))


def _iso(ts: np.ndarray) -> list[str]:
    return [np.datetime_as_string(np.datetime64(int(t), "s"), unit="m") for t in ts]


def write_report(
    results: list[RunResult],
    summaries: list[dict[str, Any]],
    folder: str | Path,
    *,
    title: str,
    trigger_hf: float | None,
    hf_floor: float | None,
    lt: float | None,
    rate: float,
    target_hf: float | None = None,
    inputs: dict[str, Any] | None = None,
) -> list[Path]:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    built = [(r, series(r, lt, rate)) for r in results]
    start_hf = (inputs or {}).get("position", {}).get("health_factor")
    hf_top = hf_axis_top(target_hf, float(start_hf) if start_hf else None, trigger_hf)
    batches = {r.name: batch_rows(r) for r in results}
    paths = [
        _html(
            built,
            summaries,
            out / "report.html",
            title=title,
            trigger_hf=trigger_hf,
            hf_floor=hf_floor,
            hf_top=hf_top,
            inputs=inputs or {},
            batches=batches,
        )
    ]
    paths += _pngs(built, out, title=title, trigger_hf=trigger_hf, hf_floor=hf_floor, hf_top=hf_top)
    summary = {"inputs": inputs or {}, "policies": summaries, "batches": batches}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    paths.append(out / "summary.json")
    return paths


HF_AXIS_BOTTOM = 0.8


def hf_axis_top(target_hf: float | None, start_hf: float | None, trigger_hf: float | None) -> float:
    """The HF panel's top: 1.5 × the target (or the trigger), at least the start HF, so a
    baseline whose debt is gone (HF in the thousands, or none) does not flatten every line."""
    anchor = target_hf or trigger_hf or 1.6
    return max(anchor * 1.5, start_hf or 0.0, 2.0)


def clipped_hf(hf: np.ndarray, top: float) -> np.ndarray:
    """HF for the chart: no debt (NaN) and anything above the axis drawn along its top edge,
    anything under the bottom along the bottom."""
    return np.clip(np.where(np.isnan(hf), top, hf), HF_AXIS_BOTTOM, top)


def price_axis(candles: Any, built: list[tuple[RunResult, dict[str, np.ndarray]]]) -> tuple[float, float]:
    """The price panel's range: the candles' range, widened to liquidation prices within half the
    lowest low (a liquidation price falling to 0 as the debt goes would squash the axis)."""
    low, high = float(np.min(candles.low)), float(np.max(candles.high))
    floor = low * 0.5
    liqs = [ser["liq"][np.isfinite(ser["liq"]) & (ser["liq"] >= floor)] for _, ser in built]
    lowest = min([low, *(float(np.min(x)) for x in liqs if x.size)])
    pad = (high - lowest) * 0.03
    return lowest - pad, high + pad


def _html(
    built: list[tuple[RunResult, dict[str, np.ndarray]]],
    summaries: list[dict[str, Any]],
    path: Path,
    *,
    title: str,
    trigger_hf: float | None,
    hf_floor: float | None,
    hf_top: float,
    inputs: dict[str, Any],
    batches: dict[str, list[dict[str, Any]]],
) -> Path:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    c = built[0][0].candles
    s = _stride(len(c))
    x = _iso(c.timestamp[::s])
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=[0.45, 0.3, 0.25],
        subplot_titles=("Collateral price and liquidation prices", "Health factor (at the close)", "Equity (USD)"),
    )
    fig.add_trace(go.Scatter(x=x, y=c.close[::s], name="close", line={"color": "black", "width": 1}), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=c.low[::s], name="low", line={"color": "#bbbbbb", "width": 1}), row=1, col=1)
    for n, (r, ser) in enumerate(built):
        colour = COLOURS[n % len(COLOURS)]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=ser["liq"][::s],
                name=f"{r.name}: liquidation price",
                legendgroup=r.name,
                line={"color": colour, "dash": "dot"},
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=clipped_hf(ser["hf"][::s], hf_top),
                name=f"{r.name}: HF",
                legendgroup=r.name,
                line={"color": colour},
            ),
            row=2,
            col=1,
        )
        fig.add_trace(
            go.Scatter(x=x, y=ser["equity"][::s], name=f"{r.name}: equity", legendgroup=r.name, line={"color": colour}),
            row=3,
            col=1,
        )
        sells = [(t, d) for t, kind, d in r.events if kind in ("sell", "batch")]
        liqs = [(t, d) for t, kind, d in r.events if kind == "liquidation"]
        for events, y, what, marker in (
            (sells, c.close, "batches", {"symbol": "triangle-down", "size": 8}),
            (liqs, c.low, "liquidations", {"symbol": "x", "size": 11}),
        ):
            if not events:
                continue
            ts = np.array([t for t, _ in events])
            fig.add_trace(
                go.Scatter(
                    x=_iso(ts),
                    y=np.interp(ts, c.timestamp, y),
                    mode="markers",
                    name=f"{r.name}: {what}",
                    legendgroup=r.name,
                    text=[d for _, d in events],
                    marker={"color": colour, **marker},
                ),
                row=1,
                col=1,
            )
    for level, label, colour in (
        (trigger_hf, "trigger", "orange"),
        (hf_floor, "HF floor", "red"),
        (1.0, "liquidation", "black"),
    ):
        if level:
            fig.add_hline(
                y=level, line={"dash": "dash", "color": colour, "width": 1}, annotation_text=label, row=2, col=1
            )
    fig.update_yaxes(range=[HF_AXIS_BOTTOM, hf_top], row=2, col=1)
    fig.update_yaxes(range=list(price_axis(c, built)), row=1, col=1)
    fig.update_layout(title=title, height=950, hovermode="x unified", template="plotly_white")
    table = _inputs_html(inputs) + _table(summaries) + _notes_html() + _batches_html(batches)
    body = fig.to_html(full_html=False, include_plotlyjs="directory")  # plotly.min.js beside the page
    script = path.parent / "plotly.min.js"
    if not script.exists():
        from plotly.offline import get_plotlyjs

        script.write_text(get_plotlyjs())
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{table}{body}</body></html>\n"
    )
    return path


STYLE = (
    "body{font-family:sans-serif;margin:1.5em;max-width:1400px}"
    "table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.2em}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}"
    "th{background:#f4f4f4}td.l,th.l{text-align:left}"
    ".wrap{overflow-x:auto}p.note{font-size:13px;color:#444;max-width:1000px}"
)


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _table(summaries: list[dict[str, Any]]) -> str:
    """One column per policy, one row per metric (labelled), as the command's table."""
    if not summaries:
        return ""
    head = "<th class='l'>metric</th>" + "".join(f"<th>{_esc(s['policy'])}</th>" for s in summaries)
    rows = "".join(
        f"<tr><td class='l'>{_esc(label)}</td>"
        + "".join(f"<td>{_esc(cell(key, s.get(key)))}</td>" for s in summaries)
        + "</tr>"
        for key, label in TABLE_ROWS
    )
    return f"<h2>Results</h2><div class='wrap'><table><tr>{head}</tr>{rows}</table></div>"


def _notes_html() -> str:
    return "".join(f"<p class='note'>{_esc(n)}.</p>" for n in NOTES)


def _inputs_html(inputs: dict[str, Any]) -> str:
    if not inputs:
        return ""
    lines = "".join(f"<li>{_esc(line)}</li>" for line in describe(inputs))
    return f"<h2>Inputs</h2><ul>{lines}</ul>"


BATCH_COLUMNS = (
    ("time", "time (UTC)"),
    ("withdrawn", "withdrawn"),
    ("sold", "sold"),
    ("decision_price", "decided at"),
    ("avg_price", "average price"),
    ("repaid_usd", "repaid $"),
    ("hf_before", "HF before"),
    ("hf_after", "HF after"),
)


def _batches_html(batches: dict[str, list[dict[str, Any]]]) -> str:
    parts = ["<h2>Batches</h2>"]
    for name, rows in batches.items():
        if not rows:
            parts.append(f"<p class='note'>{_esc(name)}: no batches.</p>")
            continue
        head = "".join(f"<th>{_esc(label)}</th>" for _, label in BATCH_COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{_esc(cell(k, row.get(k)))}</td>" for k, _ in BATCH_COLUMNS) + "</tr>"
            for row in rows
        )
        parts.append(f"<h3>{_esc(name)} ({len(rows)})</h3><div class='wrap'><table><tr>{head}</tr>{body}</table></div>")
    return "".join(parts)


def write_sweep_report(payload: dict[str, Any], folder: str | Path, *, title: str) -> list[Path]:
    """A sweep's report: the inputs, one table row per (point, policy), and the JSON."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    axes = list(payload.get("axes", {}))
    head = "".join(f"<th>{_esc(k)}</th>" for k in axes) + "".join(
        f"<th{' class=l' if k == 'policy' else ''}>{_esc(label)}</th>" for k, label in SWEEP_COLUMNS
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td>{_esc(point['params'].get(k))}</td>" for k in axes)
        + "".join(
            f"<td{' class=l' if k == 'policy' else ''}>{_esc(cell(k, row.get(k)))}</td>" for k, _ in SWEEP_COLUMNS
        )
        + "</tr>"
        for point in payload["sweep"]
        for row in point["policies"]
    )
    span = f"{payload['start']} → {payload['end']} ({payload['bars']} bars, {len(payload['sweep'])} points)"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{_esc(title)}</h1><p>{_esc(span)}</p>"
        f"{_inputs_html(payload.get('inputs', {}))}<p class='note'>Inputs of the first point; each row's "
        f"{_esc(', '.join(axes))} as shown.</p>"
        f"<h2>Results</h2><div class='wrap'><table><tr>{head}</tr>{body}</table></div>{_notes_html()}</body></html>\n"
    )
    html_path, json_path = out / "report.html", out / "sweep.json"
    html_path.write_text(page)
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    return [html_path, json_path]


def _pngs(
    built: list[tuple[RunResult, dict[str, np.ndarray]]],
    out: Path,
    *,
    title: str,
    trigger_hf: float | None,
    hf_floor: float | None,
    hf_top: float,
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = built[0][0].candles
    s = _stride(len(c))
    x = c.timestamp[::s].astype("datetime64[s]")
    paths = []
    fig, axes = plt.subplots(3, 1, figsize=(13, 10), sharex=True, gridspec_kw={"height_ratios": [3, 2, 2]})
    axes[0].plot(x, c.close[::s], color="black", lw=0.8, label="close")
    for n, (r, ser) in enumerate(built):
        colour = COLOURS[n % len(COLOURS)]
        axes[0].plot(x, ser["liq"][::s], color=colour, ls=":", lw=1.2, label=f"{r.name} liq. price")
        axes[1].plot(x, clipped_hf(ser["hf"][::s], hf_top), color=colour, lw=1, label=r.name)
        axes[2].plot(x, ser["equity"][::s], color=colour, lw=1, label=r.name)
        for t, kind, _ in r.events:
            if kind == "batch":
                axes[0].axvline(np.datetime64(int(t), "s"), color=colour, alpha=0.25, lw=0.8)
            if kind == "liquidation":
                axes[0].plot(np.datetime64(int(t), "s"), np.interp(t, c.timestamp, c.low), "x", color=colour, ms=9)
    for level, colour in ((trigger_hf, "orange"), (hf_floor, "red"), (1.0, "black")):
        if level:
            axes[1].axhline(level, color=colour, ls="--", lw=0.8)
    axes[1].set_ylim(HF_AXIS_BOTTOM, hf_top)
    axes[0].set_ylim(*price_axis(c, built))
    axes[0].set_ylabel("USDT")
    axes[1].set_ylabel("HF")
    axes[2].set_ylabel("equity, USD")
    axes[0].legend(fontsize=7, loc="upper right")
    axes[1].legend(fontsize=7, loc="upper right")
    axes[0].set_title(title)
    fig.tight_layout()
    path = out / "report.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths

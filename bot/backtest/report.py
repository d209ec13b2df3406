"""Reports: an HTML page with interactive plotly charts and PNG versions drawn by matplotlib.

Charts per run, all policies overlaid: the price (close, low) with each policy's liquidation
price, sales and liquidations marked; the health factor with the trigger and the HF floor;
equity. Series are rebuilt after the run from the state checkpoints the runner records at
events (state is constant between them except interest), so reporting costs nothing while
simulating.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

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
) -> list[Path]:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    built = [(r, series(r, lt, rate)) for r in results]
    paths = [_html(built, summaries, out / "report.html", title=title, trigger_hf=trigger_hf, hf_floor=hf_floor)]
    paths += _pngs(built, out, title=title, trigger_hf=trigger_hf, hf_floor=hf_floor)
    (out / "summary.json").write_text(json.dumps(summaries, indent=2) + "\n")
    paths.append(out / "summary.json")
    return paths


def _html(
    built: list[tuple[RunResult, dict[str, np.ndarray]]],
    summaries: list[dict[str, Any]],
    path: Path,
    *,
    title: str,
    trigger_hf: float | None,
    hf_floor: float | None,
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
            go.Scatter(x=x, y=ser["hf"][::s], name=f"{r.name}: HF", legendgroup=r.name, line={"color": colour}),
            row=2,
            col=1,
        )
        fig.add_trace(
            go.Scatter(x=x, y=ser["equity"][::s], name=f"{r.name}: equity", legendgroup=r.name, line={"color": colour}),
            row=3,
            col=1,
        )
        sells = [(t, d) for t, kind, d in r.events if kind in ("sell", "batch")]
        if sells:
            ts = np.array([t for t, _ in sells])
            fig.add_trace(
                go.Scatter(
                    x=_iso(ts),
                    y=np.interp(ts, c.timestamp, c.close),
                    mode="markers",
                    name=f"{r.name}: batches",
                    legendgroup=r.name,
                    text=[d for _, d in sells],
                    marker={"color": colour, "symbol": "triangle-down", "size": 8},
                ),
                row=1,
                col=1,
            )
        liqs = [(t, d) for t, kind, d in r.events if kind == "liquidation"]
        if liqs:
            ts = np.array([t for t, _ in liqs])
            fig.add_trace(
                go.Scatter(
                    x=_iso(ts),
                    y=np.interp(ts, c.timestamp, c.low),
                    mode="markers",
                    name=f"{r.name}: liquidations",
                    legendgroup=r.name,
                    text=[d for _, d in liqs],
                    marker={"color": colour, "symbol": "x", "size": 11},
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
    fig.update_layout(title=title, height=950, hovermode="x unified", template="plotly_white")
    table = _table(summaries)
    body = fig.to_html(full_html=False, include_plotlyjs="directory")  # plotly.min.js beside the page
    script = path.parent / "plotly.min.js"
    if not script.exists():
        from plotly.offline import get_plotlyjs

        script.write_text(get_plotlyjs())
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;font-size:13px}}"
        f"td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{table}{body}</body></html>\n"
    )
    return path


def _table(summaries: list[dict[str, Any]]) -> str:
    if not summaries:
        return ""
    keys = list(summaries[0])
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(s.get(k)))}</td>" for k in keys) + "</tr>" for s in summaries
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def _pngs(
    built: list[tuple[RunResult, dict[str, np.ndarray]]],
    out: Path,
    *,
    title: str,
    trigger_hf: float | None,
    hf_floor: float | None,
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
        axes[1].plot(x, ser["hf"][::s], color=colour, lw=1, label=r.name)
        axes[2].plot(x, ser["equity"][::s], color=colour, lw=1, label=r.name)
        for t, kind, _ in r.events:
            if kind == "batch":
                axes[0].axvline(np.datetime64(int(t), "s"), color=colour, alpha=0.25, lw=0.8)
            if kind == "liquidation":
                axes[0].plot(np.datetime64(int(t), "s"), np.interp(t, c.timestamp, c.low), "x", color=colour, ms=9)
    for level, colour in ((trigger_hf, "orange"), (hf_floor, "red"), (1.0, "black")):
        if level:
            axes[1].axhline(level, color=colour, ls="--", lw=0.8)
    hf_all = np.concatenate([ser["hf"] for _, ser in built])
    top = np.nanpercentile(hf_all, 99) if np.isfinite(hf_all).any() else 3
    axes[1].set_ylim(0.8, max(2.0, min(5.0, float(top) * 1.05)))
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

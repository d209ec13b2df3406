"""The stress lab's HTML report (plotly, offline: ``plotly.min.js`` is written beside the page):
survival curves of the minimum HF, CDFs of the shortfall, a P(liquidation) heat map over a
two-key grid, the results table and the JSON."""

from __future__ import annotations

import html
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.stress.lab import Group

HF_LEVELS = [Decimal(k) / 100 for k in range(80, 201, 2)]


def _survival(outcomes: list[Any]) -> list[float]:
    lows = [None if o.min_health_factor is None else Decimal(o.min_health_factor) for o in outcomes]
    n = len(lows) or 1
    return [sum(1 for x in lows if x is None or x > lvl) / n for lvl in HF_LEVELS]


def _label(params: dict[str, str], name: str) -> str:
    point = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{name} ({point})" if point else name


def write_stress_report(
    payload: dict[str, Any], groups: list[Group], folder: Path, *, title: str, max_curves: int = 24
) -> list[Path]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    folder.mkdir(parents=True, exist_ok=True)
    shown = groups[:max_curves]  # a large grid: the first points' curves (the heat map and table hold all)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("P(min HF > x)", "P(shortfall ≤ x), USD"))
    for params, name, outcomes in shown:
        label = _label(params, name)
        fig.add_trace(
            go.Scatter(x=[float(x) for x in HF_LEVELS], y=_survival(outcomes), name=label, legendgroup=label),
            row=1,
            col=1,
        )
        shortfall = sorted(float(o.shortfall_usd) for o in outcomes)
        n = len(shortfall)
        fig.add_trace(
            go.Scatter(
                x=shortfall,
                y=[(k + 1) / n for k in range(n)],
                name=label,
                legendgroup=label,
                showlegend=False,
                line={"shape": "hv"},
            ),
            row=1,
            col=2,
        )
    fig.add_vline(x=1.0, line={"dash": "dash", "color": "red", "width": 1}, row=1, col=1)
    fig.update_layout(title=title, height=550, template="plotly_white")
    figures = [fig.to_html(full_html=False, include_plotlyjs="directory")]
    heat = _heat_map(payload)
    if heat is not None:
        figures.append(heat.to_html(full_html=False, include_plotlyjs=False))
    script = folder / "plotly.min.js"
    if not script.exists():
        from plotly.offline import get_plotlyjs

        script.write_text(get_plotlyjs())
    page = folder / "stress.html"
    page.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{''.join(figures)}{_table(payload)}</body></html>\n"
    )
    data = folder / "stress.json"
    data.write_text(json.dumps(payload, indent=2) + "\n")
    return [page, data]


def _heat_map(payload: dict[str, Any]) -> Any:
    """P(liq) of the policy under test over a grid of exactly two keys (None otherwise)."""
    import plotly.graph_objects as go

    axes = payload["axes"]
    if len(axes) != 2 or not payload["policies"]:
        return None
    (kx, xs), (ky, ys) = axes.items()
    policy = payload["policies"][0]["policy"]
    p = {
        (r["params"][kx], r["params"][ky]): float(r["p_liquidation"])
        for r in payload["policies"]
        if r["policy"] == policy
    }
    z = [[p.get((x, y)) for x in xs] for y in ys]
    fig = go.Figure(
        go.Heatmap(x=xs, y=ys, z=z, colorscale="Reds", colorbar={"title": "P(liq)"}, texttemplate="%{z:.1%}")
    )
    fig.update_layout(title=f"P(liquidation) of {policy}", xaxis_title=kx, yaxis_title=ky, template="plotly_white")
    return fig


COLUMNS = (
    "policy",
    "paths",
    "liquidated_paths",
    "p_liquidation",
    "p_liquidation_ci",
    "shortfall_usd_mean",
    "shortfall_usd_p95",
    "shortfall_usd_cvar95",
    "time_to_target_s_median",
    "min_health_factor_p5",
    "equity_vs_hold_usd_mean",
)


def _table(payload: dict[str, Any]) -> str:
    keys = list(payload["axes"])
    head = "".join(f"<th>{html.escape(k)}</th>" for k in [*keys, *COLUMNS])
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(str(r['params'].get(k)))}</td>" for k in keys)
        + "".join(f"<td>{html.escape(str(r.get(k)))}</td>" for k in COLUMNS)
        + "</tr>"
        for r in payload["policies"]
    )
    return f"<h2>Results</h2><table><tr>{head}</tr>{rows}</table>"

"""`delever stress --paths-dir`: do-nothing is liquidated on exactly the paths whose low crosses
the liquidation price as it grows with the debt's interest — counted here independently, from
the candles and the position file alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from bot.cli import app

COLLATERAL, DEBT, LT = 100.0, 123_000.0, 0.80  # liquidation price 1537.50 at the start
APR = 0.5  # high, so interest moves the liquidation price ~4 % over a path
BAR_S, BARS = 3600, 720  # 30 days of hourly bars
T0 = 1_767_225_600
YEAR_S = 365 * 86_400


def liq_price(t_s: np.ndarray) -> np.ndarray:
    return DEBT * np.exp(APR * t_s / YEAR_S) / (COLLATERAL * LT)


def write_path(folder: Path, name: str, closes: np.ndarray, dip: float) -> Path:
    """Hourly candles through ``closes``; each low ``dip`` below its bar's lower end."""
    opens = np.concatenate([[closes[0]], closes[:-1]])
    lows = np.minimum(opens, closes) * (1 - dip)
    highs = np.maximum(opens, closes) * (1 + dip)
    ts = T0 + BAR_S * np.arange(len(closes))
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [
        f"{t},{o!r},{h!r},{lo!r},{c!r},1000"
        for t, o, h, lo, c in zip(ts, *(x.tolist() for x in (opens, highs, lows, closes)))
    ]
    path = folder / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def crosses(path: Path) -> bool:
    """The independent count: does any bar's low reach the interest-grown liquidation price?"""
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    ratio = rows[:, 3] / liq_price(rows[:, 0] - rows[0, 0])
    assert abs(float(np.min(ratio)) - 1) > 2e-3, f"{path.name} sits on the threshold: not a fair case"
    return bool(np.min(ratio) < 1)


def make_paths(folder: Path) -> list[Path]:
    rng = np.random.default_rng(4)
    start_liq = DEBT / (COLLATERAL * LT)
    files = []
    flat = np.full(BARS, 1800.0)
    late = flat.copy()
    late[-5:] = start_liq * 1.02  # above the start's liquidation price, below the grown one
    early = flat.copy()
    early[3:6] = start_liq * 1.02  # the same dip before interest has grown: survives
    files.append(write_path(folder, "late-dip", late, 0.0))
    files.append(write_path(folder, "early-dip", early, 0.0))
    files.append(write_path(folder, "flat", flat, 0.001))
    for k in range(9):  # random walks around the threshold
        closes = 1800.0 * np.exp(np.cumsum(rng.normal(0, 0.012, BARS)))
        files.append(write_path(folder, f"walk-{k}", closes, 0.002))
    return files


def test_do_nothing_is_liquidated_exactly_on_the_paths_that_cross(tmp_path):
    folder = tmp_path / "paths"
    folder.mkdir()
    files = make_paths(folder)
    expected = sum(crosses(p) for p in files)
    position = tmp_path / "position.json"
    position.write_text(json.dumps({"collateral": "100", "debt": "123000", "liquidation_threshold_bps": 8000}))

    result = CliRunner().invoke(
        app,
        [
            "stress",
            "--paths-dir",
            str(folder),
            "--position",
            str(position),
            "--set",
            f"borrow_apr={APR}",
            "--workers",
            "1",
            "--json",
        ],
    )

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    rows = {row["policy"]: row for row in payload["policies"]}
    assert 0 < expected < len(files)  # the case separates crossing from surviving paths
    assert crosses(folder / "late-dip.csv") and not crosses(folder / "early-dip.csv")
    assert list(rows) == ["threshold", "do-nothing", "sell-all", "one-shot"]
    do_nothing = rows["do-nothing"]
    assert do_nothing["paths"] == len(files)
    assert do_nothing["liquidated_paths"] == expected
    assert do_nothing["p_liquidation"] == f"{expected / len(files):.6f}"
    lo, hi = (float(x) for x in do_nothing["p_liquidation_ci"])
    assert lo < expected / len(files) < hi

"""Per-path results as Parquet, for notebooks: one row per grid point, actor and path. Money
and health factors are decimals (exact, as in the JSON); the grid point's params are a JSON
string column beside one column per grid key."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from bot.stress.lab import Group


def write_parquet(groups: list[Group], path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = sorted({k for params, _, _ in groups for k in params})
    cols: dict[str, list[object]] = {
        "point": [],
        "params": [],
        **{f"param_{k}": [] for k in keys},
        "policy": [],
        "path": [],
        "liquidated": [],
        "acted": [],
        "shortfall_usd": [],
        "liquidation_penalty_usd": [],
        "equity_vs_hold_usd": [],
        "min_health_factor": [],
        "time_to_target_s": [],
    }
    points: dict[str, int] = {}
    for params, name, outcomes in groups:
        text = json.dumps(params, sort_keys=True)
        point = points.setdefault(text, len(points))
        for n, o in enumerate(outcomes):
            cols["point"].append(point)
            cols["params"].append(text)
            for k in keys:
                cols[f"param_{k}"].append(params.get(k))
            cols["policy"].append(name)
            cols["path"].append(n)
            cols["liquidated"].append(o.liquidated)
            cols["acted"].append(o.acted)
            cols["shortfall_usd"].append(Decimal(o.shortfall_usd))
            cols["liquidation_penalty_usd"].append(Decimal(o.liquidation_penalty_usd))
            cols["equity_vs_hold_usd"].append(Decimal(o.equity_vs_hold_usd))
            cols["min_health_factor"].append(None if o.min_health_factor is None else Decimal(o.min_health_factor))
            cols["time_to_target_s"].append(o.time_to_target_s)
    money, hf = pa.decimal128(24, 2), pa.decimal128(16, 4)
    types = {
        "point": pa.int32(),
        "path": pa.int64(),
        "liquidated": pa.bool_(),
        "acted": pa.bool_(),
        "shortfall_usd": money,
        "liquidation_penalty_usd": money,
        "equity_vs_hold_usd": money,
        "min_health_factor": hf,
        "time_to_target_s": pa.int64(),
    }
    table = pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in cols.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path

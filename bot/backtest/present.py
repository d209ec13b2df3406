"""How backtest results read: human labels for the metrics, cells formatted for people (no
``None``/``False``, thousands separated), and the inputs in a few lines. The JSON keeps the
raw keys and fixed-precision strings; only the tables and the report use this.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

DASH = "—"

# (key, label) in reading order: the outcome, the protection's cost, then the details.
TABLE_ROWS = (
    ("liquidated", "liquidated"),
    ("liquidations", "liquidations"),
    ("liquidation_penalty_usd", "liquidation penalty $"),
    ("min_health_factor", "lowest HF"),
    ("final_health_factor", "final HF"),
    ("batches", "batches"),
    ("batches_repay_first", "batches repaying first"),
    ("batches_withdraw_first", "batches withdrawing first"),
    ("batches_by_route", "batches, cex / dex"),
    ("max_in_transit_usd", "most in transit $"),
    ("min_hf_in_transit", "lowest HF in transit"),
    ("max_hf_dip_below_batch_start", "HF in transit below its batch's start, at most"),
    ("min_hf_vs_batch_start_same_price", "HF in transit / batch start at the same price, lowest"),
    ("collateral_sold", "collateral sold"),
    ("sold_vs_hindsight", "sold / hindsight's least"),
    ("debt_repaid", "debt repaid $"),
    ("avg_fill_price", "average sale price"),
    ("arrival_price", "first decision price"),
    ("fees_usd", "exchange fees $"),
    ("gas_usd", "gas $"),
    ("execution_cost_usd", "execution cost $"),
    ("protection_cost_usd", "protection cost $"),
    ("transit_drift_usd", "market move in transit $"),
    ("market_drift_usd", "market drift $"),
    ("equity_vs_hold_usd", "equity vs holding $"),
    ("final_equity_usd", "final equity $"),
    ("final_debt", "final debt $"),
    ("shortfall_usd", "shortfall vs first decision $"),
    ("shortfall_bps", "shortfall vs first decision, bps"),
    ("first_liquidation", "first liquidation"),
    ("engine_halted", "engine halted"),
)

SWEEP_COLUMNS = (
    ("policy", "policy"),
    ("liquidated", "liq."),
    ("liquidation_penalty_usd", "penalty $"),
    ("min_health_factor", "min HF"),
    ("batches", "batches"),
    ("collateral_sold", "sold"),
    ("sold_vs_hindsight", "× hindsight"),
    ("avg_fill_price", "avg fill"),
    ("protection_cost_usd", "protection $"),
    ("market_drift_usd", "drift $"),
    ("equity_vs_hold_usd", "vs hold $"),
)

LABELS = dict(TABLE_ROWS)

NOTES = (
    "protection cost = exchange fees + gas + execution cost (sales below the market price when "
    "they were sent: spread, depth, the bot's own impact); compare it with the liquidation "
    "penalty the do-nothing baseline paid",
    "equity vs holding = market drift − protection cost − liquidation penalty: mostly the market's "
    "direction after the coins were sold, not the bot's skill",
)


def cell(key: str, value: Any) -> str:
    """One value as a person reads it: yes/no, — for nothing, money with thousands separators."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):  # by route, in the label's order: "6 / 0"
        return " / ".join(cell(key, part) for part in value.values())
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str) and key != "policy":
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value
        places = max(0, -number.as_tuple().exponent) if isinstance(number.as_tuple().exponent, int) else 0
        return f"{number:,.{places}f}"
    return str(value)


def describe(inputs: dict[str, Any]) -> list[str]:
    """The inputs in a few lines: position, policy, limits, depth model."""
    if not inputs:
        return []
    pos, pol, lim, mkt, sim = (
        inputs["position"],
        inputs["policy"],
        inputs["limits"],
        inputs["market_model"],
        inputs["simulation"],
    )
    params = ", ".join(f"{k}={_short(v)}" for k, v in pol["params"].items()) or "no params"
    hf = pos["health_factor"] or "∞"
    return [
        f"position: {cell('', pos['collateral'])} {pos['collateral_reserve']} against "
        f"{cell('', pos['debt'])} {pos['debt_reserve']} at {cell('', pos['price'])} (HF {hf}, "
        f"LT {pos['liquidation_threshold_bps']} bps, bonus {pos['liquidation_bonus_bps']} bps)",
        f"policy: {pol['name']} ({params})",
        f"limits: HF floor {lim['hf_floor']}, slippage ≤ {lim['max_slippage_bps']} bps, shock "
        f"{lim['price_shock_bps']} bps, ≤ ${cell('', lim['max_batch_usd'])} a batch, "
        f"≤ ${cell('', lim['max_daily_usd'])} a day, cooldown {lim['cooldown_s']:g} s",
        f"market: ${mkt['depth_usd_1pct'] / 1e6:g}M bid depth within 1 % (× {mkt['crash_depth_factor']:g} "
        f"in a crash), refill half-life {mkt['refill_half_life_s']:g} s, taker fee {mkt['taker_fee_bps']} bps, "
        f"gas {mkt['gas_gwei']:g} gwei; transfers {sim['deposit_delay_s']} s in, "
        f"{sim['withdrawal_delay_s']} s back; borrow APR {sim['borrow_apr']}",
        *_dex_line(inputs.get("dex")),
    ]


def _dex_line(dex: dict[str, Any] | None) -> list[str]:
    if not dex:
        return []
    depth = Decimal(dex["depth_usd"])
    pools = f"${depth / 1_000_000:f}".rstrip("0").rstrip(".") + "M within 1 % (0.05 % and 0.3 % pools)"
    return [
        f"dex: route {dex['route']}, {pools if depth else 'no pools'}, flash premium "
        f"{dex['flash_premium_bps']} bps; one-shot slippage ≤ {dex['one_shot_slippage_bps']} bps, "
        f"service fee {dex['one_shot_service_fee_bps']} bps"
    ]


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)

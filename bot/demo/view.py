"""What `delever demo` prints (rich): set-up lines, a line per price step, a line per finished
batch, then an HF chart against the trigger and the floor, the batches from the journal, the
timings and the end state next to what the same position would have had without the bot.
Also a PNG of the same chart (matplotlib)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.cli.history_view import batch_table
from bot.engine.history import BatchSummary


def _width() -> int | None:
    """The terminal's width; 110 columns when the output is not a terminal (logs, tests)."""
    import sys

    return None if sys.stdout.isatty() else 110


def _usd(value: Decimal | None, places: int = 2) -> str:
    return "—" if value is None else f"${value:,.{places}f}"


def _skip_text(reason: str | None) -> str:
    """The executor's skip reason, with the amount in WETH rather than wei."""
    import re

    if not reason:
        return "no step had anything to do"
    return re.sub(
        r"withdrawing (\d{10,}) WETH",
        lambda m: f"withdrawing {Decimal(m.group(1)).scaleb(-18):.4f} WETH",
        "price moved before the withdrawal: " + reason,
    )


def _hf(value: Decimal | None) -> str:
    return "∞" if value is None else f"{value:.3f}"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d %b %H:%M")


class DemoView:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, width=_width())
        self.began = time.monotonic()
        self._last_price: Decimal | None = None

    def _elapsed(self) -> str:
        return f"[dim]{time.monotonic() - self.began:5.1f}s[/]"

    def _hf_style(self, run: Any, hf: Decimal | None) -> str:
        if hf is None or hf >= run.policy["trigger_hf"]:
            return "green"
        return "yellow" if hf >= run.policy["hf_floor"] else "bold red"

    # ---- live -------------------------------------------------------------------------------

    def setup(self, message: str) -> None:
        self.console.print(f"{self._elapsed()} [cyan]›[/] {message}")

    def position(self, run: Any, devnet: Any) -> None:
        from bot.demo.runner import collateral_amount, debt_amount, end_hf, liquidation_price

        pos = run.start_position
        p = run.policy
        self.console.print(
            f"{self._elapsed()} [cyan]›[/] position {devnet.wallet}: [bold]{collateral_amount(pos):,.2f} WETH[/] "
            f"supplied at $2,000, [bold]{debt_amount(pos):,.2f} USDT[/] borrowed (spent: moved out of the wallet), "
            f"HF [bold]{_hf(end_hf(pos))}[/], liquidation at {_usd(liquidation_price(pos))}"
        )
        self.console.print(
            f"{self._elapsed()} [cyan]›[/] policy threshold: below HF {p['trigger_hf']} restore to {p['target_hf']}; "
            f"HF floor {p['hf_floor']} held through each batch at a {p['price_shock_bps'] / 100:.0f} % price shock; "
            f"sells capped at {p['max_slippage_bps'] / 100:.1f} % slippage"
        )

    def step(self, run: Any, sample: Any) -> None:
        price = sample.point.price_usd
        change = "" if self._last_price is None else f"{(price / self._last_price - 1) * 100:+5.1f}%"
        self._last_price = price
        nobot = run.without_bot_hf(price)
        nobot_style = "red" if nobot is not None and nobot < 1 else "dim"
        line = Text.from_markup(
            f"{self._elapsed()} [dim]{_when(sample.market_ts)}[/] [bold]{_usd(price)}[/] {change:>6} "
            f"HF [{self._hf_style(run, sample.health_factor)}]{_hf(sample.health_factor)}[/] "
            f"[{nobot_style}](no bot {_hf(nobot)})[/] "
            + (f"[magenta]{sample.activity}[/]" if sample.busy else "[dim]watching[/]")
        )
        self.console.print(line)

    def batch_finished(self, run: Any, b: BatchSummary) -> None:
        style = "bold green" if b.status.value == "DONE" else "bold red"
        if not b.moved:
            self.console.print(
                f"{self._elapsed()} [yellow]○ batch {b.seq} {b.status.value}, nothing moved[/]: "
                f"{_skip_text(b.withdraw_skipped)}; the next tick re-plans from the new price"
            )
            return
        self.console.print(
            f"{self._elapsed()} [{style}]✔ batch {b.seq} {b.status.value}[/] {b.duration_s:.1f} s: "
            f"{b.sold:.2f} ETH sold at {_usd(b.avg_price)}, {b.repaid:,.0f} USDT repaid, "
            f"HF {_hf(b.hf_before)} → [bold]{_hf(b.hf_after)}[/]"
        )

    # ---- the report ------------------------------------------------------------------------------

    def report(self, run: Any) -> None:
        c = self.console
        c.rule(f"[bold]{run.title}[/] — scaled to start at $2,000")
        c.print(hf_chart(run, width=max(40, min(c.width - 12, 96))))
        c.print(batch_table(run.batches, started=False))
        c.print(timing_table(run))
        c.print(end_state(run))
        if run.png:
            c.print(f"chart: [bold]{run.png}[/]")

    def write_png(self, run: Any, path: Path) -> Path | None:
        try:
            return write_png(run, path)
        except ImportError:
            self.setup("matplotlib is not installed: no PNG")
            return None


# ---- pieces (pure, given a run) ----------------------------------------------------------------------


def chart_series(run: Any) -> tuple[list[tuple[float, Decimal]], list[tuple[float, Decimal]]]:
    """(market time, HF) with the bot at every block, and without it at every price step."""
    bot = [(run.market_ts_at_block(b.block), b.health_factor) for b in run.blocks if b.health_factor is not None]
    nobot = []
    for s in run.samples:
        hf = run.without_bot_hf(s.point.price_usd)
        if hf is not None:
            nobot.append((s.market_ts, hf))
    return bot, nobot


def plot_rows(
    bot: Sequence[tuple[float, Decimal]],
    nobot: Sequence[tuple[float, Decimal]],
    *,
    trigger: Decimal,
    floor: Decimal,
    width: int,
    height: int = 13,
) -> list[Text]:
    """A text plot: per column the LOWEST HF with the bot (●) and without (·), lines at the
    trigger, the floor and 1.0."""
    xs = [x for x, _ in bot] + [x for x, _ in nobot]
    if not xs:
        return [Text("(no samples)")]
    x0, x1 = min(xs), max(xs)
    values = [v for _, v in bot] + [v for _, v in nobot] + [trigger, floor, Decimal(1)]
    lo = float(min(values)) - 0.03
    hi = float(max(values)) + 0.03

    def col(x: float) -> int:
        return 0 if x1 == x0 else min(width - 1, int((x - x0) / (x1 - x0) * (width - 1) + 0.5))

    def row(v: Decimal) -> int:
        return min(height - 1, max(0, int((hi - float(v)) / (hi - lo) * (height - 1) + 0.5)))

    def lowest(series: Sequence[tuple[float, Decimal]]) -> dict[int, Decimal]:
        out: dict[int, Decimal] = {}
        for x, v in series:
            c = col(x)
            out[c] = min(v, out.get(c, v))
        return out

    grid = [[(" ", "")] * width for _ in range(height)]
    for level, style in ((Decimal(1), "dim"), (floor, "red"), (trigger, "yellow")):
        r = row(level)
        grid[r] = [("┄", style)] * width
    for c, v in lowest(nobot).items():
        grid[row(v)][c] = ("·", "red")
    for c, v in lowest(bot).items():
        grid[row(v)][c] = ("●", "green" if v >= trigger else "yellow" if v >= floor else "bold red")
    labels = {row(trigger): f"trigger {trigger}", row(floor): f"floor {floor}", row(Decimal(1)): "liq 1.0"}
    labels.setdefault(0, f"{hi:.2f}")
    labels.setdefault(height - 1, f"{lo:.2f}")
    lines = []
    for r in range(height):
        text = Text(f"{labels.get(r, ''):>12} │", style="dim")
        for char, style in grid[r]:
            text.append(char, style=style)
        lines.append(text)
    return lines


def hf_chart(run: Any, *, width: int) -> Text:
    bot, nobot = chart_series(run)
    rows = plot_rows(bot, nobot, trigger=run.policy["trigger_hf"], floor=run.policy["hf_floor"], width=width)
    out = Text("Health factor over the crash: ", style="bold")
    out.append("● with the bot (lowest per column, every block)", style="green")
    out.append("   ")
    out.append("· same position without the bot", style="red")
    out.append("\n")
    for line in rows:
        out.append_text(line)
        out.append("\n")
    if run.samples:
        first, last = run.samples[0].market_ts, run.samples[-1].market_ts
        out.append(f"{'':>12}  {_when(first)}{'':^{max(1, width - 24)}}{_when(last)}", style="dim")
    return out


def timing_table(run: Any) -> Table:
    table = Table(title="Timings", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("seconds", justify="right")
    labels = {
        "devnet_up": "devnet up (anvil, Aave v3, exchange emulator, position)",
        "daemon_ready": "daemon start to its first tick",
        "path": "price replay",
        "settle": "last batch settling",
        "daemon_stop": "daemon stop (SIGTERM)",
        "total": "total so far",
    }
    for key, label in labels.items():
        if key in run.timings:
            table.add_row(label, f"{run.timings[key]:.1f}")
    done = [b for b in run.batches if b.status.value == "DONE" and b.moved]
    if done:
        table.add_row(
            f"per batch (mean of {len(done)} that moved funds)", f"{sum(b.duration_s for b in done) / len(done):.1f}"
        )
        legs: dict[str, list[float]] = {}
        for b in done:
            for leg, seconds in b.legs_s.items():
                legs.setdefault(leg, []).append(seconds)
        for leg, values in legs.items():
            table.add_row(f"  leg {leg} (mean)", f"{sum(values) / len(values):.2f}")
    return table


def end_state(run: Any) -> Text:
    from bot.demo.runner import collateral_amount, debt_amount, end_hf, liquidation_price

    out = Text()
    end, start = run.end_position, run.start_position
    low = run.low_point()
    hf_min = run.hf_min_block()
    p = run.policy
    if end is not None:
        out.append("End state   ", style="bold")
        out.append(
            f"collateral {collateral_amount(end):,.4f} WETH, debt {debt_amount(end):,.2f} USDT, "
            f"HF {_hf(end_hf(end))}, liquidation price {_usd(liquidation_price(end))} "
            f"(WETH at {_usd(run.path_points[-1].price_usd)})\n"
        )
    if hf_min is not None:
        ok = hf_min.health_factor >= p["hf_floor"]
        out.append("Lowest HF   ", style="bold")
        out.append(
            f"{_hf(hf_min.health_factor)} at block {hf_min.block} over {len(run.blocks)} blocks: ",
        )
        out.append(
            "never below the floor" if ok else f"BELOW the floor {p['hf_floor']}", style="green" if ok else "bold red"
        )
        out.append("\n")
    nobot = run.without_bot_hf(low.price_usd)
    out.append("Without bot ", style="bold")
    liquidated = nobot is not None and nobot < 1
    out.append(
        f"the same {collateral_amount(start):,.0f} WETH / {debt_amount(start):,.0f} USDT position: HF {_hf(nobot)} "
        f"at the low ({_usd(low.price_usd)}, {_when(low.source_timestamp)}), liquidation price "
        f"{_usd(liquidation_price(start))} → ",
    )
    out.append("liquidated" if liquidated else "not liquidated", style="bold red" if liquidated else "green")
    first = next((p for p in run.path_points if (run.without_bot_hf(p.price_usd) or 2) < 1), None)
    if first is not None:
        out.append(f" from {_when(first.source_timestamp)} (WETH {_usd(first.price_usd)})")
    if liquidated:
        start_collateral = start.reserve("WETH")
        bonus = Decimal(start_collateral.liquidation_bonus_bps) / 10000 - 1
        out.append(f" (the liquidator takes collateral at a {bonus * 100:.1f} % bonus)")
    out.append("\n")
    if run.control[0] != "NORMAL":
        out.append(f"Journal control state: {run.control[0]} ({run.control[1]})\n", style="bold red")
    return out


def write_png(run: Any, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    bot, nobot = chart_series(run)
    to_dt = lambda ts: datetime.fromtimestamp(ts, UTC)  # noqa: E731
    fig, (ax_price, ax_hf) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, height_ratios=(1, 2))
    ax_price.plot(
        [to_dt(p.source_timestamp) for p in run.path_points],
        [float(p.price_usd) for p in run.path_points],
        color="0.7",
        lw=0.8,
        label="the path (15-min points)",
    )
    ax_price.step(
        [to_dt(s.market_ts) for s in run.samples],
        [float(s.point.price_usd) for s in run.samples],
        where="post",
        color="black",
        lw=1.2,
        label="set on the devnet oracle",
    )
    ax_price.legend(loc="upper right", fontsize=8)
    ax_price.set_ylabel("WETH oracle, $ (scaled)")
    ax_price.set_title(f"{run.title} — scaled to start at $2,000")
    ax_hf.step(
        [to_dt(x) for x, _ in bot],
        [float(v) for _, v in bot],
        where="post",
        color="tab:green",
        lw=1.5,
        label="HF with the bot (every block)",
    )
    ax_hf.plot(
        [to_dt(x) for x, _ in nobot],
        [float(v) for _, v in nobot],
        color="tab:red",
        lw=1,
        ls="--",
        label="HF without the bot",
    )
    for level, color, name in (
        (run.policy["trigger_hf"], "orange", "trigger"),
        (run.policy["hf_floor"], "red", "floor"),
        (Decimal(1), "black", "liquidation"),
    ):
        ax_hf.axhline(float(level), color=color, lw=0.8, ls=":", label=f"{name} {level}")
    for b in run.batches:
        start, end = run.market_ts_at_wall(b.started_at), run.market_ts_at_wall(b.finished_at)
        for ax in (ax_price, ax_hf):
            ax.axvspan(to_dt(start), to_dt(max(end, start + 600)), color="tab:blue", alpha=0.15, lw=0)
    ax_hf.set_ylabel("health factor")
    ax_hf.legend(loc="lower left", fontsize=8)
    ax_hf.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

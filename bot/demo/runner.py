"""`delever demo`: devnet up, replay a real ETH crash on the oracle, let the daemon (a real
subprocess) deleverage, show what happened, tear everything down.

Every process the demo starts is stopped on the way out, on success, on an error and on
Ctrl-C/SIGTERM: the daemon with SIGTERM (it stops within seconds, its batch resumable), then
the devnet (`devnet down`), unless ``keep`` asks to leave the devnet running for a look.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.compose import configs
from bot.demo.chain import COLLATERAL, DemoChain
from bot.demo.daemon import Daemon, daemon_env, stop_leftover
from bot.demo.journal_view import BatchSummary, JournalReader
from bot.demo.path import DEFAULT_WINDOW, Pace, PathPoint, Timelapse, load_path
from bot.domain import health_factor_wad, liquidation_price_base, wad_to_decimal
from bot.domain.position import Position, base_to_usd, from_units, price_to_base
from bot.settings import load_backtest_settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "devnet.toml"
DEFAULT_STATE_DIR = Path(".delever/demo")
DEMO_COLLATERAL = Decimal(100)
DEMO_START_HF = Decimal("1.45")
UPDATE_S = 1.0  # one oracle move per second at most (the chain mines a block a second)
POLL_S = 0.2
# The venue adapter treats "order not found" as conclusive only recvWindow + 1 s after it starts
# (an order sent by a previous process could still land until then), so its first sell waits
# that out. config/devnet.toml sets exchange.recv_window_ms = 5000; the crash starts after it.
VENUE_IN_FLIGHT_WINDOW_S = 6.0
REACTION_S = 3.0  # wall seconds the clock stays slow for the daemon to open a batch after HF < trigger
# Devnet-only tuning, passed to the daemon as environment overrides of config/devnet.toml:
# the shock margin δ sized to the demo's round trip (≈1 h of market; this crash fell up to 8 %
# within an hour) instead of the 3 % default.
DAEMON_OVERRIDES = {"DELEVER_LIMITS__PRICE_SHOCK_BPS": "500"}
OUTPUT_FILES = (
    "journal.sqlite",
    "journal.sqlite-wal",
    "journal.sqlite-shm",
    "journal.sqlite.lock",
    "STOP",
    "daemon.log",
    "summary.json",
    "hf.png",
)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    speed: float = 1.0
    window: str = DEFAULT_WINDOW
    keep: bool = False
    state_dir: Path = DEFAULT_STATE_DIR
    png: bool = True
    ready_timeout_s: float = 90.0
    settle_timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Sample:
    wall: float  # time.time()
    market_ts: float
    point: PathPoint
    block: int
    health_factor: Decimal | None
    activity: str
    busy: bool


@dataclass
class DemoRun:
    """Everything measured; ``to_json`` is the machine-readable summary (``summary.json``)."""

    options: DemoOptions
    title: str = ""
    policy: dict[str, Decimal] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    blocks: list[Any] = field(default_factory=list)  # chain.BlockHF
    batches: list[BatchSummary] = field(default_factory=list)
    start_position: Position | None = None
    end_position: Position | None = None
    spent_usdt: Decimal = Decimal(0)
    daemon_exit: int | None = None
    pids: dict[str, int] = field(default_factory=dict)
    control: tuple[str, str | None] = ("NORMAL", None)
    png: Path | None = None
    path_points: list[PathPoint] = field(default_factory=list)

    # ---- derived -------------------------------------------------------------------------------

    def hf_min_block(self) -> Any:
        with_debt = [b for b in self.blocks if b.health_factor is not None]
        return min(with_debt, key=lambda b: b.health_factor) if with_debt else None

    def without_bot_hf(self, price_usd: Decimal) -> Decimal | None:
        assert self.start_position is not None
        moved = self.start_position.with_reserve(COLLATERAL, price=price_to_base(price_usd))
        return wad_to_decimal(health_factor_wad(moved))

    def low_point(self) -> PathPoint:
        return min(self.path_points, key=lambda p: p.price_usd)

    def market_ts_at_wall(self, wall: float) -> float:
        before = [s for s in self.samples if s.wall <= wall]
        return (before[-1] if before else self.samples[0]).market_ts

    def market_ts_at_block(self, block: int) -> float:
        before = [s for s in self.samples if s.block <= block]
        return (before[-1] if before else self.samples[0]).market_ts

    def to_json(self) -> dict[str, Any]:
        low = self.low_point()
        hf_min = self.hf_min_block()
        nobot_low = self.without_bot_hf(low.price_usd)
        end = self.end_position
        return {
            "window": self.options.window,
            "title": self.title,
            "speed": self.options.speed,
            "policy": {k: str(v) for k, v in self.policy.items()},
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
            "price_updates": len(self.samples),
            "blocks_scanned": len(self.blocks),
            "first_block": self.blocks[0].block if self.blocks else None,
            "last_block": self.blocks[-1].block if self.blocks else None,
            "hf_min": None if hf_min is None else str(hf_min.health_factor),
            "hf_min_block": None if hf_min is None else hf_min.block,
            "hf_final": _s(end_hf(end)) if end else None,
            "price_start": str(self.path_points[0].price_usd),
            "price_low": str(low.price_usd),
            "price_end": str(self.path_points[-1].price_usd),
            "without_bot_hf_at_low": _s(nobot_low),
            "without_bot_liquidated": nobot_low is not None and nobot_low < 1,
            "without_bot_liquidation_price": _s(liquidation_price(self.start_position)),
            "liquidation_price": _s(liquidation_price(end)) if end else None,
            "collateral_weth": _s(collateral_amount(end)) if end else None,
            "debt_usdt": _s(debt_amount(end)) if end else None,
            "spent_usdt_at_start": str(self.spent_usdt),
            "batches": [_batch_json(b) for b in self.batches],
            "batches_done": sum(1 for b in self.batches if b.status.value == "DONE"),
            "batches_moved": sum(1 for b in self.batches if b.moved),
            "control": self.control[0],
            "daemon_exit": self.daemon_exit,
            "pids": self.pids,
            "png": str(self.png) if self.png else None,
        }


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_demo(options: DemoOptions, view: Any) -> DemoRun:
    """Run the whole demo; ``view`` (``bot.demo.view.DemoView``) prints as it goes."""
    from bot.devnet import launcher

    began = time.monotonic()
    window, points = load_path(options.window)
    state_dir = options.state_dir.resolve()
    run = DemoRun(options, title=window.title, path_points=points, policy=_policy(state_dir))
    daemon: Daemon | None = None
    with _state_dir_env(state_dir):
        try:
            stale = _clean(state_dir, launcher)
            view.setup(
                f"demo directory {state_dir}" + (f" (stopped a previous run's {', '.join(stale)})" if stale else "")
            )
            view.setup("starting anvil, deploying Aave v3, starting the exchange emulator")
            # No DEX yet: the demo's unwind is the CEX route, and its replayed prices move the oracle
            # many times a minute, which pools would have to follow by arbitrage.
            up = launcher.UpOptions(collateral=DEMO_COLLATERAL, target_hf=DEMO_START_HF, dex_usd_within_1pct=Decimal(0))
            devnet = launcher.bring_up(up)
            run.pids.update(devnet.pids)
            settings = load_settings(CONFIG, env=daemon_env(state_dir, DAEMON_OVERRIDES))  # what the daemon reads
            chain = DemoChain(devnet, settings.chain)
            run.spent_usdt = chain.spend_borrowed()
            run.start_position = chain.position()
            run.timings["devnet_up"] = time.monotonic() - began
            view.position(run, devnet)

            # The daemon serves the operator's console too, on a free loopback port.
            console_port = _free_port()
            overrides = {**DAEMON_OVERRIDES, "DELEVER_CONSOLE__PORT": str(console_port)}
            daemon = Daemon(config=CONFIG, state_dir=state_dir, cwd=ROOT, env_overrides=overrides, args=("--console",))
            daemon.start()
            run.pids["daemon"] = daemon.pid or 0
            view.setup(
                f"starting the daemon (pid {daemon.pid}): python -m bot.cli --config config/devnet.toml run --console"
            )
            view.setup(f"watch it live in a browser: the console is at http://127.0.0.1:{console_port}/")
            run.timings["daemon_ready"] = daemon.wait_ready(options.ready_timeout_s)
            warm = VENUE_IN_FLIGHT_WINDOW_S - (time.monotonic() - daemon.started_at)
            if warm > 0:
                view.setup(
                    f"daemon watching after {run.timings['daemon_ready']:.1f} s; holding the price {warm:.1f} s "
                    "more (the exchange adapter's in-flight window after start)"
                )
                time.sleep(warm)
            view.setup(f"replaying {window.title}, scaled to start at $2,000")

            journal = JournalReader(configs.journal_path(settings))
            first_block = chain.block_number()
            path_began = time.monotonic()
            _replay(run, chain, journal, daemon, Timelapse(points, Pace().scaled(options.speed)), view)
            run.timings["path"] = time.monotonic() - path_began
            settle_began = time.monotonic()
            _settle(run, chain, journal, daemon, view, options.settle_timeout_s)
            run.timings["settle"] = time.monotonic() - settle_began

            stop_began = time.monotonic()
            run.daemon_exit = daemon.stop()
            run.timings["daemon_stop"] = time.monotonic() - stop_began
            view.setup(f"daemon stopped with SIGTERM (exit code {run.daemon_exit})")
            run.blocks = chain.hf_per_block(first_block, chain.block_number())
            run.batches = journal.summaries()
            run.control = journal.control()
            run.end_position = chain.position()
            if options.png:
                run.png = view.write_png(run, state_dir / "hf.png")
            run.timings["total"] = time.monotonic() - began
            view.report(run)
            (state_dir / "summary.json").write_text(json.dumps(run.to_json(), indent=2) + "\n")
            return run
        finally:
            if daemon is not None and daemon.alive:
                view.setup("stopping the daemon (SIGTERM)")
                run.daemon_exit = daemon.stop()
            if options.keep:
                view.setup(f"--keep: the devnet keeps running (DELEVER_STATE_DIR={state_dir} delever devnet down)")
            else:
                stopped = launcher.bring_down()
                view.setup(f"devnet down: stopped {', '.join(stopped) or 'nothing'}")
            run.timings["total"] = time.monotonic() - began


def _replay(
    run: DemoRun, chain: DemoChain, journal: JournalReader, daemon: Daemon, clock: Timelapse, view: Any
) -> None:
    """Move the oracle along the path, at most once per ``UPDATE_S``; sample HF after each move.

    The clock runs at round-trip scale while a batch is open, and also from the moment HF is
    seen under the trigger until the daemon opens its batch (at most ``REACTION_S``): a real
    bot reacts within a block or two, not within hours of market time."""
    trigger = run.policy["trigger_hf"]
    last_price: Decimal | None = None
    last_update = 0.0
    last_poll = time.monotonic()
    below_since: float | None = None
    last_line: tuple[Decimal, str] | None = None
    seen_done: set[str] = set()
    while True:
        now = time.monotonic()
        activity = journal.activity()
        reacting = below_since is not None and now - below_since < REACTION_S
        point = clock.advance(now - last_poll, busy=activity.busy or reacting)
        last_poll = now
        if not daemon.alive:
            raise RuntimeError(f"the daemon exited with code {daemon.returncode()}; see {daemon.log_path}")
        must_show = (clock.done or clock.at_bottom) and point.price_usd != last_price
        if now - last_update >= UPDATE_S or must_show:
            if point.price_usd != last_price:
                chain.set_price(point.price_usd)
                last_price = point.price_usd
            last_update = now
            sample = Sample(
                time.time(),
                clock.market_ts,
                point,
                chain.block_number(),
                chain.health_factor(),
                activity.describe(),
                activity.busy,
            )
            run.samples.append(sample)
            if sample.health_factor is not None and sample.health_factor < trigger and not activity.busy:
                below_since = below_since if below_since is not None else now
            else:
                below_since = None
            if last_line != (point.price_usd, sample.activity):
                view.step(run, sample)
                last_line = (point.price_usd, sample.activity)
        _report_finished(run, journal, seen_done, view)
        if clock.done and run.samples and run.samples[-1].point.step == clock.points[-1].step:
            return
        time.sleep(POLL_S)


def _settle(
    run: DemoRun, chain: DemoChain, journal: JournalReader, daemon: Daemon, view: Any, timeout_s: float
) -> None:
    """Let the daemon see the last price (it may start a batch) and finish what it started."""
    deadline = time.monotonic() + timeout_s
    grace_until = time.monotonic() + 2.0
    seen = {b.id for b in journal.summaries() if b.status.value != "OPEN"}
    while time.monotonic() < deadline:
        activity = journal.activity()
        _report_finished(run, journal, seen, view)
        if not activity.busy and time.monotonic() >= grace_until:
            return
        if not daemon.alive:
            return
        time.sleep(POLL_S)
    view.setup(f"a batch is still open after {timeout_s:.0f} s: stopping anyway (the journal resumes it)")


def _report_finished(run: DemoRun, journal: JournalReader, seen: set[str], view: Any) -> None:
    for summary in journal.summaries():
        if summary.status.value != "OPEN" and summary.id not in seen:
            seen.add(summary.id)
            view.batch_finished(run, summary)


def _clean(state_dir: Path, launcher: Any) -> list[str]:
    """Stop what an earlier demo left running (only processes it recorded, checked by start
    time) and remove its outputs; return what was stopped."""
    state_dir.mkdir(parents=True, exist_ok=True)
    stopped = ["daemon"] if stop_leftover(state_dir) else []
    stopped += launcher.bring_down()
    for name in OUTPUT_FILES:
        (state_dir / name).unlink(missing_ok=True)
    return stopped


@contextmanager
def _state_dir_env(state_dir: Path) -> Iterator[None]:
    before = os.environ.get("DELEVER_STATE_DIR")
    os.environ["DELEVER_STATE_DIR"] = str(state_dir)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DELEVER_STATE_DIR", None)
        else:
            os.environ["DELEVER_STATE_DIR"] = before


def _policy(state_dir: Path) -> dict[str, Decimal]:
    """The policy and limits the daemon will run with (the config plus the demo's overrides),
    read before the devnet exists (the decision sections need no chain)."""
    settings = load_backtest_settings(CONFIG, env=daemon_env(state_dir, DAEMON_OVERRIDES))
    params = configs.policy(settings.policy).params
    limits = settings.limits
    return {
        "trigger_hf": Decimal(str(params.trigger_hf)),
        "target_hf": Decimal(str(params.target_hf)),
        "hf_floor": limits.hf_floor,
        "price_shock_bps": Decimal(limits.price_shock_bps),
        "max_slippage_bps": Decimal(limits.max_slippage_bps),
        "cooldown_s": Decimal(str(limits.cooldown_s)),
    }


# ---- position facts ----------------------------------------------------------------------------


def end_hf(position: Position | None) -> Decimal | None:
    return None if position is None else wad_to_decimal(health_factor_wad(position))


def liquidation_price(position: Position | None) -> Decimal | None:
    if position is None:
        return None
    base = liquidation_price_base(position, COLLATERAL)
    return None if base is None else base_to_usd(base).quantize(Decimal("0.01"))


def collateral_amount(position: Position) -> Decimal:
    r = position.reserve(COLLATERAL)
    return from_units(r.collateral, r.decimals)


def debt_amount(position: Position) -> Decimal:
    total = Decimal(0)
    for r in position.reserves:
        if r.debt:
            total += from_units(r.debt, r.decimals)
    return total


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _batch_json(b: BatchSummary) -> dict[str, Any]:
    return {
        "id": b.id,
        "status": b.status.value,
        "note": b.note,
        "withdrawn_weth": str(b.withdrawn),
        "sold_eth": str(b.sold),
        "avg_price": _s(b.avg_price),
        "repaid_usdt": str(b.repaid),
        "hf_before": _s(b.hf_before),
        "hf_after": _s(b.hf_after),
        "duration_s": round(b.duration_s, 2),
        "legs_s": {k: round(v, 2) for k, v in b.legs_s.items()},
        "moved": b.moved,
        "verified": b.verified,
        "withdraw_skipped": b.withdraw_skipped,
    }

"""The daemon acts on every new block: the head is polled cheaply, a tick runs when it moves."""

from __future__ import annotations

from bot.engine.controller import Controller, PlanChoice
from bot.engine.guards import KillSwitch
from bot.engine.journal import BatchStatus
from tests.support.engine_kit import Rig, controller_config

BLOCK_S = 12.0


class Head:
    """A node whose head moves every ``block_s`` seconds of the rig's clock."""

    def __init__(self, rig: Rig, *, block_s: float = BLOCK_S, stalled: bool = False, fail: int = 0) -> None:
        self.rig, self.block_s, self.stalled, self.fail = rig, block_s, stalled, fail
        self.start = rig.clock.now()
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        if self.fail:
            self.fail -= 1
            raise ConnectionError("node down")
        return 100 if self.stalled else 100 + int((self.rig.clock.now() - self.start) // self.block_s)


class Record:
    """A plan function that records the head block and time of every tick; ``batches`` of them execute."""

    def __init__(self, rig: Rig, head: Head, batches: int = 0) -> None:
        self.rig, self.head, self.batches = rig, head, batches
        self.ticks: list[tuple[int, float]] = []

    def __call__(self, snapshot, context):
        self.ticks.append((self.head(), self.rig.clock.now()))
        if len(self.ticks) <= self.batches:
            return PlanChoice(self.rig.spec(5), "test")
        return PlanChoice(None, "nothing to do")


def _controller(rig: Rig, plan, head, *, kill: KillSwitch | None = None, **cfg) -> Controller:
    kill = kill or KillSwitch()
    base = dict(
        collateral="WETH",
        debt="USDT",
        market="ETH/USDT",
        base_coin="ETH",
        quote_coin="USDT",
        interval_s=30,
        watch_blocks=True,
        head_poll_s=1.0,
        max_tick_gap_s=60.0,
    )
    base.update(cfg)
    return Controller(
        executor=rig.executor(stop_requested=lambda: kill.tripped),
        lending=rig.lending,
        venue=rig.venue,
        clock=rig.clock,
        plan_fn=plan,
        config=controller_config(**base),
        stop_requested=lambda: kill.tripped,
        head=head,
    )


def test_controller_watching_blocks_ticks_once_per_new_block(tmp_path):
    rig = Rig(tmp_path)
    head = Head(rig)
    plan = Record(rig, head)
    assert _controller(rig, plan, head).run(max_ticks=4) == 0
    blocks = [b for b, _ in plan.ticks]
    assert blocks == [100, 101, 102, 103]  # one tick per block, none skipped, none twice
    # Each tick came within one head poll (1 s) of its block.
    assert all((t - head.start) - (b - 100) * BLOCK_S < 1.0 + 1e-9 for b, t in plan.ticks)
    assert head.reads <= 4 * (BLOCK_S + 2)  # ~one cheap call per poll, not a snapshot


def test_controller_watching_blocks_a_batch_spanning_blocks_is_followed_at_once(tmp_path):
    rig = Rig(tmp_path)
    head = Head(rig)
    plan = Record(rig, head, batches=1)
    assert _controller(rig, plan, head).run(max_ticks=2) == 0
    assert [b.status for b in rig.journal.batches()] == [BatchStatus.DONE]
    (b1, t1), (b2, t2) = plan.ticks
    assert b2 > b1 + 1  # the batch waited on transfers for several blocks
    # The next tick did not wait for yet another block: it started the moment the batch closed.
    assert t2 == rig.journal.last_batch_finished_at()


def test_controller_watching_blocks_a_stalled_node_still_ticks_after_the_max_gap(tmp_path):
    rig = Rig(tmp_path)
    head = Head(rig, stalled=True)
    plan = Record(rig, head)
    assert _controller(rig, plan, head, max_tick_gap_s=60).run(max_ticks=3) == 0
    times = [t for _, t in plan.ticks]
    assert [round(b - a) for a, b in zip(times, times[1:])] == [60, 60]


def test_controller_watching_blocks_an_unreadable_head_ticks_after_one_poll(tmp_path):
    rig = Rig(tmp_path)
    head = Head(rig)
    plan = Record(rig, head)
    controller = _controller(rig, plan, head)
    assert controller.run(max_ticks=1) == 0
    head.fail = 2  # the read before the wait and the read in it
    before = rig.clock.now()
    controller.wait_for_next_tick()
    assert rig.clock.now() - before == 1.0  # one head poll, then the tick (whose reads retry and count)


def test_controller_without_a_head_ticks_on_the_interval(tmp_path):
    rig = Rig(tmp_path)
    head = Head(rig)
    plan = Record(rig, head)
    controller = _controller(rig, plan, None, interval_s=30)
    assert not controller.watching_blocks
    assert controller.run(max_ticks=3) == 0
    times = [t for _, t in plan.ticks]
    assert [round(b - a) for a, b in zip(times, times[1:])] == [30, 30]


def test_controller_interval_configured_ignores_blocks(tmp_path):
    rig = Rig(tmp_path)
    head = Head(rig, block_s=1.0)
    plan = Record(rig, head)
    controller = _controller(rig, plan, head, watch_blocks=False, interval_s=30)
    assert controller.run(max_ticks=3) == 0
    times = [t for _, t in plan.ticks]
    assert [round(b - a) for a, b in zip(times, times[1:])] == [30, 30]
    assert head.reads == 3  # only the plan function's own reads: no head polling


def test_controller_watching_blocks_stop_request_ends_the_wait(tmp_path):
    rig = Rig(tmp_path)
    head = Head(rig, stalled=True)
    plan = Record(rig, head)
    kill = KillSwitch()
    rig.clock.on_sleep.append(lambda now: kill.trip("test") if now - head.start > 5 else None)
    assert _controller(rig, plan, head, kill=kill).run() == 0
    assert len(plan.ticks) == 1 and rig.clock.now() - head.start < 7


def test_controller_retries_a_failed_tick_after_a_backoff_not_the_next_block(tmp_path):
    # On a quiet chain (no new block) a failed tick must not wait out max_tick_gap_s.
    rig = Rig(tmp_path)
    head = Head(rig, stalled=True)
    calls: list[float] = []

    def flaky(snapshot, context):
        calls.append(rig.clock.now())
        if len(calls) <= 2:
            raise RuntimeError("garbage from the RPC")
        return PlanChoice(None, "nothing to do")

    assert _controller(rig, flaky, head, max_consecutive_failures=3).run(max_ticks=3) == 0
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert gaps[0] < 2 and gaps[1] < 3  # 1 s, then 2 s — far below the 60 s tick gap

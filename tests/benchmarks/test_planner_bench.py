"""Planning one multi-batch plan: a 10,000 WETH position near the floor, a real-sized book."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import Position, Reserve, Snapshot
from bot.engine.book_model import synthetic_book
from bot.engine.planner import plan
from strategies import Intent
from tests.support.engine_kit import plan_limits

D = Decimal
E8 = 10**8
WAD = 10**18


def _snapshot() -> Snapshot:
    q = 10_000
    debt = int(D(q) * 2000 * D("0.83") / D("1.12") * 10**6)
    pos = Position(
        (
            Reserve("WETH", 18, 2000 * E8, 8050, 8300, 10500, collateral=q * WAD),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=debt),
        )
    )
    history = tuple((1_770_000_000 - 300 * (288 - i), D(2000) + D(i % 13) * D("2.5")) for i in range(288))
    return Snapshot(pos, 1, 1_770_000_000, book=synthetic_book(D(2000), D(5_000_000)), price_history=history)


def test_plan_multi_batch(benchmark) -> None:  # type: ignore[no-untyped-def]
    snapshot = _snapshot()
    limits = plan_limits(hf_floor=D("1.05"), max_slippage_bps=50, price_shock_bps=300, max_batch_usd=D("2000000"))
    result = benchmark(plan, snapshot, Intent.restore_hf("1.8"), limits=limits)
    assert len(result.batches) >= 5
    assert result.final_health_factor >= D("1.8")

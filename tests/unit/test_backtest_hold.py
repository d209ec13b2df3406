"""``engine.hold_to_target`` in the backtest: the same controller with the hold in its journal,
so the unwind carries on across the trigger up to the target, and ends there."""

from __future__ import annotations

from decimal import Decimal

from bot.backtest.replay import path_candles
from bot.backtest.scenario import run_scenario
from bot.domain.position import wad_to_decimal
from bot.settings import PolicyConfig, load_backtest_settings

TRIGGER, TARGET = Decimal("1.4"), Decimal("1.6")
DROP_AT = 280 * 60  # just after the batch that reaches the target, inside its cooldown


def _price(minute: int) -> Decimal:
    """$2,000 falling 1 % a minute for 20 minutes (HF through the trigger), flat, then 3 % lower
    from minute 280 on (HF back under the target, still above the trigger)."""
    price = Decimal(2_000) * Decimal("0.99") ** min(minute, 20)
    return price * Decimal("0.97") if minute * 60 >= DROP_AT else price


def _batches(*, hold: bool) -> list[tuple[float, Decimal, Decimal]]:
    """(started at, HF before, HF after) of every batch the engine ran."""
    base = load_backtest_settings(None)
    settings = base.model_copy(
        update={
            "policy": PolicyConfig(name="threshold", params={"trigger_hf": TRIGGER, "target_hf": TARGET}),
            "engine": base.engine.model_copy(update={"hold_to_target": hold}),
            "limits": base.limits.model_copy(update={"cooldown_s": 1800}),
        }
    )
    out = run_scenario(
        path_candles([(60 * k, _price(k)) for k in range(600)]),
        None,
        {"depth_usd_1pct": "5000000", "deposit_delay_s": "300", "withdrawal_delay_s": "600"},
        collateral=Decimal(20),
        start_hf=Decimal("1.5"),
        baselines=(),
        config=settings,
    )
    rows = []
    for b in out.actors[0].journal.batches():
        before, after = (wad_to_decimal(int(b.outcome[k])) for k in ("hf_before_wad", "hf_after_wad"))
        assert before is not None and after is not None
        rows.append((b.created_at, before, after))
    return rows


def test_backtest_hold_to_target_carries_the_unwind_to_the_target_and_stops_there():
    batches = _batches(hold=True)
    assert batches[0][1] < TRIGGER
    reached = [k for k, (_, _, after) in enumerate(batches) if after >= TARGET]
    assert reached, batches
    last = reached[0]
    # Carried across the trigger: the batches up to the target start below it, some above the trigger.
    assert all(before < TARGET for _, before, _ in batches[: last + 1])
    assert any(before > TRIGGER for _, before, _ in batches[: last + 1])
    assert batches[last][0] < DROP_AT
    # Then it stops: the drop takes HF back under the target (above the trigger) inside the
    # cooldown, and no batch starts again.
    assert len(batches) == last + 1, batches


def test_backtest_without_the_hold_acts_only_below_the_trigger():
    batches = _batches(hold=False)
    assert batches and all(before < TRIGGER for _, before, _ in batches)
    assert all(after < TARGET for _, _, after in batches)

"""Sizing a batch beside batches in flight: the floor holds at the shocked price with all their
collateral counted as gone; the target counts what they will repay; their funds stay theirs."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bot.domain import Position, Reserve, Snapshot, health_factor_wad
from bot.domain.position import decimal_to_wad
from bot.engine.book_model import synthetic_book
from bot.engine.in_flight import InFlight, floor_view, landed_view, smaller_plan
from bot.engine.planner import plan
from strategies import Intent
from tests.support.engine_kit import plan_limits

D = Decimal
E6, E8, WAD = 10**6, 10**8, 10**18
T0 = 1_770_000_000


def _snap(*, hf: str = "1.3") -> Snapshot:
    debt = int(D(100) * 2000 * D("0.83") / D(hf) * E6)
    pos = Position(
        (
            Reserve("WETH", 18, 2000 * E8, 8050, 8300, 10500, collateral=100 * WAD),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=debt),
        )
    )
    return Snapshot(
        pos,
        1,
        T0,
        book=synthetic_book(D(2000), D(50_000_000)),
        wallet_balances={"USDT": 3_000 * E6},
        exchange_balances={"ETH": D(4), "USDT": D(900)},
    )


def _flying(*, pending_eth: int = 0, withdrawn_eth: int = 0, on_exchange: str = "0") -> InFlight:
    return InFlight(
        batch_id="t-1",
        collateral="WETH",
        debt="USDT",
        pending_withdraw_units=pending_eth * WAD,
        withdrawn_units=withdrawn_eth * WAD,
        on_exchange_base=D(on_exchange),
        worst_price=D(1990),
        awaiting_quote=False,
        landed_unrepaid=False,
    )


def _shocked_hf(position: Position, withdraw_units: int, shock_bps: int) -> int:
    after = position.with_reserve("WETH", collateral=position.reserve("WETH").collateral - withdraw_units)
    return health_factor_wad(after.with_prices({"WETH": 2000 * E8 * (10_000 - shock_bps) // 10_000}))


def test_floor_view_counts_collateral_still_to_leave_as_gone_and_leaves_their_funds_to_them() -> None:
    s = _snap()
    view = floor_view(s, [_flying(pending_eth=10, on_exchange="3")], base_coin="ETH", quote_coin="USDT")
    assert view.position.reserve("WETH").collateral == 90 * WAD
    assert view.position.reserve("USDT").debt == s.position.reserve("USDT").debt  # nothing repaid yet
    assert view.wallet_balances["USDT"] == 0
    assert view.exchange_balances == {"ETH": D(1), "USDT": D(0)}  # 4 ETH free, 3 of them the batch's
    assert floor_view(s, [], base_coin="ETH", quote_coin="USDT") is s


def test_landed_view_repays_their_debt_at_their_worst_price() -> None:
    s = _snap()
    flying = [_flying(pending_eth=10, withdrawn_eth=5)]
    floor = floor_view(s, flying, base_coin="ETH", quote_coin="USDT")
    landed = landed_view(floor, flying)
    assert landed.position.reserve("WETH").collateral == 90 * WAD  # only the pending 10 leave the view
    assert s.position.reserve("USDT").debt - landed.position.reserve("USDT").debt == 15 * 1990 * E6


def test_a_batch_beside_one_in_flight_keeps_the_floor_with_its_collateral_gone() -> None:
    s = _snap(hf="1.3")
    limits = plan_limits(hf_floor=D("1.05"), price_shock_bps=300)
    intent = Intent.restore_hf("1.8")
    alone = plan(replace(s, wallet_balances={}, exchange_balances={}), intent, limits=limits).next_batch
    flying = [_flying(pending_eth=8)]
    floor = floor_view(s, flying, base_coin="ETH", quote_coin="USDT")
    beside = smaller_plan(plan(floor, intent, limits=limits), plan(landed_view(floor, flying), intent, limits=limits))
    batch = beside.next_batch
    assert alone is not None and batch is not None
    assert alone.limited_by == "floor" and batch.limited_by == "floor"
    assert batch.withdraw_units < alone.withdraw_units
    # the pool less BOTH batches holds the floor at the shocked price; the alone-sized batch
    # beside the one in flight would not
    floor_wad = decimal_to_wad("1.05")
    assert _shocked_hf(s.position, 8 * WAD + batch.withdraw_units, 300) >= floor_wad
    assert _shocked_hf(s.position, 8 * WAD + alone.withdraw_units, 300) < floor_wad
    assert batch.repay_from_wallet_units == 0 and batch.repay_from_exchange_units == 0


def test_the_target_counts_what_the_batches_in_flight_will_repay() -> None:
    # HF 1.55 once the batch in flight lands: a target of 1.5 needs nothing more
    s = _snap(hf="1.3")
    flying = [_flying(withdrawn_eth=12)]
    floor = floor_view(s, flying, base_coin="ETH", quote_coin="USDT")
    landed = landed_view(floor, flying)
    assert health_factor_wad(landed.position) > decimal_to_wad("1.5")
    limits = plan_limits(hf_floor=D("1.05"), price_shock_bps=300)
    intent = Intent.restore_hf("1.5")
    assert plan(floor, intent, limits=limits).next_batch is not None  # the pool alone would sell more
    assert smaller_plan(plan(floor, intent, limits=limits), plan(landed, intent, limits=limits)).next_batch is None

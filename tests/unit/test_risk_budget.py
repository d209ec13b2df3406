"""risk_budget: nothing within the budget, the HF restoring ``restore_share`` × ε above it, the
estimate in the reason, a wake bound that holds, params checked, a built-in."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

import strategies.risk_budget as rb
from bot.domain import Position, Reserve, Snapshot
from bot.domain.fall_odds import FallOdds
from bot.errors import ConfigError
from strategies import BUILTINS, load_policy

D = Decimal
HOUR = 3_600
T0 = 1_770_000_000


def snapshot_at_hf(hf: Decimal, history: tuple[tuple[int, Decimal], ...] = ()) -> Snapshot:
    """100 WETH at $2,000 (LT 83 %) with the USDT debt that gives HF ``hf``."""
    debt = int(100 * 2_000 * D("0.83") / hf * 10**6)
    pos = Position(
        (
            Reserve("WETH", 18, 2_000 * 10**8, 8050, 8300, 10500, collateral=100 * 10**18),
            Reserve("USDT", 6, 10**8, 7500, 7800, 10450, debt=debt),
        )
    )
    return Snapshot(pos, 1, T0, price_history=history)


def odds() -> FallOdds:
    # Calm (σ < 3 %/day): falls of 0 … 9.9 %; lively: 0 … 49.5 % (100 each, evenly spread).
    calm = tuple(k / 1_000 for k in range(100))
    lively = tuple(k / 200 for k in range(100))
    return FallOdds(
        horizon_s=86_400, regime_edges_bps=(300,), falls=(calm, lively), pooled=tuple(sorted(calm + lively))
    )


def test_within_the_budget_it_asks_for_nothing():
    # Lost at 1.1 / (1 − 3 %) = 1.1341; at HF 1.30 the distance is 12.8 %: no calm fall reaches it.
    a = rb.assess(D("1.30"), D("0.02"), odds(), 300, rb.Params())
    assert (a.lost_hf, a.p_liq, a.target_hf) == (D("1.1341"), D(0), None)


def test_above_the_budget_it_restores_a_margin_under_it():
    params = rb.Params(budget=D("0.05"))  # restore to 4 %: 4 of 100 falls may reach the distance
    a = rb.assess(D("1.30"), D("0.05"), odds(), 1_000, params)
    lost = D("1.1") / D("0.9")
    assert a.lost_hf == D("1.2223")  # floor 1.1 over a 10 % in-transit shock, rounded up
    assert a.p_liq == D("0.88")  # lively falls 6 … 49.5 % (88 of 100) reach 1 − 1.2223 / 1.30 = 5.98 %
    # The 96th lively fall is 47.5 %: the distance must pass it; 1.2223 / (1 − 0.475001), up.
    assert a.target_hf == D("2.3282")
    assert a.target_hf * (1 - D("0.475")) > lost


def test_decide_states_the_estimate_and_the_restore_in_the_reason(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(rb, "fall_odds", lambda horizon_s: odds())
    monkeypatch.setattr(rb, "_shock_bps", lambda params, sigma: 1_000)
    monkeypatch.setattr(rb, "wake_hf", lambda params: D(3))
    # A day of hourly prices alternating ±4 %: σ ≈ 4 % · √24 ≈ 19.6 %/day (the lively regime).
    history = tuple((T0 - HOUR * k, D(repr(2_000 * math.exp(0.04 * (k % 2))))) for k in range(24, -1, -1))
    intent = rb.decide(snapshot_at_hf(D("1.30"), history), rb.Params(budget=D("0.05")))
    assert intent is not None
    assert intent.target_hf == rb.assess(D("1.30"), D("0.196"), odds(), 1_000, rb.Params(budget=D("0.05"))).target_hf
    assert intent.reason.startswith("P(liq, 24 h) = 88 % > 5 %: HF 1.3000 may fall to 1.2223")
    assert intent.reason.endswith(f"restore to 4 % (HF {intent.target_hf})")
    assert "σ 19.6 %/day" in intent.reason


def test_decide_does_nothing_when_calm(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(rb, "fall_odds", lambda horizon_s: odds())
    monkeypatch.setattr(rb, "_shock_bps", lambda params, sigma: 300)
    history = tuple((T0 - HOUR * k, D(2_000)) for k in range(24, -1, -1))  # σ 0
    assert rb.decide(snapshot_at_hf(D("1.30"), history), rb.Params()) is None


def test_wake_hf_bounds_every_regime_on_the_shipped_history():
    params = rb.Params()
    wake = rb.wake_hf(params)
    o = rb.fall_odds(params.horizon_s)
    for sigma in (None, D("0.01"), D("0.04"), D("0.06"), D("0.09"), D("0.5")):
        a = rb.assess(wake, sigma, o, rb._shock_bps(params, sigma), params)
        assert a.p_liq <= params.budget, sigma
    assert D("1.2") < wake < D(3)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("budget", "0", "params.budget: must be in [0.0001, 0.5]"),
        ("horizon_s", "5400", "params.horizon_s: must be whole hours"),
        ("floor_hf", "0.9", "params.floor_hf: must be in [1, 3]"),
    ],
)
def test_params_are_checked(key: str, value: str, message: str):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_policy("risk_budget", {key: value})


def test_it_is_a_builtin():
    assert "risk_budget" in BUILTINS
    assert load_policy("risk_budget").params_dict()["budget"] == "0.01"

"""Policies: built-in decisions with values, the interface, params validation, the loader and
the containment of a user's raising policy."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

import strategies
from bot.domain import Level, OrderBook, Position, Reserve, Snapshot
from bot.errors import ConfigError
from strategies import BUILTINS, Intent, hf_for_distance, load_policy, parse_set_pairs
from strategies.base import distance_for_hf
from strategies.helpers import sell_qty_for_target
from strategies.ladder import Params as LadderParams
from strategies.ladder import required_distance
from strategies.paced import first_slice_fraction

D = Decimal
E8 = 10**8
WAD = 10**18
T0 = 1_770_000_000


def snapshot(
    hf: str, *, price: int = 2000, q: int = 100, history: tuple = (), book: OrderBook | None = None
) -> Snapshot:
    """q WETH at ``price`` (LT 83 %) with the USDT debt that gives HF ``hf``."""
    debt = int(D(q) * price * D("0.83") / D(hf) * 10**6)
    pos = Position(
        (
            Reserve("WETH", 18, price * E8, 8050, 8300, 10500, collateral=q * WAD),
            Reserve("USDT", 6, E8, 7500, 7800, 10450, debt=debt),
        )
    )
    return Snapshot(pos, 1, T0, book=book, price_history=history)


# --- threshold ------------------------------------------------------------------------------


def test_threshold_below_trigger_targets_the_target_with_scaled_urgency() -> None:
    policy = load_policy("threshold", {"trigger_hf": "1.4", "target_hf": "1.6"})
    decision = policy.decide_safely(snapshot("1.25"))
    assert decision.ok and decision.intent is not None
    assert decision.intent.target_hf == D("1.6")
    assert decision.intent.max_sell is None
    assert decision.intent.urgency == D("0.375")  # (1.4 − 1.25) / (1.4 − 1)
    assert decision.intent.policy == "threshold"
    assert "1.2500 < trigger 1.4" in decision.intent.reason


def test_threshold_at_or_above_trigger_does_nothing() -> None:
    policy = load_policy("threshold", {"trigger_hf": "1.4", "target_hf": "1.6"})
    assert policy.decide_safely(snapshot("1.4")).intent is None
    assert policy.decide_safely(snapshot("2.0")).intent is None


def test_threshold_without_debt_does_nothing() -> None:
    snap = snapshot("1.5")
    snap = replace(snap, position=snap.position.with_reserve("USDT", debt=0))
    assert load_policy("threshold").decide_safely(snap).intent is None


def test_threshold_target_not_above_trigger_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"params\.target_hf: must be > trigger_hf"):
        load_policy("threshold", {"trigger_hf": "1.5", "target_hf": "1.5"})


def test_params_unknown_key_and_bad_type_are_config_errors_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"params\.trigger: unknown parameter"):
        load_policy("threshold", {"trigger": "1.4"})
    with pytest.raises(ConfigError, match=r"params\.trigger_hf"):
        load_policy("threshold", {"trigger_hf": "abc"})


# --- ladder ---------------------------------------------------------------------------------


def history(prices: list[int]) -> tuple[tuple[int, Decimal], ...]:
    n = len(prices)
    return tuple((T0 - 3600 * (n - i), D(p)) for i, p in enumerate(prices))


def test_ladder_steps_tighten_with_the_drawdown() -> None:
    params = LadderParams()
    assert required_distance(params, D("0")) == D("0.25")
    assert required_distance(params, D("0.0999")) == D("0.25")
    assert required_distance(params, D("0.10")) == D("0.30")
    assert required_distance(params, D("0.25")) == D("0.35")
    assert required_distance(params, D("0.45")) == D("0.40")


def test_ladder_without_drawdown_keeps_the_first_step() -> None:
    policy = load_policy("ladder")
    # HF 1.4: liquidation price 28.6 % below the market ≥ 25 % required at no drawdown.
    assert policy.decide_safely(snapshot("1.4", history=history([2000] * 24))).intent is None
    # HF 1.3: 23.1 % < 25 %: restore to 25 % + 2 % margin = HF 1/(1 − 0.27).
    intent = policy.decide_safely(snapshot("1.3", history=history([2000] * 24))).intent
    assert intent is not None
    assert intent.target_hf == D("1.3699")


def test_ladder_after_a_20_percent_fall_requires_35_percent() -> None:
    policy = load_policy("ladder")
    # The market fell from 2,500 to 2,000 (20 %): the 35 % step applies. HF 1.45 (31 %) is short.
    snap = snapshot("1.45", price=2000, history=history([2500, 2400, 2200, 2000]))
    intent = policy.decide_safely(snap).intent
    assert intent is not None
    assert intent.target_hf == hf_for_distance(D("0.37")).quantize(D("0.0001")) == D("1.5873")
    assert "20.0% drawdown" in intent.reason
    # Same HF without the fall: 31 % ≥ 25 %, nothing to do.
    assert policy.decide_safely(snapshot("1.45", price=2000, history=history([2000] * 4))).intent is None


def test_ladder_ignores_highs_older_than_the_window() -> None:
    policy = load_policy("ladder", {"reference_window_s": 3600 * 2})
    old_high = ((T0 - 86_400, D(3000)), *history([2000, 2000]))
    assert policy.decide_safely(snapshot("1.45", history=old_high)).intent is None


def test_ladder_loosening_steps_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"params\.steps: required distances must not loosen"):
        load_policy("ladder", {"steps": [["0", "0.3"], ["0.1", "0.2"]]})


def test_hf_and_liquidation_distance_are_inverse() -> None:
    assert hf_for_distance(D("0.35")) == D(1) / D("0.65")
    assert distance_for_hf(D(2)) == D("0.5")
    intent = Intent.liquidation_distance("0.35")
    assert intent.target_hf == D(1) / D("0.65")


# --- paced ----------------------------------------------------------------------------------


def test_paced_first_slice_is_twap_without_urgency_and_front_loads_with_it() -> None:
    tau = D(1) / D(24)
    assert first_slice_fraction(kappa_t=D(0), tau_over_t=tau) == tau
    low, high = first_slice_fraction(kappa_t=D(1), tau_over_t=tau), first_slice_fraction(kappa_t=D(6), tau_over_t=tau)
    assert tau < low < high < 1
    # Large κT: the first slice approaches 1 − e^(−κτ).
    assert abs(high - (1 - (-D(6) * tau).exp())) < D("0.001")


def test_paced_sells_a_slice_of_the_remainder_towards_the_target() -> None:
    policy = load_policy("paced", {"target_hf": "1.8", "floor_hf": "1.1", "max_kappa_t": "0"})
    snap = snapshot("1.45")
    intent = policy.decide_safely(snap).intent
    assert intent is not None and intent.max_sell is not None
    remainder = sell_qty_for_target(snap.position, "WETH", D("1.8"))
    # κT = 0: plain TWAP, one hour of a one-day horizon.
    assert intent.max_sell == (remainder / 24).quantize(D("1e-8"), rounding="ROUND_DOWN")
    assert intent.target_hf == D("1.8")
    assert intent.urgency == D("0.5")  # (1.8 − 1.45) / (1.8 − 1.1)


def test_paced_front_loads_as_hf_nears_the_floor() -> None:
    policy = load_policy("paced", {"target_hf": "1.8", "floor_hf": "1.1"})
    fractions = []
    for hf in ("1.7", "1.5", "1.3", "1.15"):
        snap = snapshot(hf)
        intent = policy.decide_safely(snap).intent
        assert intent is not None and intent.max_sell is not None
        fractions.append(intent.max_sell / sell_qty_for_target(snap.position, "WETH", D("1.8")))
    assert fractions == sorted(fractions)
    assert fractions[0] < D("0.06") and fractions[-1] > D("0.2")


def test_paced_schedule_at_constant_urgency_sells_a_constant_fraction_of_what_is_left() -> None:
    policy = load_policy("paced", {"target_hf": "1.8", "floor_hf": "1.1", "max_kappa_t": "0", "horizon_s": 14_400})
    snap = snapshot("1.5")
    slices = []
    pos = snap.position
    for _ in range(3):  # sell each slice at the oracle price and repay: the remainder shrinks
        current = replace(snap, position=pos)
        intent = policy.decide_safely(current).intent
        assert intent is not None and intent.max_sell is not None
        slices.append(intent.max_sell)
        sold = int(intent.max_sell * WAD)
        repaid = int(intent.max_sell * 2000 * 10**6)
        pos = pos.with_reserve("WETH", collateral=pos.reserve("WETH").collateral - sold)
        pos = pos.with_reserve("USDT", debt=pos.reserve("USDT").debt - repaid)
    assert slices[0] > slices[1] > slices[2] > 0


def test_paced_slice_is_capped_by_participation_in_the_book() -> None:
    book = OrderBook("ETH/USDT", (Level(D(2000), D("1")), Level(D(1990), D("1"))), (Level(D(2001), D(1)),))
    policy = load_policy("paced", {"participation": "0.1"})
    intent = policy.decide_safely(snapshot("1.2", book=book)).intent
    assert intent is not None and intent.max_sell == D("0.2")
    assert "capped" in intent.reason


def test_paced_above_target_or_trigger_does_nothing() -> None:
    assert load_policy("paced").decide_safely(snapshot("1.9")).intent is None
    assert load_policy("paced", {"trigger_hf": "1.3"}).decide_safely(snapshot("1.5")).intent is None


# --- none, template, loader, containment ----------------------------------------------------


def test_none_never_acts() -> None:
    policy = load_policy("none")
    for hf in ("1.01", "1.2", "3"):
        assert policy.decide_safely(snapshot(hf)).intent is None


def test_template_loads_from_its_path_and_decides() -> None:
    path = Path(__file__).resolve().parents[2] / "strategies" / "template.py"
    policy = load_policy(str(path), {"distance": "0.25"})
    assert policy.name == "template"
    intent = policy.decide_safely(snapshot("1.3")).intent
    assert intent is not None and intent.target_hf == D("1.7")


def write_policy(tmp_path: Path, body: str, name: str = "user_policy.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_a_raising_user_policy_is_contained_and_reported(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        """
        INTERFACE_VERSION = 1
        def decide(snapshot, params):
            raise ZeroDivisionError("boom")
        """,
    )
    decision = load_policy(path).decide_safely(snapshot("1.2"))
    assert not decision.ok
    assert decision.intent is None
    assert decision.error == "ZeroDivisionError: boom"
    assert decision.policy == "user_policy"


def test_a_user_policy_calling_sys_exit_is_contained(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "import sys\nINTERFACE_VERSION = 1\ndef decide(snapshot, params):\n    sys.exit(3)\n")
    assert load_policy(path).decide_safely(snapshot("1.2")).error == "SystemExit: 3"


def test_a_user_policy_returning_the_wrong_type_is_reported(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "INTERFACE_VERSION = 1\ndef decide(snapshot, params):\n    return 1.5\n")
    decision = load_policy(path).decide_safely(snapshot("1.2"))
    assert decision.error == "decide returned float, expected Intent or None"


def test_a_user_policy_cannot_change_the_callers_balances(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        """
        INTERFACE_VERSION = 1
        def decide(snapshot, params):
            snapshot.wallet_balances["USDT"] = 10**30
            return None
        """,
    )
    snap = replace(snapshot("1.2"), wallet_balances={"USDT": 5})
    assert load_policy(path).decide_safely(snap).ok
    assert snap.wallet_balances == {"USDT": 5}


def test_loader_refuses_another_interface_version(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "INTERFACE_VERSION = 2\ndef decide(snapshot, params):\n    return None\n")
    with pytest.raises(ConfigError, match="INTERFACE_VERSION is 2, this delever runs version 1"):
        load_policy(path)


def test_loader_reports_a_broken_file_and_an_unknown_name(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "INTERFACE_VERSION = 1\ndef broken(:\n")
    with pytest.raises(ConfigError, match="SyntaxError"):
        load_policy(path)
    with pytest.raises(ConfigError, match="unknown policy 'nope'"):
        load_policy("nope")
    with pytest.raises(ConfigError, match="no policy file"):
        load_policy(str(tmp_path / "missing.py"))


def test_user_params_are_validated_through_the_dataclass(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        """
        from dataclasses import dataclass
        from decimal import Decimal
        from strategies.base import INTERFACE_VERSION, Intent, check

        @dataclass(frozen=True)
        class Params:
            target_hf: Decimal = Decimal("1.5")
            def __post_init__(self):
                check(self.target_hf > 1, "target_hf", "must be > 1")

        def decide(snapshot, params):
            return Intent.restore_hf(params.target_hf)
        """,
    )
    assert load_policy(path, {"target_hf": "1.7"}).decide_safely(snapshot("1.2")).intent.target_hf == D("1.7")
    with pytest.raises(ConfigError, match=r"policy user_policy: params\.target_hf: must be > 1"):
        load_policy(path, {"target_hf": "0.9"})


def test_parse_set_pairs_keeps_numbers_exact() -> None:
    assert parse_set_pairs(["trigger_hf=1.4", "steps=[[0, 0.25], [0.1, 0.3]]", "name=x"]) == {
        "trigger_hf": "1.4",
        "steps": [["0", "0.25"], ["0.1", "0.3"]],
        "name": "x",
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_pairs(["oops"])


def test_intent_checks_its_ranges() -> None:
    with pytest.raises(ValueError, match="target_hf must be > 1"):
        Intent(target_hf=D("0.9"))
    with pytest.raises(ValueError, match="urgency"):
        Intent(target_hf=D("1.5"), urgency=D(2))
    assert Intent.from_dict(Intent.sell("3", target_hf=D("1.8"), reason="r").to_dict()) == Intent.sell(
        "3", target_hf=D("1.8"), reason="r"
    )


# --- what a policy declares for backtests --------------------------------------------------


def test_builtins_declare_the_hf_at_and_above_which_they_never_act():
    assert load_policy("threshold", {"trigger_hf": "1.35", "target_hf": "1.7"}).wake_hf() == Decimal("1.35")
    assert load_policy("paced").wake_hf() == Decimal("1.8")  # no trigger: its target
    assert load_policy("paced", {"trigger_hf": "1.5"}).wake_hf() == Decimal("1.5")
    assert load_policy("none").wake_hf() == 0
    ladder = load_policy("ladder")
    assert ladder.wake_hf() == Decimal(1) / Decimal("0.60")  # the widest step: 40 % below the market
    gate = ladder.wake_gate()
    assert gate.window_s == 7 * 86_400
    assert gate.steps[0] == (Decimal(0), Decimal(1) / Decimal("0.75"))
    assert load_policy("threshold").wake_gate() is None


def test_a_policy_file_without_wake_hooks_is_shown_every_bar(tmp_path):
    path = tmp_path / "quiet.py"
    path.write_text("INTERFACE_VERSION = 1\n\ndef decide(snapshot, params):\n    return None\n")
    policy = load_policy(str(path))
    assert policy.wake_hf() is None and policy.wake_gate() is None
    path.write_text("INTERFACE_VERSION = 1\nwake_hf = 3\n\ndef decide(snapshot, params):\n    return None\n")
    with pytest.raises(ConfigError, match="wake_hf must be a function"):
        load_policy(str(path))


def test_the_template_declares_a_bound_that_holds():
    policy = load_policy(str(Path(strategies.__file__).parent / "template.py"))
    assert policy.wake_hf() == max(Decimal("1.45"), Decimal(1) / Decimal("0.70"))


def test_the_backtest_names_no_policy():
    import bot.backtest

    names = set(BUILTINS) - {"none"} | {"template"}  # ("none" is also how --set spells null)
    for path in Path(bot.backtest.__file__).parent.glob("*.py"):
        if path.name == "case_study.py":  # the study lists the policies it runs, as data
            continue
        text = path.read_text()
        assert not [n for n in names if f'"{n}"' in text or f"'{n}'" in text], path.name

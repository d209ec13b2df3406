"""Guards: pure checks the engine runs before it acts, and the kill switch.

Each check returns a ``Verdict`` (``ok`` plus a one-line reason) so callers decide how to
react: the controller pauses trading, the executor skips a withdraw, the CLI refuses a mode.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.domain.position import Position, health_factor_wad
from bot.domain.sizing import after_withdraw, shocked
from bot.errors import GuardRefused, UserInputError

BPS = Decimal(10_000)

# Chain ids of production networks: testnet mode refuses all of them.
MAINNET_CHAIN_IDS: frozenset[int] = frozenset(
    {
        1,  # Ethereum
        10,  # Optimism
        56,  # BNB Smart Chain
        100,  # Gnosis
        137,  # Polygon PoS
        146,  # Sonic
        250,  # Fantom
        324,  # zkSync Era
        1088,  # Metis
        1101,  # Polygon zkEVM
        5000,  # Mantle
        8453,  # Base
        42161,  # Arbitrum One
        42220,  # Celo
        43114,  # Avalanche C-Chain
        59144,  # Linea
        81457,  # Blast
        534352,  # Scroll
    }
)
TESTNET_CHAIN_IDS: frozenset[int] = frozenset({31337, 1337, 11155111, 17000, 560048, 84532, 421614, 11155420, 80002})


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str = ""

    def raise_if_refused(self) -> None:
        if not self.ok:
            raise GuardRefused(self.reason, reason=self.reason)


OK = Verdict(True)


# ---- prices ---------------------------------------------------------------------------------


def oracle_price_in_quote(position: Position, *, collateral: str, debt: str) -> Decimal:
    """The oracle's collateral price expressed in the debt token (e.g. WETH in USDT)."""
    return Decimal(position.reserve(collateral).price) / Decimal(position.reserve(debt).price)


def divergence_bps(oracle_price: Decimal, exchange_price: Decimal) -> Decimal:
    """|exchange − oracle| / oracle, in basis points."""
    if oracle_price <= 0:
        raise ValueError("oracle price must be positive")
    return abs(exchange_price - oracle_price) / oracle_price * BPS


def check_divergence(*, oracle_price: Decimal, exchange_mid: Decimal | None, max_bps: int | Decimal) -> Verdict:
    """Refuse to trade when the exchange and the oracle disagree by more than ``max_bps``
    (a stale oracle, a broken book, or the wrong market)."""
    if exchange_mid is None:
        return Verdict(False, "the exchange book is empty")
    bps = divergence_bps(oracle_price, exchange_mid)
    if bps > Decimal(max_bps):
        return Verdict(
            False, f"oracle {oracle_price:.2f} vs exchange mid {exchange_mid:.2f}: {bps:.0f} bps > {max_bps} bps"
        )
    return OK


# ---- health factor --------------------------------------------------------------------------


def check_withdraw(position: Position, *, symbol: str, amount: int, hf_floor_wad: int, shock_bps: int) -> Verdict:
    """The HF kill switch: no withdraw when HF is at or below the floor now, or would fall
    below it after the withdrawal with the collateral price shocked down by ``shock_bps``."""
    hf_now = health_factor_wad(position)
    if hf_now <= hf_floor_wad:
        return Verdict(False, f"HF {_hf(hf_now)} is at or below the floor {_hf(hf_floor_wad)}: repay only")
    if amount <= 0:
        return OK
    reserve = position.reserve(symbol)
    if amount > reserve.collateral:
        return Verdict(False, f"withdraw {amount} exceeds the {symbol} collateral {reserve.collateral}")
    stressed = shocked(after_withdraw(position, symbol, amount), shock_bps=shock_bps, symbols={symbol})
    hf_mid = health_factor_wad(stressed)
    if hf_mid < hf_floor_wad:
        return Verdict(
            False,
            f"withdrawing {amount} {symbol} leaves HF {_hf(hf_mid)} under a {shock_bps} bps shock, "
            f"below the floor {_hf(hf_floor_wad)}",
        )
    return OK


# Debt grows by interest while a batch runs, and a batch too small to outrun it (a sweep of a
# few hundred dollars against a $1B debt) still did its job. Interest up to this rate is allowed
# for: Aave's borrow rates stay below it except at full utilisation, and a repay that did not
# land is still caught unless it is smaller than this much interest.
MAX_INTEREST_APR_BPS = 10_000
YEAR_S = 365 * 24 * 3600


def hf_improved(*, start: Position, end: Position, elapsed_s: int = 0) -> bool:
    """Did the batch raise HF? Compared as observed, at the end's prices (a price fall during
    the batch does not count against a batch that did help), and with at most
    ``MAX_INTEREST_APR_BPS`` of interest accrued over the batch's ``elapsed_s``."""
    hf_end = health_factor_wad(end)
    if hf_end > health_factor_wad(start):
        return True
    return hf_end > health_factor_wad(_expected_without_batch(start, end, elapsed_s))


def hf_kept(*, start: Position, end: Position, elapsed_s: int = 0) -> bool:
    """Is HF at least what it would be had the batch done nothing (at the end's prices, with
    the interest allowance)? ``end`` may count collateral held elsewhere as if supplied."""
    return health_factor_wad(end) >= health_factor_wad(_expected_without_batch(start, end, elapsed_s))


def _expected_without_batch(start: Position, end: Position, elapsed_s: int) -> Position:
    expected = start.with_prices({r.symbol: r.price for r in end.reserves if start.has(r.symbol)})
    for r in expected.debts if elapsed_s > 0 else ():
        interest = -(-r.debt * MAX_INTEREST_APR_BPS * elapsed_s // (10_000 * YEAR_S))  # rounded up
        expected = expected.with_reserve(r.symbol, debt=r.debt + interest)
    return expected


def _hf(value_wad: int) -> str:
    return f"{Decimal(value_wad) / Decimal(10**18):.4f}"


# ---- pacing and caps ------------------------------------------------------------------------


def cooldown_remaining(*, last_finished_at: float | None, now: float, cooldown_s: float) -> float:
    if last_finished_at is None:
        return 0.0
    return max(0.0, last_finished_at + cooldown_s - now)


def utc_day_bounds(now: float) -> tuple[float, float]:
    day = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp(), (day + timedelta(days=1)).timestamp()


def daily_cap_remaining(*, sold_today_usd: Decimal, max_daily_usd: Decimal | None) -> Decimal | None:
    """USD still allowed today (None: no cap)."""
    if max_daily_usd is None:
        return None
    return max(Decimal(0), max_daily_usd - sold_today_usd)


# ---- modes ----------------------------------------------------------------------------------


def check_mode(
    *,
    mode: str,
    live_flag: bool,
    config_chain_id: int,
    rpc_chain_id: int | None = None,
    config_provider: str | None = None,
    rpc_provider: str | None = None,
    config_only: bool = False,
) -> None:
    """Refuse a mode/chain combination that could trade real funds by mistake.

    dry-run: anything goes (nothing is signed). testnet: never a production chain id, on the
    config or the RPC. live: ``mode = "live"`` AND ``--live``; the RPC's chain id and the
    PoolAddressesProvider must both match the config. ``config_only``: the pre-flight check,
    before any network call (the RPC facts are checked in a second call).
    """
    if mode not in ("dry-run", "testnet", "live"):
        raise UserInputError(f"unknown mode {mode!r}")
    if live_flag and mode != "live":
        raise UserInputError(f'--live needs mode = "live" in the config (it is {mode!r})')
    if rpc_chain_id is not None and rpc_chain_id != config_chain_id:
        raise UserInputError(f"the RPC serves chain id {rpc_chain_id}, the config says {config_chain_id}")
    if mode == "testnet":
        for chain_id in (config_chain_id, rpc_chain_id):
            if chain_id in MAINNET_CHAIN_IDS:
                raise UserInputError(f"testnet mode refuses production chain id {chain_id}")
    if mode == "live":
        if not live_flag:
            raise UserInputError('mode = "live" also needs --live on the command line')
        if config_only:
            return
        if rpc_chain_id is None:
            raise UserInputError("live mode needs the RPC chain id checked against the config")
        if not config_provider or not rpc_provider:
            raise UserInputError("live mode needs the PoolAddressesProvider checked against the config")
        if config_provider.lower() != rpc_provider.lower():
            raise UserInputError(
                f"PoolAddressesProvider {rpc_provider} on chain differs from the config's {config_provider}"
            )


def check_withdrawal_address(address: str, allowlist: tuple[str, ...] | list[str]) -> Verdict:
    if address.lower() not in {a.lower() for a in allowlist}:
        return Verdict(False, f"withdrawal address {address} is not on the allowlist")
    return OK


# ---- kill switch ----------------------------------------------------------------------------


class KillSwitch:
    """A stop request: a file appearing at ``path``, SIGTERM/SIGINT/SIGUSR1, or ``trip()``.

    Signals only set a flag: the daemon looks at it between steps, and the clock's sleeps look at
    it while a step waits (``bot.clock.SystemClock(stop=...)``), so nothing is cut mid-write.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else None
        self._tripped = threading.Event()
        self.reason: str | None = None

    def trip(self, reason: str = "stop requested") -> None:
        if not self._tripped.is_set():
            self.reason = reason
        self._tripped.set()

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.trip(f"received {signal.Signals(signum).name}")

    @property
    def tripped(self) -> bool:
        if self._tripped.is_set():
            return True
        if self.path is not None and self.path.exists():
            self.trip(f"kill-switch file {self.path} exists (remove it to run again)")
            return True
        return False

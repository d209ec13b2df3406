"""The steps of a batch: the only place that knows their names, their payloads, how each acts,
reconciles, probes for foreign keys and accounts for what it moved.

Everything else (the executor, the journal, the controller, the demo) goes through what this
package exports.
"""

from bot.engine.batch_spec import BatchSpec, position_from_payload, position_payload
from bot.engine.steps.accounting import BatchAccounting
from bot.engine.steps.atomic import ATOMIC_DELEVERAGE, AtomicIntent, AtomicOutcome
from bot.engine.steps.base import Act, Kind, Refused, Skip, Step, TxStep, status_of, tx_act
from bot.engine.steps.outbound import wants_unwrap
from bot.engine.steps.payloads import (
    AwaitDepositIntent,
    AwaitQuoteIntent,
    DepositCreditOutcome,
    DepositIntent,
    Payload,
    QuoteArrivalOutcome,
    RepayIntent,
    SellIntent,
    SellOutcome,
    TransferOutcome,
    TxOutcome,
    UnwrapIntent,
    VerifyIntent,
    VerifyOutcome,
    WithdrawIntent,
    WithdrawQuoteIntent,
)
from bot.engine.steps.sequence import (
    ALL_STEPS,
    DEX_STEPS,
    STEP_NAMES,
    STEPS,
    account_batch,
    crash_points,
    sold_quote_between,
    step_label,
    steps_for,
)

__all__ = [
    "ALL_STEPS",
    "ATOMIC_DELEVERAGE",
    "DEX_STEPS",
    "STEPS",
    "STEP_NAMES",
    "Act",
    "AtomicIntent",
    "AtomicOutcome",
    "AwaitDepositIntent",
    "AwaitQuoteIntent",
    "BatchAccounting",
    "BatchSpec",
    "DepositCreditOutcome",
    "DepositIntent",
    "Kind",
    "Payload",
    "QuoteArrivalOutcome",
    "Refused",
    "RepayIntent",
    "SellIntent",
    "SellOutcome",
    "Skip",
    "Step",
    "TransferOutcome",
    "TxOutcome",
    "TxStep",
    "UnwrapIntent",
    "VerifyIntent",
    "VerifyOutcome",
    "WithdrawIntent",
    "WithdrawQuoteIntent",
    "account_batch",
    "crash_points",
    "position_from_payload",
    "position_payload",
    "sold_quote_between",
    "status_of",
    "step_label",
    "steps_for",
    "tx_act",
    "wants_unwrap",
]

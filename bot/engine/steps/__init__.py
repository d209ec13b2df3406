"""The steps of a batch: the only place that knows their names, their payloads, how each acts,
reconciles, probes for foreign keys and accounts for what it moved.

Everything else (the executor, the journal, the controller, the demo) goes through what this
package exports.
"""

from bot.engine.batch_spec import BatchSpec, position_from_payload, position_payload
from bot.engine.steps.accounting import BatchAccounting
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
from bot.engine.steps.sequence import STEP_NAMES, STEPS, account_batch, crash_points, sold_quote_between, step_label

__all__ = [
    "STEPS",
    "STEP_NAMES",
    "Act",
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
    "tx_act",
    "wants_unwrap",
]

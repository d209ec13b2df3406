"""The devnet's price feeds: which symbols it quotes and which prices a feed may be set to.

Light on purpose (no web3): `delever devnet set-price` checks its arguments with it before it
touches anything. The feeds answer in 1e8 USD; Aave multiplies a price by token amounts in
uint256, so a price far above any asset's (``1e308``) would break its maths and every read of
the position — it is refused, as is one that rounds to a zero answer.
"""

from __future__ import annotations

from decimal import Decimal

from bot.errors import UserInputError

# The reserves `devnet up` deploys (bot.devnet.aave_market.DEFAULT_RESERVES), in that order.
SYMBOLS = ("WETH", "WBTC", "USDC", "USDT")
FEED_DECIMALS = 8
MIN_PRICE_USD = Decimal(1).scaleb(-FEED_DECIMALS)
MAX_PRICE_USD = Decimal(10) ** 12


def symbols_text() -> str:
    return ", ".join(SYMBOLS[:-1]) + " or " + SYMBOLS[-1]


def feed_answer(usd: Decimal) -> int:
    """The feed's answer (1e8 USD) for ``usd``; ``UserInputError`` outside the range a feed takes."""
    if not usd.is_finite() or not MIN_PRICE_USD <= usd <= MAX_PRICE_USD:
        raise UserInputError(f"price must be between {MIN_PRICE_USD:f} and {MAX_PRICE_USD:,} USD, got {usd}")
    answer = int((usd * 10**FEED_DECIMALS).to_integral_value())
    if answer <= 0:
        raise UserInputError(f"price {usd} rounds to zero at {FEED_DECIMALS} decimals")
    return answer

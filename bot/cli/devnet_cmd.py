"""`delever devnet ...`: the local anvil chain with Aave v3 and the exchange emulator."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import typer

from bot.cli.common import EXIT_USER, fail, print_json
from bot.devnet import feeds
from bot.errors import UserInputError

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d{1,12})\s*([smhdw]?)\s*$")
# Ten years: enough to age any position; far more overflows the chain's clock and Aave's interest maths.
MAX_ADVANCE_S = 3650 * 86400


def parse_duration(text: str) -> int:
    """'90s', '15m', '2h', '30d', '1w' or plain seconds → seconds (positive)."""
    match = _DURATION.match(text.lower())
    if not match and re.fullmatch(r"\s*\d+\s*[smhdw]?\s*", text.lower()):
        raise ValueError(f"duration must be at most 3650d (ten years), got {text.strip()[:24]!r}")
    if not match:
        raise ValueError(f"bad duration {text!r}: use e.g. 90s, 15m, 2h, 30d")
    seconds = int(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {text!r}")
    if seconds > MAX_ADVANCE_S:
        raise ValueError(f"duration must be at most 3650d (ten years), got {text!r}")
    return seconds


def parse_positive_decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{what} must be positive, got {text!r}")
    return value


def parse_non_negative_decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{what} must be zero or positive, got {text!r}")
    return value


def _user_error(message: str) -> None:
    fail(message, EXIT_USER)


def _connection_facts(devnet: Any) -> dict[str, Any]:
    """What `up --json` prints: the state without the wallet key, the API secret masked (the
    state file keeps both)."""
    from bot.devnet import state
    from bot.redact import MASK

    facts = {k: v for k, v in devnet.to_json().items() if k != "wallet_private_key"}
    if facts.get("api_secret"):
        facts["api_secret"] = MASK
    facts["state_file"] = str(state.state_path())
    return facts


def _print_table(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)


def _require_running() -> Any:
    from bot.devnet import launcher

    devnet = launcher.running_state()
    if devnet is None:
        # Like `status` without a config: a step the user skipped, not a failure of ours.
        fail("no devnet is running (start one with `delever devnet up`)", EXIT_USER)
    return devnet


def _health_factor(devnet: Any) -> Decimal | None:
    from bot.devnet import quick

    return quick.account_data(devnet.rpc_url, devnet.pool, devnet.wallet).health_factor


def _hf_text(hf: Decimal | None) -> str:
    return "∞ (no debt)" if hf is None else f"{hf:.6f}"


def register(app: typer.Typer) -> None:
    devnet = typer.Typer(help="Local devnet: anvil + Aave v3 + exchange emulator.", no_args_is_help=True)
    app.add_typer(devnet, name="devnet")

    @devnet.command("up")
    def up(
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
        collateral: str = typer.Option("100", "--collateral", help="WETH the demo wallet supplies."),
        hf: str = typer.Option("1.45", "--hf", help="Health factor the demo wallet borrows USDT down to."),
        port: int = typer.Option(0, "--port", help="anvil port on 127.0.0.1 (0: a free one)."),
        block_time: int = typer.Option(
            1, "--block-time", help="Seconds between blocks once deployed (0: mine on every transaction)."
        ),
        dex_depth: str = typer.Option(
            "3000000", "--dex-depth", help="USD within 1 % in each Uniswap v3 WETH/stablecoin pair (0: no DEX)."
        ),
    ) -> None:
        """Start anvil, deploy Aave v3, start the exchange emulator, open a leveraged position."""
        try:
            amount = parse_positive_decimal(collateral, "--collateral")
            target = parse_positive_decimal(hf, "--hf")
            depth = parse_non_negative_decimal(dex_depth, "--dex-depth")
        except ValueError as exc:
            _user_error(str(exc))
        if target <= 1:
            _user_error(f"--hf must be above 1, got {hf}")
        if not 0 <= port <= 65535:
            _user_error(f"--port must be in 0..65535, got {port}")
        if not 0 <= block_time <= 60:
            _user_error(f"--block-time must be a whole number of seconds in 0..60, got {block_time}")

        from bot.devnet import launcher

        typer.echo("starting anvil, deploying Aave v3, opening the demo position…", err=True)
        state = launcher.bring_up(
            launcher.UpOptions(
                collateral=amount, target_hf=target, port=port, block_time=block_time, dex_usd_within_1pct=depth
            )
        )
        facts = _connection_facts(state)
        if json_out:
            print_json(facts)
            return
        rows = [
            ("rpc_url", state.rpc_url),
            ("chain_id", str(state.chain_id)),
            ("pool_addresses_provider", state.pool_addresses_provider),
            ("pool", state.pool),
            ("oracle", state.oracle),
            ("data_provider", state.data_provider),
            ("multicall3", state.multicall3),
            ("wallet", state.wallet),
            ("health_factor", _hf_text(_health_factor(state))),
            *((f"token {sym}", addr) for sym, addr in state.tokens.items()),
            ("exchange_url", state.exchange_url or "— (no exchange emulator)"),
            ("uniswap_v3_router", (state.extra.get("dex") or {}).get("router", "— (no DEX)")),
            ("state_file", facts["state_file"]),
        ]
        _print_table("delever devnet", rows)

    @devnet.command("down")
    def down(json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout.")) -> None:
        """Stop everything `devnet up` started."""
        from bot.devnet import anvil, launcher, state, wallet_ops

        try:
            current = state.read_state()
        except (UserInputError, ValueError):  # an unreadable state file: bring_down says what it can
            current = None
        genesis = current.extra.get("genesis_hash") if current is not None else None
        if current is not None and genesis is None and anvil.is_answering(current.rpc_url):
            genesis = wallet_ops.genesis_hash(current.rpc_url)
        stopped = launcher.bring_down()
        # The chain is gone: its journals can never resume; move them aside for the next `up`.
        archived = wallet_ops.archive_journals(state.state_dir(), genesis) if genesis else []
        if json_out:
            print_json(
                {
                    "stopped": stopped,
                    "journals_moved": {str(src): str(dst) for src, dst in archived if dst is not None},
                    "journals_in_use": [str(src) for src, dst in archived if dst is None],
                }
            )
            return
        typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "no devnet was running")
        for src, dst in archived:
            if dst is None:
                typer.echo(f"journal {src} of this devnet is still in use: left in place", err=True)
            else:
                typer.echo(f"journal of this devnet moved aside: {src} -> {dst.name}")

    @devnet.command("status")
    def status(json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout.")) -> None:
        """Is the devnet running, and where."""
        from bot.devnet import anvil, launcher, state

        current = state.read_state()
        running = launcher.running_state() is not None
        payload: dict[str, Any] = {"running": running, "state_file": str(state.state_path())}
        if current is not None:
            payload.update(rpc_url=current.rpc_url, chain_id=current.chain_id, wallet=current.wallet)
        if running and current is not None and anvil.is_answering(current.rpc_url):
            from bot.devnet import quick

            hf = _health_factor(current)
            payload.update(block=quick.block_number(current.rpc_url), health_factor=None if hf is None else str(hf))
        elif running:
            payload["running"] = False
            payload["note"] = "anvil's process is alive but does not answer RPC"
        if json_out:
            print_json(payload)
            return
        if not payload["running"]:
            typer.echo("devnet: not running" + (f" ({payload['note']})" if "note" in payload else ""))
            return
        hf_value = payload["health_factor"]
        _print_table(
            "delever devnet",
            [
                ("status", "running"),
                ("rpc_url", payload["rpc_url"]),
                ("block", str(payload["block"])),
                ("wallet", payload["wallet"]),
                ("health_factor", _hf_text(None if hf_value is None else Decimal(hf_value))),
            ],
        )

    # ignore_unknown_options: a negative price ("-3") reaches the one-line check below as an argument.
    @devnet.command("set-price", context_settings={"ignore_unknown_options": True})
    def set_price(
        symbol: str = typer.Argument(..., help=f"The asset whose feed moves: {feeds.symbols_text()}."),
        usd: str = typer.Argument(..., help="Its new price in USD (e.g. 1600)."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        """Move an oracle price feed (and the emulator's reference price)."""
        try:
            price = parse_positive_decimal(usd, "USD price")
            feeds.feed_answer(price)  # checked before anything is written
        except (ValueError, UserInputError) as exc:
            _user_error(str(exc))
        if symbol.upper() not in feeds.SYMBOLS:
            _user_error(f"unknown symbol {symbol.upper()}: one of {feeds.symbols_text()}")
        current = _require_running()
        symbol = symbol.upper()
        if symbol not in current.price_feeds:
            _user_error(f"unknown symbol {symbol}: one of {', '.join(sorted(current.price_feeds))}")

        from bot.devnet import launcher, quick

        has_dex = bool(current.extra.get("dex"))  # then the arbitrage mines the price with it
        answer = quick.set_feed_price(current.rpc_url, current.price_feeds[symbol], price, mine=not has_dex)
        launcher.notify_exchange_price(current, symbol, price)
        launcher.align_dex(current)
        hf = _health_factor(current)
        payload = {
            "symbol": symbol,
            "price_usd": str(price),
            "answer": answer,
            "block": quick.block_number(current.rpc_url),
            "health_factor": None if hf is None else str(hf),
        }
        if json_out:
            print_json(payload)
        else:
            typer.echo(f"{symbol} = ${price} at block {payload['block']}; wallet HF {_hf_text(hf)}")

    @devnet.command("advance")
    def advance(
        duration: str,
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        """Move chain time forward (e.g. 90s, 2h, 30d); interest accrues."""
        try:
            seconds = parse_duration(duration)
        except ValueError as exc:
            _user_error(str(exc))
        current = _require_running()

        from bot.devnet import quick

        timestamp = quick.advance(current.rpc_url, seconds)
        hf = _health_factor(current)
        payload = {
            "seconds": seconds,
            "block": quick.block_number(current.rpc_url),
            "timestamp": timestamp,
            "health_factor": None if hf is None else str(hf),
        }
        if json_out:
            print_json(payload)
        else:
            typer.echo(f"advanced {seconds} s to block {payload['block']}; wallet HF {_hf_text(hf)}")

    @devnet.command("send", context_settings={"ignore_unknown_options": True})
    def send(
        symbol: str = typer.Argument(..., help="USDT, USDC, WETH, WBTC or ETH."),
        amount: str = typer.Argument(..., help="How much, or 'all' (tokens only)."),
        to: str = typer.Option("", "--to", help="Recipient (default: anvil account 5, unused by the devnet)."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        """Send a token out of the demo wallet, e.g. `send USDT all`: spend what it borrowed."""
        from bot.devnet import wallet_ops

        try:
            parsed = wallet_ops.parse_amount(amount)
        except UserInputError as exc:
            _user_error(str(exc))
        current = _require_running()
        try:
            sent = wallet_ops.send(current, symbol, parsed, to or None)
        except UserInputError as exc:
            _user_error(str(exc))
        hf = _health_factor(current)
        payload = {
            "symbol": sent.symbol,
            "amount": str(sent.amount),
            "from": sent.sender,
            "to": sent.to,
            "tx_hash": sent.tx_hash,
            "block": sent.block,
            "health_factor": None if hf is None else str(hf),
        }
        if json_out:
            print_json(payload)
        else:
            typer.echo(
                f"sent {sent.amount:,} {sent.symbol} from {sent.sender} to {sent.to} in block {sent.block}; "
                f"wallet HF {_hf_text(hf)}"
            )

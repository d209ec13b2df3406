"""Run the exchange emulator as a background process.

    python -m bot.devnet.exchange [--host 127.0.0.1] [--port 0]
        [--state-file .delever/devnet.json] [--update-state] [--rpc-url URL]
        [--info-file PATH] [--price ETHUSDT=3000 ...] [--depth ETHUSDT=5000000 ...]
        [--shape linear|sqrt] [--half-life 60] [--balance ETH=100 ...]
        [--confirmations 2] [--deposit-start-block N] [--withdrawal-delay 2] [--taker-fee 0.001] [--no-timestamp-check]

Prints one JSON line on stdout once serving: ``exchange_url``, ``api_key``, ``api_secret``,
``exchange_hot_wallet``, ``deposit_address``, ``pid``; ``--info-file`` writes the same JSON
(mode 0600); ``--update-state`` merges those keys (and ``pids.exchange``) into the state file.
From the devnet state file it takes ``rpc_url``, ``tokens`` (deposit/withdraw coins: every
token; ETH is native, WBTC is coin BTC) and ``oracle`` + ``tokens`` (the reference price follows
AaveOracle.getAssetPrice of WETH/WBTC, divided by USDT's). Secrets from the environment:
``DELEVER_EXCHANGE__API_KEY`` / ``DELEVER_EXCHANGE__API_SECRET`` (random when unset) and
``DELEVER_EMULATOR_HOT_WALLET_KEY`` (on chain id 31337 it defaults to anvil's public
test account #9). Stops cleanly on SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

from bot.devnet.exchange.config import (
    DEFAULT_COINS,
    DEFAULT_DEPTH,
    DEFAULT_PRICES,
    CoinConfig,
    DepthProfile,
    EmulatorConfig,
    random_key,
)
from bot.devnet.exchange.emulator import start_emulator
from bot.devnet.state import read_state_data, write_json_atomic

log = logging.getLogger("bot.devnet.exchange")

ANVIL_ACCOUNT_9_KEY = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"
BASE_ASSETS = {"ETH": "WETH", "BTC": "WBTC"}
DECIMALS = {"USDT": 6, "USDC": 6, "WBTC": 8, "BTC": 8, "DAI": 18, "ETH": 18, "WETH": 18}
FEES = {"USDT": ("1", "10"), "USDC": ("1", "10"), "DAI": ("1", "10"), "WBTC": ("0.00001", "0.0001")}


def _pairs(values: list[str], flag: str) -> dict[str, Decimal]:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{flag} takes KEY=VALUE, got {item!r}")
        out[key.strip().upper()] = Decimal(value)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.devnet.exchange", description="Binance-compatible exchange emulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-file", default=None, help="devnet state JSON to read chain facts from")
    parser.add_argument("--update-state", action="store_true", help="merge the emulator's facts into --state-file")
    parser.add_argument("--rpc-url", default=None)
    parser.add_argument("--info-file", default=None)
    parser.add_argument("--price", action="append", default=[], help="SYMBOL=PRICE fixed reference (pins it)")
    parser.add_argument("--depth", action="append", default=[], help="SYMBOL=USD within 1%% per side")
    parser.add_argument("--shape", choices=("linear", "sqrt"), default="linear")
    parser.add_argument("--half-life", type=float, default=60.0, help="refill half-life, seconds")
    parser.add_argument("--balance", action="append", default=[], help="ASSET=AMOUNT starting balance")
    parser.add_argument("--confirmations", type=int, default=2)
    parser.add_argument(
        "--deposit-start-block", type=int, default=None, help="scan deposits from this block (default: head at start)"
    )
    parser.add_argument("--withdrawal-delay", type=float, default=2.0)
    parser.add_argument("--taker-fee", type=Decimal, default=Decimal("0.001"))
    parser.add_argument("--maker-fee", type=Decimal, default=Decimal("0.001"))
    parser.add_argument("--no-timestamp-check", action="store_true")
    parser.add_argument(
        "--wait-for-state-file", type=float, default=0.0, help="seconds to wait for --state-file to appear"
    )
    return parser.parse_args(argv)


def _wait_for_state_file(args: argparse.Namespace) -> None:
    """Started ahead of its chain (`devnet up` overlaps this process's imports with its own work)."""
    if not args.wait_for_state_file or not args.state_file:
        return
    deadline = time.monotonic() + args.wait_for_state_file
    while not Path(args.state_file).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no state file at {args.state_file} within {args.wait_for_state_file:.0f} s")
        time.sleep(0.01)


def build_config(args: argparse.Namespace, env: dict[str, str]) -> tuple[EmulatorConfig, dict[str, str]]:
    state = (read_state_data(Path(args.state_file)) if args.state_file else None) or {}
    rpc_url = args.rpc_url or state.get("rpc_url")
    tokens = {k.upper(): v for k, v in (state.get("tokens") or {}).items()}
    coins = dict(DEFAULT_COINS)
    for symbol, address in tokens.items():
        if symbol in ("WETH", "WBTC"):  # ETH is native; WBTC is served as Binance's BTC below
            continue
        fee, minimum = FEES.get(symbol, ("0", "0"))
        coins[symbol] = CoinConfig(
            symbol,
            address,
            DECIMALS.get(symbol, 18),
            Decimal(fee),
            Decimal(minimum),
            withdraw_multiple=Decimal(1).scaleb(-min(DECIMALS.get(symbol, 18), 8)),
            name=symbol,
        )
    if "WBTC" in tokens:  # Binance's BTC stands for the devnet's WBTC
        coins["BTC"] = CoinConfig(
            "BTC", tokens["WBTC"], DECIMALS["WBTC"], Decimal("0.00001"), Decimal("0.0001"), name="Bitcoin"
        )
    oracle_assets = {}
    if state.get("oracle") and rpc_url:
        for base, token_symbol in BASE_ASSETS.items():
            if token_symbol in tokens:
                oracle_assets[base] = tokens[token_symbol]
        if "USDT" in tokens:
            oracle_assets["USDT"] = tokens["USDT"]
    depth = dict(DEFAULT_DEPTH)
    for symbol, usd in _pairs(args.depth, "--depth").items():
        depth[symbol] = DepthProfile(depth_usd_1pct=usd)
    depth = {s: p.replace(shape=args.shape, half_life_s=args.half_life) for s, p in depth.items()}
    hot_key = env.get("DELEVER_EMULATOR_HOT_WALLET_KEY")
    if not hot_key and rpc_url and int(state.get("chain_id") or 31337) == 31337:
        hot_key = ANVIL_ACCOUNT_9_KEY
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        api_key=env.get("DELEVER_EXCHANGE__API_KEY") or random_key(),
        api_secret=env.get("DELEVER_EXCHANGE__API_SECRET") or random_key(),
        prices=dict(DEFAULT_PRICES),
        depth=depth,
        taker_fee=args.taker_fee,
        maker_fee=args.maker_fee,
        balances=_pairs(args.balance, "--balance"),
        check_timestamp=not args.no_timestamp_check,
        rpc_url=rpc_url,
        hot_wallet_key=hot_key if rpc_url else None,
        coins=coins,
        aave_oracle=state.get("oracle") if oracle_assets else None,
        oracle_assets=oracle_assets,
        deposit_confirmations=args.confirmations,
        withdrawal_delay_s=args.withdrawal_delay,
        deposit_start_block=args.deposit_start_block,
    )
    return config, {s: str(p) for s, p in _pairs(args.price, "--price").items()}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    _wait_for_state_file(args)
    config, pins = build_config(args, dict(os.environ))
    handle = start_emulator(config)
    for symbol, price in pins.items():
        handle.set_price(symbol, price)
    facts = {
        "exchange_url": handle.url,
        "api_key": handle.api_key,
        "api_secret": handle.api_secret,
        "exchange_hot_wallet": handle.hot_wallet,
        "deposit_address": handle.deposit_address,
        "pid": os.getpid(),
    }
    if args.info_file:
        write_json_atomic(Path(args.info_file), facts)
    if args.update_state and args.state_file:
        path = Path(args.state_file)
        state = read_state_data(path) or {}
        state.update({k: v for k, v in facts.items() if k not in ("pid", "deposit_address")})
        state.setdefault("pids", {})["exchange"] = os.getpid()
        write_json_atomic(path, state)
    print(json.dumps(facts), flush=True)
    log.info("exchange emulator serving on %s (markets: %s)", handle.url, ", ".join(m.symbol for m in config.markets))

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    handle.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

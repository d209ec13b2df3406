"""`delever adapter deploy`: deploy the project's deleverage adapter for the configured wallet.

testnet and live (``--live`` too) sign one journaled transaction with the wallet's key; a rerun
with the same config reconciles that transaction instead of deploying twice. dry-run prints what
would be deployed and sends nothing. The address is printed with the ``[dex] adapter_address``
line to paste into the config (the config is never edited). Exit 2: no signer, wrong mode, no
``[dex] swap_router``; exit 1: the chain failed the deployment.
"""

from __future__ import annotations

import typer

from bot.cli.common import EXIT_USER, fail, print_json
from bot.errors import UserInputError


def register(app: typer.Typer) -> None:
    adapter = typer.Typer(help="The atomic DEX route's adapter contract.", no_args_is_help=True)
    app.add_typer(adapter, name="adapter")

    @adapter.command("deploy")
    def deploy(
        ctx: typer.Context,
        live: bool = typer.Option(False, "--live", help='Required, with mode = "live" in the config, to deploy live.'),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        r"""Deploy the adapter (owner: the wallet) for the market's Aave Pool and \[dex] swap_router."""
        from bot.compose.adapter_deploy import deploy_adapter
        from bot.settings import load_settings

        settings = load_settings(ctx.obj.config_path)
        try:
            done = deploy_adapter(settings, live_flag=live)
        except UserInputError as e:
            fail(str(e), EXIT_USER)
        if json_out:
            print_json(
                {"mode": done.mode, "owner": done.owner, "pool": done.pool, "router": done.router, "key": done.key,
                 "address": done.address, "tx_hash": done.tx_hash, "block": done.block, "sent": done.sent}
            )  # fmt: skip
            return
        if done.address is None:
            typer.echo(
                f"dry-run: would deploy the deleverage adapter owned by {done.owner} for Pool {done.pool} and "
                f"SwapRouter {done.router} (key {done.key}); nothing sent"
            )
            return
        verb = "deployed" if done.sent else "already deployed (reconciled)"
        typer.echo(f"adapter {verb} at {done.address} (tx {done.tx_hash}, block {done.block}); put in the config:")
        typer.echo(done.config_line())

"""`delever adapter deploy` on the devnet, as a user runs it, and the daemon's start-up check of
``[dex] adapter_address``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.devnet import anvil
from tests.support.devnet import cli_devnet, run_cli

pytestmark = pytest.mark.integration


def _deploy(state_dir: Path, env: dict[str, str]) -> dict:
    done = run_cli(state_dir, "adapter", "deploy", "--json", extra_env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout))


def _nonce(url: str, wallet: str) -> int:
    return int(anvil.rpc_call(url, "eth_getTransactionCount", [wallet, "latest"]), 16)


@pytest.mark.slow  # three daemon starts: about a minute here
def test_deploy_once_reconcile_on_rerun_and_refuse_a_foreign_adapter_at_start_up(tmp_path) -> None:
    state_dir = tmp_path / "state"
    with cli_devnet(state_dir) as devnet:
        facts = json.loads((state_dir / "devnet.json").read_text())
        router, wallet, url = facts["dex"]["router"], facts["wallet"], facts["rpc_url"]
        env = {"DELEVER_DEX__SWAP_ROUTER": router}

        dry = _deploy(state_dir, {**env, "DELEVER_MODE": "dry-run"})
        assert dry["address"] is None and dry["sent"] is False and dry["pool"] == devnet["pool"]
        nonce_before = _nonce(url, wallet)

        first = _deploy(state_dir, env)
        again = _deploy(state_dir, env)

        assert first["sent"] is True and again["sent"] is False
        assert again["address"] == first["address"] and again["tx_hash"] == first["tx_hash"]
        assert _nonce(url, wallet) == nonce_before + 1  # one transaction for both runs
        assert (first["owner"], first["router"]) == (wallet, router)
        text = run_cli(state_dir, "adapter", "deploy", extra_env=env)
        assert f'[dex] adapter_address = "{first["address"]}"' in text.stdout

        foreign = run_cli(state_dir, "run", "--once", extra_env={**env, "DELEVER_DEX__ADAPTER_ADDRESS": router})
        assert foreign.returncode == 2, foreign.stderr[-2000:]
        (line,) = foreign.stderr.strip().splitlines()
        assert f"adapter_address {router} is not this version's adapter build" in line
        # A dry-run and a plan route as the live start would: they refuse the same adapter.
        for args, mode in ((("run", "--once"), "dry-run"), (("plan",), "testnet")):
            extra = {**env, "DELEVER_DEX__ADAPTER_ADDRESS": router, "DELEVER_DEX__ROUTE": "auto", "DELEVER_MODE": mode}
            refused = run_cli(state_dir, *args, extra_env=extra)
            assert refused.returncode == 2, (args, refused.stderr[-2000:])
            assert "is not this version's adapter build" in refused.stderr.strip().splitlines()[-1]

        other_router = {"DELEVER_DEX__SWAP_ROUTER": facts["dex"]["quoter"]}
        mismatch = run_cli(
            state_dir, "run", "--once", extra_env={**other_router, "DELEVER_DEX__ADAPTER_ADDRESS": first["address"]}
        )
        assert mismatch.returncode == 2 and "has router" in mismatch.stderr, mismatch.stderr[-2000:]

        ours = run_cli(state_dir, "run", "--once", extra_env={**env, "DELEVER_DEX__ADAPTER_ADDRESS": first["address"]})
        assert ours.returncode == 0, ours.stderr[-2000:]


def test_deploy_without_a_swap_router_or_a_signer_is_refused_in_one_line(tmp_path) -> None:
    state_dir = tmp_path / "state"
    with cli_devnet(state_dir, "--dex-depth", "0"):
        no_router = run_cli(state_dir, "adapter", "deploy")
        assert no_router.returncode == 2 and "needs [dex] swap_router" in no_router.stderr
        no_key = run_cli(
            state_dir,
            "adapter",
            "deploy",
            extra_env={"DELEVER_DEX__SWAP_ROUTER": "0x" + "ab" * 20, "DELEVER_WALLET__KEY_SOURCE": "none"},
        )
        assert no_key.returncode == 2, no_key.stderr
        assert len(no_key.stderr.strip().splitlines()) == 1

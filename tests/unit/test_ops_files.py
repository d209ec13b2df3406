"""ops/: the Grafana dashboard, the Prometheus alert rules and the systemd unit are well formed,
and every metric they name is one the daemon exports."""

from __future__ import annotations

import configparser
import json
import re
from decimal import Decimal
from pathlib import Path

import yaml

from bot.engine.journal import BatchStatus, StepStatus
from bot.engine.metrics import Metrics

OPS = Path(__file__).resolve().parents[2] / "ops"
METRIC = re.compile(r"\bdelever_[a-z_]+\b")


def _exported() -> set[str]:
    """Every sample name the daemon's registry exposes once each metric has a value."""
    metrics = Metrics()
    metrics.observe_hf(Decimal("1.25"))
    metrics.step_done(batch_id="b-1", step="sell", status=StepStatus.OK, seconds=1.5)
    metrics.batch_done(batch_id="b-1", status=BatchStatus.DONE, accounting={"sold_filled": "1", "gross_quote": "2"})
    metrics.alert("warning", "rpc timeout")
    metrics.blocked(reason="daily_cap", detail="")
    return {line.split("{")[0].split(" ")[0] for line in metrics.text().splitlines() if not line.startswith("#")}


def _dashboard() -> dict:
    return json.loads((OPS / "grafana" / "delever-dashboard.json").read_text())


def _rules() -> list[dict]:
    document = yaml.safe_load((OPS / "prometheus" / "delever-alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_dashboard_panels_have_unique_ids_places_and_queries():
    panels = _dashboard()["panels"]
    assert len({p["id"] for p in panels}) == len(panels) >= 10
    for panel in panels:
        assert panel["type"] in ("timeseries", "stat") and set(panel["gridPos"]) == {"x", "y", "w", "h"}
        assert panel["targets"] and all(t["expr"] for t in panel["targets"])


def test_alert_rules_cover_hf_halt_stuck_batches_and_errors():
    rules = _rules()
    names = {r["alert"] for r in rules}
    assert {"DeleverHealthFactorBelowTrigger", "DeleverHalted", "DeleverBatchStuck", "DeleverErrors"} <= names
    for rule in rules:
        assert rule["expr"] and rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["summary"]


def test_every_metric_the_ops_files_name_is_exported():
    exported = _exported()
    named = {m for p in _dashboard()["panels"] for t in p["targets"] for m in METRIC.findall(t["expr"])}
    named |= {m for rule in _rules() for m in METRIC.findall(rule["expr"])}
    assert len(named) >= 10
    assert sorted(named - exported) == []


def test_systemd_unit_runs_the_daemon_with_its_console_and_keeps_secrets_out():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    text = (OPS / "systemd" / "delever.service").read_text()
    unit.read_string(text)
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    assert unit["Service"]["ExecStart"].endswith("delever --log-json run --console")
    assert unit["Service"]["EnvironmentFile"] and unit["Service"]["RestartPreventExitStatus"] == "1 2"
    assert not re.search(r"^Environment=DELEVER_\w*(KEY|SECRET|TOKEN|PASSWORD)", text, re.M)

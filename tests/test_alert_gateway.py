"""The gateway's records, alerts, routing and dashboard panels (issue 16, part 5), built in
process from the `local` stack with `gateway=True` (what components/kubernetes/resolve.py
passes when the spec has a gateway), so they are tested whether or not a sample stack
renders a gateway. Series and labels are the runtime's contract (brief contract 5, written out in
tests/test_alert_series.py GATEWAY_SERIES)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import stack_spec
from pushgateway import listening_address
from test_alert_rules import SCENARIOS, _run, _tool, run_scenarios
from test_alert_series import GATEWAY_SERIES, selected_series

from components.observability import alertmanager
from components.observability import metrics as m
from components.observability.dashboards import dashboard, dashboards, panel_queries
from components.observability.rules import (
    GatewayRuleBuilder,
    RuleBuilder,
    alert_names,
    prometheus_rules,
)
from components.spec import Environment, load_spec

GATEWAY_ALERTS = {"GatewayDown", "CostCeilingReached", "TeamBudgetNearlyExhausted",
                  "FallbackRateHigh", "RateLimitedSpike"}
SCRAPED = 'namespace="llm-local",job="llm-gateway"'


@pytest.fixture(scope="module")
def env() -> Environment:
    return load_spec(stack_spec("local"))


@pytest.fixture(scope="module")
def groups(env) -> list[dict]:
    return GatewayRuleBuilder(env).groups()


def _rules(groups: list[dict]) -> dict[str, dict]:
    return {r.get("alert") or r["record"]: r for g in groups for r in g["rules"]}


def test_only_an_environment_with_a_gateway_gets_its_rules(env):
    without, with_ = prometheus_rules(env), prometheus_rules(env, gateway=True)
    assert not alert_names(without) & GATEWAY_ALERTS
    assert "llm:gateway_" not in json.dumps(without)
    assert alert_names(with_) == alert_names(without) | GATEWAY_ALERTS
    # the same PrometheusRule objects: the gateway's groups join the environment's
    assert with_.keys() == without.keys()
    assert with_["llm-platform"][:len(without["llm-platform"])] == without["llm-platform"]


def test_budget_remaining_takes_the_highest_gauge_of_every_replica(groups):
    """Every replica exports the team's budget and spend from the same ledger, one of them
    possibly a scrape behind: remaining is the budget less the highest spend seen."""
    rule = _rules(groups)["llm:gateway_team_budget_remaining_usd"]
    assert rule["expr"] == (f"max by (team) (llm_gateway_team_budget_usd{{{SCRAPED}}}) - "
                            f"max by (team) (llm_gateway_team_spend_usd{{{SCRAPED}}})")
    assert rule["labels"] == {"namespace": "llm-local"}


def test_every_gateway_alert_pages_or_tickets_and_links_its_runbook(groups):
    rules = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    assert set(rules) == GATEWAY_ALERTS
    severity = {name: rules[name]["labels"]["severity"] for name in rules}
    assert severity == {"GatewayDown": "critical", "CostCeilingReached": "critical",
                        "TeamBudgetNearlyExhausted": "warning", "FallbackRateHigh": "warning",
                        "RateLimitedSpike": "warning"}
    for name, rule in rules.items():
        assert rule["labels"]["component"] == "gateway"
        assert rule["annotations"]["runbook_url"].endswith(f"/runbooks/{name}.md")
        assert "/d/llm-cost?var-namespace=llm-local" in rule["annotations"]["dashboard_url"]


def test_promtool_check_rules_accepts_the_gateway_groups(groups, tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    proc = _run(_tool("promtool"), "check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_fire_and_near_miss_for_every_gateway_alert(groups, tmp_path):
    """tests/alerts/gateway.yaml: each alert fires on the series that should raise it, with
    the labels and annotations on-call receives, and stays quiet just under its threshold
    or just short of its `for`."""
    scenarios = yaml.safe_load((SCENARIOS / "gateway.yaml").read_text())
    assert {sc["alert"] for sc in scenarios} == GATEWAY_ALERTS
    run_scenarios(groups, scenarios, stack_spec("local"), tmp_path)


def _expr_test(groups: list[dict], tmp_path: Path, series: list[dict], checks: list[dict]):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yaml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": checks}],
    }, sort_keys=False))
    proc = _run(_tool("promtool"), "test", "rules", "t.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def _series(name: str, pod: str, values: str, **labels: str) -> dict:
    extra = "".join(f',{k}="{v}"' for k, v in labels.items())
    return {"series": f'{name}{{{SCRAPED},pod="{pod}"{extra}}}', "values": values}


def _sample(record: str, value: float, **labels: str) -> tuple[str, dict]:
    """A record's expected value, compared to 4 decimals (promtool 2.42 compares floats
    exactly, and a rate's arithmetic leaves the last bit to chance): the check is
    round(record * 10000), which keeps the labels and drops the name."""
    text = ",".join(f'{k}="{v}"' for k, v in sorted({"namespace": "llm-local", **labels}.items()))
    return record, {"labels": f"{{{text}}}", "value": round(value * 10_000)}


def test_records_per_team_and_model_from_two_replicas(groups, tmp_path):
    """Two replicas serve team support-bot on model assistant. Per minute: replica a 90
    self-hosted answers at $0.03 each, b 10 answers from the hosted fallback (6 after a
    429 from the model server, 4 after a timeout) at $0.12 each, and 5 answers of the 100
    are refusals; 8 more requests get 429 from the rpm limit. Month to date the team has
    spent $700 of $1,000 (replica b's gauge a scrape behind at $690)."""
    ids = {"team": "support-bot", "model": "assistant"}
    series = [
        _series(m.GW_REQUESTS, "a", "0+90x90", served_by="self-hosted", code="200", **ids),
        _series(m.GW_REQUESTS, "b", "0+10x90", served_by="fallback", code="200", **ids),
        _series(m.GW_REQUESTS, "a", "0+8x90", served_by="self-hosted", code="429", **ids),
        _series(m.GW_SPEND, "a", "0+2.7x90", served_by="self-hosted", **ids),
        _series(m.GW_SPEND, "b", "0+1.2x90", served_by="fallback", **ids),
        _series(m.GW_FALLBACKS, "b", "0+6x90", reason="rate_limited", **ids),
        _series(m.GW_FALLBACKS, "b", "0+4x90", reason="timeout", **ids),
        _series(m.GW_REFUSALS, "a", "0+5x90", **ids),
        _series(m.GW_RATE_LIMITED, "a", "0+8x90", limit="rpm", **ids),
        _series(m.GW_TEAM_BUDGET, "a", "1000x90", team="support-bot"),
        _series(m.GW_TEAM_BUDGET, "b", "1000x90", team="support-bot"),
        _series(m.GW_TEAM_SPEND, "a", "700x90", team="support-bot"),
        _series(m.GW_TEAM_SPEND, "b", "690x90", team="support-bot"),
        _series(m.GW_SPEND_MONTH, "a", "3600x90"),
        _series(m.GW_CEILING, "a", "4500x90"),
    ]
    total = 108  # answered and refused requests a minute
    expected = [
        _sample("llm:gateway_spend_usd_per_hour", 2.7 * 60, served_by="self-hosted", **ids),
        _sample("llm:gateway_spend_usd_per_hour", 1.2 * 60, served_by="fallback", **ids),
        _sample("llm:gateway_fallbacks:ratio_rate15m", 6 / total, reason="rate_limited", **ids),
        _sample("llm:gateway_fallbacks:ratio_rate15m", 4 / total, reason="timeout", **ids),
        _sample("llm:gateway_model_fallbacks:ratio_rate15m", 10 / total, model="assistant"),
        _sample("llm:gateway_rate_limited:ratio_rate5m", 8 / total, limit="rpm", **ids),
        # refusals over the 100 answered requests, not the 429s
        _sample("llm:gateway_refusals:ratio_rate15m", 5 / 100, **ids),
        _sample("llm:gateway_team_budget_remaining_usd", 300, team="support-bot"),
        _sample("llm:gateway_team_budget_used:ratio", 0.7, team="support-bot"),
        _sample("llm:gateway_ceiling_used:ratio", 0.8),
    ]
    checks: dict[str, list[dict]] = {}
    for record, sample in expected:
        checks.setdefault(record, []).append(sample)
    _expr_test(groups, tmp_path, series, [
        {"expr": f"round({record} * 10000)", "eval_time": "80m", "exp_samples": samples}
        for record, samples in checks.items()])


def test_every_series_a_gateway_rule_reads_is_recorded_or_in_the_runtime_contract(groups):
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    known = recorded | set(GATEWAY_SERIES) | {"up"}  # up: Prometheus, for every target
    for rule in (r for g in groups for r in g["rules"]):
        assert selected_series(rule["expr"]) <= known, rule
        # every label grouped on or matched in a gateway series is one it carries
        for by, metric in re.findall(r"by \(([^)]*)\) \((?:rate\()?(llm_gateway_\w+)", rule["expr"]):
            assert {x.strip() for x in by.split(",")} <= GATEWAY_SERIES[metric], rule
        for metric, matchers in re.findall(r"(llm_gateway_\w+)\{([^}]*)\}", rule["expr"]):
            names = {x.split("=")[0].rstrip("!~") for x in matchers.split(",")}
            assert names - {"namespace", "job"} <= GATEWAY_SERIES[metric], rule


@pytest.mark.parametrize(("alert", "receiver"), [
    ("GatewayDown", "pager"), ("CostCeilingReached", "pager"),
    ("TeamBudgetNearlyExhausted", "ticket"), ("FallbackRateHigh", "ticket"),
    ("RateLimitedSpike", "ticket"),
])
def test_alertmanager_pages_for_a_down_gateway_or_the_ceiling_and_tickets_the_rest(
        planned, groups, alert, receiver):
    """The labels each alert is rendered with, routed by the local stack's config."""
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == alert]
    labels = [f"{k}={v}" for k, v in {**rule["labels"], "alertname": alert}.items()]
    config = planned["local"].out / "alertmanager.yaml"
    proc = _run(_tool("amtool"), "config", "routes", "test", f"--config.file={config}", *labels)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == receiver


def test_the_cost_dashboard_gains_team_fallback_and_budget_panels(groups, tmp_path):
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    cost = dashboard("cost", "llm-local", gateway=True)
    queries = panel_queries(cost)
    gateway = [(t, q) for t, q in queries if "gateway" in q]
    for title, expr in gateway:
        assert selected_series(expr) <= recorded, (title, expr)
    text = " ".join(q for _, q in gateway)
    assert "sum by (team) (llm:gateway_spend_usd_per_hour" in text
    assert "by (team, served_by) (llm:gateway_spend_usd_per_hour" in text
    for record in ("llm:gateway_requests:rate5m", "llm:gateway_rate_limited:rate5m",
                   "llm:gateway_fallbacks:ratio_rate15m", "llm:gateway_team_budget_remaining_usd",
                   "llm:gateway_spend_month_usd", "llm:gateway_ceiling_usd"):
        assert record in text, record
    quality = dashboard("quality", "llm-local", gateway=True)
    assert "llm:gateway_refusals:ratio_rate15m" in json.dumps(quality)
    assert "llm:gateway_" not in "".join(dashboards("llm-local").values())
    rules = [{"record": "panel:query",
              "expr": q.replace("$namespace", "llm-x").replace("$model", ".+")}
             for _, q in panel_queries(cost) + panel_queries(quality)]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    proc = _run(_tool("promtool"), "check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def alertmanager_url(env, tmp_path):
    """A real Alertmanager (Debian's prometheus-alertmanager, which `make test` installs
    with amtool) on a kernel-chosen loopback port, with the local stack's config."""
    binary = shutil.which("prometheus-alertmanager")
    assert binary, "prometheus-alertmanager not installed: `make test` installs it"
    config = tmp_path / "alertmanager.yaml"
    config.write_text(yaml.safe_dump(alertmanager.config(env.spec), sort_keys=False))
    log = tmp_path / "alertmanager.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
             "--web.listen-address=127.0.0.1:0", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=err)
    try:
        yield f"http://{listening_address(proc, log)}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _firing(groups: list[dict], alert: str, **labels: str) -> dict:
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == alert]
    return {"labels": {**rule["labels"], "alertname": alert, **labels},
            "annotations": rule["annotations"]}


def test_a_gateway_page_silences_only_the_gateways_tickets(env, groups, alertmanager_url):
    """Alertmanager inhibits a warning when a critical alert has equal values of every
    `equal` label, a missing label counting as empty. GatewayDown has no model label, so
    without `component` among them it would also silence the environment's other
    model-less tickets, such as TrainingJobFailed; with it, only the gateway's own."""
    platform = RuleBuilder(env).platform_groups()
    alerts = [
        _firing(groups, "GatewayDown"),
        _firing(groups, "TeamBudgetNearlyExhausted", team="support-bot"),
        _firing(platform, "TrainingJobFailed", job_name="train-lora-1"),
    ]
    request = urllib.request.Request(
        f"{alertmanager_url}/api/v2/alerts", data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=5)
    deadline = time.monotonic() + 20
    while True:
        got = json.load(urllib.request.urlopen(f"{alertmanager_url}/api/v2/alerts", timeout=5))
        state = {a["labels"]["alertname"]: a["status"]["state"] for a in got}
        if len(state) == 3 and state["TeamBudgetNearlyExhausted"] == "suppressed":
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    assert state == {"GatewayDown": "active", "TeamBudgetNearlyExhausted": "suppressed",
                     "TrainingJobFailed": "active"}

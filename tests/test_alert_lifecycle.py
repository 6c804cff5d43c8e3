"""The model lifecycle's alerts and records on the stack that is mid-upgrade
(`onprem-mixed`: support-bot served by an Argo Rollouts Rollout, with an artifact store):
promtool fire and near-miss cases (tests/alerts/lifecycle.yaml), who they reach (amtool),
and the Rollout's replica and cost records, which cannot come from kube-state-metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import stack_spec
from test_alert_rules import SCENARIOS, _run, _tool, run_scenarios

from components.observability import alertmanager
from components.observability.rules import RuleBuilder
from components.spec import load_spec

STACK = "onprem-mixed"
LIFECYCLE = ("ModelArtifactInvalid", "ModelRolloutAborted", "ModelEvalGateFailed")
ROLLOUT = 'exported_namespace="llm-mixed",name="support-bot"'


@pytest.fixture(scope="module")
def env():
    return load_spec(stack_spec(STACK))


def _groups(env, model: str) -> list[dict]:
    (served,) = [m for m in env.spec.models if m.name == model]
    return RuleBuilder(env).model_groups(served)


def test_only_a_rollout_gets_the_gate_and_abort_alerts_and_every_synced_model_is_verified(env):
    alerts = {m.name: [r["alert"] for r in _groups(env, m.name)[2]["rules"]
                       if r["alert"] in LIFECYCLE] for m in env.spec.models}
    assert alerts == {"support-bot": list(LIFECYCLE), "analyst": ["ModelArtifactInvalid"]}
    local = load_spec(stack_spec("local"))  # no artifact store, no rollout
    (model,) = local.spec.models
    assert not {r["alert"] for r in RuleBuilder(local).model_groups(model)[2]["rules"]} & set(
        LIFECYCLE)


def test_promtool_fire_and_near_miss_for_every_lifecycle_alert(env, tmp_path):
    groups = _groups(env, "support-bot")
    alerts = [r for r in groups[2]["rules"] if r["alert"] in LIFECYCLE]
    scenarios = yaml.safe_load((SCENARIOS / "lifecycle.yaml").read_text())
    assert [sc["alert"] for sc in scenarios] == list(LIFECYCLE)
    run_scenarios([{"name": "lifecycle", "rules": alerts}], scenarios, stack_spec(STACK), tmp_path)


@pytest.mark.parametrize(("alert", "receiver"), [
    ("ModelArtifactInvalid", "pager"), ("ModelRolloutAborted", "ticket"),
    ("ModelEvalGateFailed", "ticket"),
])
def test_a_bad_artifact_pages_and_an_aborted_rollout_or_failed_gate_tickets(
        env, tmp_path, alert, receiver):
    (rule,) = [r for r in _groups(env, "support-bot")[2]["rules"] if r["alert"] == alert]
    config = tmp_path / "alertmanager.yaml"
    config.write_text(yaml.safe_dump(alertmanager.config(env.spec), sort_keys=False))
    labels = [f"{k}={v}" for k, v in {**rule["labels"], "alertname": alert}.items()]
    proc = _run(_tool("amtool"), "config", "routes", "test", f"--config.file={config}", *labels)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == receiver


def _series(metric: str, values: str, **labels: str) -> dict:
    text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{text}}}", "values": values}


def test_a_rollouts_replicas_and_cost_come_from_the_argo_rollouts_controller(env, tmp_path):
    """support-bot is a Rollout: no kube_deployment_* series exist for it. Two controller
    replicas report it with 3 pods available and 1 unavailable (the canary starting): 3
    ready replicas, so ModelDown stays quiet, and 4 pods x 1 GPU (TP 1) paid for. Per
    revision, 2 stable pods answer 6 requests/s and 1 canary pod 2/s: at $2.40 per L4-hour
    (onprem.gpu_hour_usd) a pod costs 2.40 / 3600 $/s, so a stable request costs
    2 x 2.40 / 3600 / 6 = $0.000222 and a canary one 1 x 2.40 / 3600 / 2 = $0.000333."""
    ctrl = {"namespace": "argo-rollouts", "exported_namespace": "llm-mixed",
            "name": "support-bot"}  # a label `name`: _series takes the metric as `metric`
    ids = {"namespace": "llm-mixed", "model": "support-bot"}
    stable, canary = "bb46c15ee4bb56c5b63245ef50fd7637234d6f75", "a09a35458c702b33eeacc393d103063234e8bc28"
    series = [
        *(_series(name, values, pod=pod, **ctrl) for pod in ("c-0", "c-1")
          for name, values in (("rollout_info_replicas_available", "3x20"),
                               ("rollout_info_replicas_unavailable", "1x20"))),
        *(_series("up", "1x20", pod=f"s-{i}", revision=stable, **ids) for i in range(2)),
        _series("up", "1x20", pod="c-0", revision=canary, **ids),
        *(_series("vllm:request_success_total", "0+180x20", pod=f"s-{i}", revision=stable,
                  finished_reason="stop", **ids) for i in range(2)),
        _series("vllm:request_success_total", "0+120x20", pod="c-0", revision=canary,
                finished_reason="stop", **ids),
    ]
    labels = '{namespace="llm-mixed",model="support-bot"'
    # round(x * 10^k) drops the record's name; the price is baked in to 6 significant digits
    # (0.000666667 $/pod-s), so the cost is compared to 8 decimals
    checks = {
        "round(llm:replicas * 1e9)": [(labels + "}", 3 * 10**9)],
        "round(llm:gpus_allocated * 1e9)": [(labels + ',pool="l4"}', 4 * 10**9)],
        "round(llm:usd_per_request:rate5m * 1e8)": [
            (labels + f',revision="{stable}"' + "}", round(2 * 2.40 / 3600 / 6 * 1e8)),
            (labels + f',revision="{canary}"' + "}", round(1 * 2.40 / 3600 / 2 * 1e8)),
        ],
    }
    groups = _groups(env, "support-bot")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups[:1]}, sort_keys=False))
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yaml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": [
            {"expr": expr, "eval_time": "10m",
             "exp_samples": [{"labels": lab, "value": value} for lab, value in samples]}
            for expr, samples in checks.items()]}],
    }, sort_keys=False))
    proc = _run(_tool("promtool"), "test", "rules", "t.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    down = next(r for r in groups[2]["rules"] if r["alert"] == "ModelDown")
    assert "kube_deployment" not in down["expr"] + str(groups[0]["rules"])


def test_the_runbooks_exist_with_the_rollback_commands():
    root = Path(__file__).resolve().parents[1] / "runbooks"
    for alert in LIFECYCLE:
        assert (root / f"{alert}.md").is_file()
    rollback = (root / "model-rollback.md").read_text()
    for command in ("kubectl argo rollouts abort <model> -n <ns>",
                    "kubectl argo rollouts undo <model> -n <ns>",
                    "kubectl rollout undo deployment/<model> -n <ns>",
                    "llm-platform rollback --stack <stack> --model <model> --write",
                    "pulumi up -s <stack>"):
        assert command in rollback, command


def test_the_serving_dashboard_compares_canary_and_stable_by_revision(env):
    """TTFT p95, error ratio, GPU cost per request and (through the gateway's shadow phase)
    refusals, each a record of the rules, one line per revision."""
    from test_alert_series import selected_series

    from components.observability.dashboards import dashboard
    from components.observability.rules import prometheus_rules

    recorded = {r["record"] for groups in prometheus_rules(env, gateway=True).values()
                for g in groups for r in g["rules"] if "record" in r}
    board = dashboard("serving", "llm-mixed", gateway=True)
    row = [(p["title"], t) for p in board["panels"] if p["title"].startswith("Canary vs stable")
           for t in p["targets"]]
    exprs = " ".join(t["expr"] for _, t in row)
    for record in ("llm:ttft_seconds:p95", "llm:errors:ratio_rate5m",
                   "llm:usd_per_request:rate5m", "llm:gateway_shadow_refusals:ratio_rate15m"):
        assert record in exprs, record
    for title, target in row:
        assert selected_series(target["expr"]) <= recorded, title
        assert "{{revision}}" in target["legendFormat"], title
    assert not any(p["title"].startswith("Canary vs stable: shadow")
                   for p in dashboard("serving", "llm-mixed")["panels"])

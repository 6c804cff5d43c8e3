"""The rendered rules, checked and unit-tested with promtool; Alertmanager with amtool;
dashboard queries parsed by Prometheus' own parser; runbook links in both directions."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, STACKS, stack_spec
from test_alert_series import selected_series

from components.observability.dashboards import panel_queries
from components.observability.rules import alert_names, prometheus_rules
from components.spec import load_spec

RUNBOOKS = ROOT / "runbooks"
NOT_ALERTS = {"operations.md", "retraining-policy.md", "model-rollback.md"}
SCENARIOS = ROOT / "tests" / "alerts"


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} not installed: `make test` installs it (Debian package prometheus or prometheus-alertmanager)"
    return found


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=cwd)


def _kind(planned, kind: str) -> list[dict]:
    return [m for m in planned.manifests if m["kind"] == kind]


def _write_rules(planned, directory: Path) -> list[Path]:
    paths = []
    for obj in _kind(planned, "PrometheusRule"):
        path = directory / f"{obj['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump({"groups": obj["spec"]["groups"]}, sort_keys=False))
        paths.append(path)
    return paths


def _eval_order(groups: list[dict]) -> list[str]:
    """Rule groups with every group after the groups whose records it reads.

    Prometheus runs groups concurrently, so in production a chained rule lags by at most
    one evaluation interval. promtool instead evaluates groups one after another in map
    order, and at the coarse intervals of the multi-day scenarios a record read before it
    is written for that step is older than the 5-minute lookback: the alert would see
    nothing, on some runs only. Fixing the order keeps the unit tests deterministic."""
    writes = {g["name"]: {r["record"] for r in g["rules"] if "record" in r} for g in groups}
    needs = {
        g["name"]: {
            other for other, records in writes.items() if other != g["name"]
            and any(re.search(rf"\b{re.escape(rec)}\b", r["expr"]) for r in g["rules"]
                    for rec in records)
        }
        for g in groups
    }
    order: list[str] = []
    while len(order) < len(groups):
        ready = [n for n in needs if n not in order and needs[n] <= set(order)]
        assert ready, f"rule groups read each other's records in a cycle: {needs}"
        order += ready
    return order


def _alerts(planned) -> list[dict]:
    return [
        r for obj in _kind(planned, "PrometheusRule") for g in obj["spec"]["groups"]
        for r in g["rules"] if "alert" in r
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_promtool_check_rules_passes_on_every_rendered_group(planned, stack, tmp_path):
    paths = _write_rules(planned[stack], tmp_path)
    assert paths
    proc = _run(_tool("promtool"), "check", "rules", *map(str, paths))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_every_alert_is_labelled_annotated_and_linked(planned, stack):
    for rule in _alerts(planned[stack]):
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        ann = rule["annotations"]
        assert set(ann) == {"summary", "description", "runbook_url", "dashboard_url"}, name
        assert ann["runbook_url"].endswith(f"/runbooks/{name}.md"), name
        assert (RUNBOOKS / f"{name}.md").is_file(), f"no runbook for {name}"
        assert re.search(r"/d/llm-(serving|cost|quality|gpu)\?var-namespace=", ann["dashboard_url"])


def test_every_runbook_is_linked_from_an_alert(planned):
    linked = {rule["alert"] for p in planned.values() for rule in _alerts(p)}
    # the gateway's alerts, whether or not a stack renders a gateway
    linked |= alert_names(prometheus_rules(load_spec(stack_spec("local")), gateway=True))
    files = {p.name for p in RUNBOOKS.glob("*.md")}
    assert files >= NOT_ALERTS
    orphans = sorted(files - NOT_ALERTS - {f"{a}.md" for a in linked})
    assert not orphans, f"runbooks no alert links to: {orphans}"


def test_runbooks_have_the_sections_on_call_needs():
    for path in RUNBOOKS.glob("*.md"):
        if path.name in NOT_ALERTS:
            continue
        text = path.read_text()
        for section in ("## Meaning", "## Confirm", "## Mitigate", "## Escalate", "## Verify"):
            assert section in text, f"{path.name} lacks {section}"
        assert "kubectl" in text and "```promql" in text, path.name


def _expected(sc: dict, spec: dict) -> dict:
    """What the alert carries when it fires: the scenario's stated severity, labels, summary
    and description, with the labels every alert of the stack gets and the links the spec's
    base URLs give (runbook <base>/<Alert>.md, dashboard filtered to the namespace and, for
    a model's alert, the model)."""
    obs = spec["observability"]
    namespace = spec.get("cluster", {}).get("namespace") or f"llm-{spec['environment']}"
    query = f"var-namespace={namespace}"
    # A gateway alert takes its model label from the series, so its link cannot name it.
    if "model" in sc.get("labels", {}) and not sc["labels"].get("component"):
        query += f"&var-model={sc['labels']['model']}"
    return {
        "exp_labels": {"severity": sc["severity"], "environment": spec["environment"],
                       "namespace": namespace, **sc.get("labels", {})},
        "exp_annotations": {
            "summary": sc["summary"],
            "description": sc["description"],
            "runbook_url": f"{obs['runbook_base_url']}/{sc['alert']}.md",
            "dashboard_url": f"{obs['grafana_url']}/d/{sc['dashboard']}?{query}",
        },
    }


def _scenario_tests(sc: dict, expected: dict) -> list[dict]:
    """One promtool test group per fire and near-miss case of an alert."""
    return [
        {
            "name": f"{sc['alert']} {kind}: {case['name']}",
            "interval": case.get("interval", sc.get("interval", "1m")),
            "input_series": case["series"],
            "alert_rule_test": [{
                "eval_time": case["eval_time"],
                "alertname": sc["alert"],
                "exp_alerts": [expected] if kind == "fire" else [],
            }],
        }
        for kind in ("fire", "near_miss") for case in sc.get(kind, [])
    ]


def _rule_slice(groups: list[dict], alert: str) -> list[dict]:
    """The rendered groups cut down to one alert and the records it reads, directly or
    through other records, each rule as rendered. Rules interact only through records, so
    the alert behaves as in the full set, and promtool evaluates a handful of rules a step
    instead of every rule of the stack."""
    writers = {r["record"]: r for g in groups for r in g["rules"] if "record" in r}
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == alert]
    keep, todo = [rule], [rule]
    while todo:
        for name in selected_series(todo.pop()["expr"]):
            if name in writers and writers[name] not in keep:
                keep.append(writers[name])
                todo.append(writers[name])
    cut = [{**g, "rules": [r for r in g["rules"] if any(r is k for k in keep)]} for g in groups]
    return [g for g in cut if g["rules"]]


def _promtool_tests(files: list[str], cwd: Path) -> None:
    """All test files through two promtool processes, one per core."""
    procs = [
        subprocess.Popen([_tool("promtool"), "test", "rules", *files[i::2]], cwd=cwd, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for i in range(min(2, len(files)))
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-6000:]


def test_promtool_unit_tests_fire_and_near_miss_for_every_alert(planned, tmp_path):
    """Every alert of the `local` stack fires on a series that should raise it, with the
    labels and annotations stated in tests/alerts/local.yaml, and stays quiet on a near miss
    just on the safe side of its threshold: `promtool test rules` on the rendered rules."""
    local = planned["local"]
    groups = [g for obj in _kind(local, "PrometheusRule") for g in obj["spec"]["groups"]]
    scenarios = yaml.safe_load((SCENARIOS / "local.yaml").read_text())
    if any(r["alert"] == "GatewayDown" for r in _alerts(local)):
        scenarios += yaml.safe_load((SCENARIOS / "gateway.yaml").read_text())
    run_scenarios(groups, scenarios, stack_spec("local"), tmp_path)


def run_scenarios(groups: list[dict], scenarios: list[dict], spec: dict, tmp_path: Path) -> None:
    """Each scenario's fire and near-miss cases on the slice of `groups` its alert reads,
    after checking every alert of `groups` has both kinds of case."""
    rules = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    uncovered = sorted(set(rules) - {sc["alert"] for sc in scenarios
                                     if sc.get("fire") and sc.get("near_miss")})
    assert not uncovered, f"alerts without both a firing and a near-miss case: {uncovered}"
    files = []
    for sc in scenarios:
        assert sc["threshold"] in rules[sc["alert"]]["expr"], sc["alert"]
        cut = _rule_slice(groups, sc["alert"])
        (tmp_path / f"rules-{sc['alert']}.yaml").write_text(
            yaml.safe_dump({"groups": cut}, sort_keys=False))
        files.append(f"tests-{sc['alert']}.yaml")
        (tmp_path / files[-1]).write_text(yaml.safe_dump({
            "rule_files": [f"rules-{sc['alert']}.yaml"],
            "evaluation_interval": sc.get("evaluation_interval", "1m"),
            "group_eval_order": _eval_order(cut),
            "tests": _scenario_tests(sc, _expected(sc, spec)),
        }, sort_keys=False))
    _promtool_tests(files, tmp_path)


def _expr_test(planned, tmp_path, interval: str, series: list[dict], checks: list[dict]):
    paths = _write_rules(planned, tmp_path)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({
        "rule_files": [p.name for p in paths],
        "evaluation_interval": "1m",
        "tests": [{"interval": interval, "input_series": series, "promql_expr_test": checks}],
    }, sort_keys=False))
    proc = _run(_tool("promtool"), "test", "rules", "t.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_vllm_failed_request_counts_once_streamed_or_not(planned, tmp_path):
    """Pod a: 5 streamed requests/min fail after their 200 (engine finish "error", no 5xx).
    Pod b: 5 non-streamed ones fail as a 5xx that is also an engine "error" finish. Client
    aborts are no failures. 10 failed of 200 requests: 5%, not 2.5% or 7.5%."""
    ids = 'namespace="llm-local",model="assistant"'
    api = f'{ids},handler="/v1/chat/completions"'
    _expr_test(planned["local"], tmp_path, "1m", [
        {"series": f'http_requests_total{{{api},pod="a",status="2xx"}}', "values": "0+100x10"},
        {"series": f'vllm:request_success_total{{{ids},pod="a",finished_reason="error"}}',
         "values": "0+5x10"},
        {"series": f'vllm:request_success_total{{{ids},pod="a",finished_reason="abort"}}',
         "values": "0+3x10"},
        {"series": f'http_requests_total{{{api},pod="b",status="2xx"}}', "values": "0+95x10"},
        {"series": f'http_requests_total{{{api},pod="b",status="5xx"}}', "values": "0+5x10"},
        {"series": f'vllm:request_success_total{{{ids},pod="b",finished_reason="error"}}',
         "values": "0+5x10"},
    ], [
        {"expr": f"llm:slo_errors:ratio_rate5m{{{ids}}}", "eval_time": "8m",
         "exp_samples": [{"labels": f"llm:slo_errors:ratio_rate5m{{{ids}}}", "value": 0.05}]},
    ])


def test_tensorrt_llm_metrics_normalise_to_the_same_rules(planned, tmp_path):
    """Triton's queue, KV blocks, failures, latency summary and first-response histogram
    become the llm:* series the alerts read, for the TensorRT-LLM model of onprem-mixed.
    5 of 100 requests/min fail; Triton adds 2 per failed request to the ensemble's failure
    counter and 1 to the failing step's."""
    ids = 'namespace="llm-mixed",model="analyst"'
    entry = f'{ids},exported_model="ensemble"'
    ttft = f"nv_inference_first_response_histogram_ms_bucket{{{entry}"
    _expr_test(planned["onprem-mixed"], tmp_path, "1m", [
        {"series": f'nv_trt_llm_request_metrics{{{ids},request_type="waiting"}}', "values": "7x10"},
        {"series": f'nv_trt_llm_kv_cache_block_metrics{{{ids},kv_cache_block_type="used"}}', "values": "300x10"},
        {"series": f'nv_trt_llm_kv_cache_block_metrics{{{ids},kv_cache_block_type="max"}}', "values": "400x10"},
        {"series": f'nv_inference_request_success{{{entry}}}', "values": "0+95x10"},
        {"series": f'nv_inference_request_failure{{{entry},reason="OTHER"}}', "values": "0+10x10"},
        {"series": f'nv_inference_request_failure{{{ids},exported_model="tensorrt_llm",reason="BACKEND"}}',
         "values": "0+5x10"},
        # The inner models see the same requests; they must not be counted again.
        {"series": f'nv_inference_request_success{{{ids},exported_model="tensorrt_llm"}}', "values": "0+95x10"},
        {"series": f'nv_inference_request_summary_us{{{entry},quantile="0.950000"}}', "values": "1500000x10"},
        # prometheus-cpp writes integral bounds as "500" (or "500.000..." in older builds)
        {"series": f'{ttft},le="100"}}', "values": "0+10x10"},
        {"series": f'{ttft},le="500.00000000000000000"}}', "values": "0+50x10"},
        {"series": f'{ttft},le="2000"}}', "values": "0+75x10"},
        {"series": f'{ttft},le="5000"}}', "values": "0+100x10"},
        {"series": f'{ttft},le="+Inf"}}', "values": "0+100x10"},
        {"series": f"nv_inference_first_response_histogram_ms_count{{{entry}}}", "values": "0+100x10"},
    ], [
        {"expr": f"llm:requests_waiting{{{ids}}}", "eval_time": "8m",
         "exp_samples": [{"labels": f"llm:requests_waiting{{{ids}}}", "value": 7}]},
        {"expr": f"llm:kv_cache_usage:ratio{{{ids}}}", "eval_time": "8m",
         "exp_samples": [{"labels": f"llm:kv_cache_usage:ratio{{{ids}}}", "value": 0.75}]},
        {"expr": f"llm:slo_errors:ratio_rate5m{{{ids}}}", "eval_time": "8m",
         "exp_samples": [{"labels": f"llm:slo_errors:ratio_rate5m{{{ids}}}", "value": 0.05}]},
        {"expr": f"llm:e2e_seconds:p95{{{ids}}}", "eval_time": "8m",
         "exp_samples": [{"labels": f"llm:e2e_seconds:p95{{{ids}}}", "value": 1.5}]},
        # 25% of first responses slower than the 2000 ms SLO bound
        {"expr": f"llm:slo_ttft_slow:ratio_rate5m{{{ids}}}", "eval_time": "8m",
         "exp_samples": [{"labels": f"llm:slo_ttft_slow:ratio_rate5m{{{ids}}}", "value": 0.25}]},
        # p50 at 500 ms, interpolated inside the (100, 500] bucket
        {"expr": f"llm:ttft_seconds:p50{{{ids}}}", "eval_time": "8m",
         "exp_samples": [{"labels": f"llm:ttft_seconds:p50{{{ids}}}", "value": 0.5}]},
    ])


def test_tensorrt_llm_model_gets_a_ttft_burn_alert(planned, tmp_path):
    """The analyst model (Triton, TTFT p95 SLO 2000 ms, counted at Triton's 2000 ms bound)
    pages when 90% of its first responses are over 2000 ms for an hour: 18x the 5% budget,
    over the 14.4 x 0.05 = 0.72 line."""
    mixed = planned["onprem-mixed"]
    groups = [g for obj in _kind(mixed, "PrometheusRule") for g in obj["spec"]["groups"]]
    entry = 'namespace="llm-mixed",model="analyst",exported_model="ensemble"'
    hist = "nv_inference_first_response_histogram_ms"
    slow = "time-to-first-token over 2000 ms"
    expected = _expected({
        "alert": "ModelTTFTBudgetBurn", "severity": "critical", "dashboard": "llm-serving",
        "labels": {"model": "analyst", "slo": "ttft"},
        "summary": f"analyst: {slow} is burning the TTFT p95 2000 ms SLO budget fast",
        "description": f"analyst in llm-mixed: the {slow} ratio is over 14.4x the budget (0.05) "
                       "in the last 1h and 5m, or over 6x in the last 6h and 30m. At this rate "
                       "a 30-day budget is gone in days.",
    }, stack_spec("onprem-mixed"))
    cut = [g for g in groups if g["name"].startswith("llm-analyst.")]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": cut}, sort_keys=False))
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "group_eval_order": _eval_order(cut),
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": f'{hist}_bucket{{{entry},le="2000"}}', "values": "0+10x90"},
                {"series": f'{hist}_bucket{{{entry},le="+Inf"}}', "values": "0+100x90"},
                {"series": f"{hist}_count{{{entry}}}", "values": "0+100x90"},
            ],
            "alert_rule_test": [
                {"eval_time": "80m", "alertname": "ModelTTFTBudgetBurn", "exp_alerts": [expected]},
            ],
        }],
    }, sort_keys=False))
    proc = _run(_tool("promtool"), "test", "rules", "t.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("stack", STACKS)
def test_amtool_accepts_the_rendered_alertmanager_config(planned, stack):
    config = planned[stack].out / "alertmanager.yaml"
    proc = _run(_tool("amtool"), "check-config", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Found:" in proc.stdout  # amtool parsed a config, not an empty file


@pytest.mark.parametrize(("labels", "receiver"), [
    (["severity=critical", "environment=local", "alertname=ModelDown"], "pager"),
    (["severity=warning", "environment=local", "alertname=InputDrift"], "ticket"),
    (["severity=info", "environment=local", "alertname=Unknown"], "ticket"),
])
def test_alertmanager_routes_critical_to_the_pager_and_warnings_to_a_ticket(planned, labels, receiver):
    config = planned["local"].out / "alertmanager.yaml"
    proc = _run(_tool("amtool"), "config", "routes", "test", f"--config.file={config}", *labels)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == receiver


def test_receiver_credentials_are_files_never_values(planned):
    for p in planned.values():
        config = yaml.safe_load((p.out / "alertmanager.yaml").read_text())
        for receiver in config["receivers"]:
            text = json.dumps(receiver)
            assert "_file" in text, receiver["name"]
            assert "hooks.slack.com" not in text and "routing_key\"" not in text


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_reaches_the_plan_output(planned, stack):
    for path in planned[stack].out.rglob("*"):
        if path.is_file():
            assert "offline-plan-placeholder" not in path.read_text(), path
    secrets = _kind(planned[stack], "Secret")
    assert secrets
    for obj in secrets:
        assert set(obj["stringData"].values()) == {"[secret]"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_dashboard_panel_query_parses(planned, stack, tmp_path):
    """Each panel's PromQL, with Grafana's variables filled in, goes through promtool's
    parser as a recording rule."""
    boards = [
        json.loads(text)
        for cm in _kind(planned[stack], "ConfigMap")
        if cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
        for text in cm["data"].values()
    ]
    assert {b["uid"] for b in boards} == {"llm-serving", "llm-cost", "llm-quality", "llm-gpu"}
    rules = []
    for board in boards:
        for title, expr in panel_queries(board):
            filled = expr.replace("$namespace", "llm-x").replace("$model", ".+")
            assert "$" not in filled, (board["uid"], title)
            rules.append({"record": "panel:query", "expr": filled})
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    proc = _run(_tool("promtool"), "check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_serving_dashboard_shows_tokens_latency_queue_kv_and_replicas(planned):
    (cm,) = [c for c in _kind(planned["local"], "ConfigMap") if "llm-serving.json" in c.get("data", {})]
    exprs = " ".join(e for _, e in panel_queries(json.loads(cm["data"]["llm-serving.json"])))
    for series in ("llm:completion_tokens:rate5m", "llm:ttft_seconds:p50", "llm:ttft_seconds:p95",
                   "llm:ttft_seconds:p99", "llm:tpot_seconds:p95", "llm:e2e_seconds:p99",
                   "llm:requests_waiting", "llm:kv_cache_usage:ratio", "llm:replicas"):
        assert series in exprs, series

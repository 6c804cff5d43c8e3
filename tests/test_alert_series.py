"""Contract: every series an alerting or recording rule reads is produced in its stack, by a
recording rule of the stack or by an exporter the stack deploys, at that exporter's pinned
release. A typo in a series name in components/observability/rules.py (or an exporter
upgrade that renames a series) leaves an alert silently blind; this test names it.

PromQL selectors are pulled out by a small tokenizer (promtool can check rules but not list
what they select), itself tested on the shapes the rules use."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import STACKS, stack_spec

from components.catalog import versions
from components.catalog.engine_releases import engine_releases
from components.observability import metrics

# promql/parser/lex.go (prometheus v2.x/v3.x): binary-operator and modifier key words, and
# the aggregation operators, which may be followed by `by (...)`/`without (...)` instead of
# their parenthesised argument.
KEYWORDS = {"and", "or", "unless", "atan2", "bool", "offset", "start", "end", "inf", "nan"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATORS = {"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk",
               "bottomk", "count_values", "quantile", "limitk", "limit_ratio"}
_TOKEN = re.compile(r"""
    (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<num>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z0-9]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<open>[{(\[])
  | (?P<close>[})\]])
  | (?P<op>[^\s\w"'`{}()\[\]:]+)
  | (?P<ws>\s+)
""", re.VERBOSE)
_CLOSE = {"{": "}", "(": ")", "[": "]"}


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        assert m, f"cannot tokenize {expr[pos:pos + 20]!r} in {expr!r}"
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
        pos = m.end()
    return out


def _skip_group(toks: list[tuple[str, str]], i: int) -> int:
    """The index after the bracket closing the one at `i` (strings are single tokens, so a
    brace inside a label value's regex does not count)."""
    opener, depth = toks[i][1], 0
    for j in range(i, len(toks)):
        if toks[j][1] == opener:
            depth += 1
        elif toks[j][1] == _CLOSE[opener]:
            depth -= 1
            if depth == 0:
                return j + 1
    raise AssertionError(f"unbalanced {opener} in {' '.join(t for _, t in toks)}")


def _name_matchers(toks: list[tuple[str, str]]) -> set[str]:
    """`{__name__="x"}`: a selector that names its metric as a label."""
    return {toks[k + 2][1][1:-1] for k in range(len(toks) - 2)
            if toks[k][1] == "__name__" and toks[k + 1][1] == "=" and toks[k + 2][0] == "str"}


def selected_series(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions,
    aggregations, key words, label names or durations."""
    toks = _tokens(expr)
    names: set[str] = set()
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        after = toks[i + 1][1] if i + 1 < len(toks) else ""
        if text in ("{", "["):  # label matchers, range or subquery durations
            end = _skip_group(toks, i)
            names |= _name_matchers(toks[i:end]) if text == "{" else set()
            i = end
            continue
        i += 1
        if kind != "ident":
            continue
        word = text.lower()
        if word in GROUPING and after == "(":
            i = _skip_group(toks, i)  # a list of label names
        elif word == "offset":
            i += 2 if after == "-" else 1  # its duration
        elif word in KEYWORDS or after == "(" or (word in AGGREGATORS and after in GROUPING):
            continue
        else:
            names.add(text)
    return names


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (pod) (rate(vllm:request_success_total{model="a",finished_reason="error"}[5m] '
     'offset 1h)) / on (namespace) group_left () llm:x{a="b"} > 0.5',
     {"vllm:request_success_total", "llm:x"}),
    # a regex with braces inside a label value, and a label named like a metric
    ('avg(DCGM_FI_DEV_GPU_UTIL{namespace="n",pod=~"m-[a-z0-9]{5,10}-[a-z0-9]{5}"}) / 100',
     {"DCGM_FI_DEV_GPU_UTIL"}),
    ("time() - max(q_last{a='x}'}) > 2700 or absent(q_last{a=\"y\"})", {"q_last"}),
    ("scalar(24 * (day_of_month() - 1) + hour()) * vector(1.1) > bool 1e-9", set()),
    ("avg_over_time(llm:r{a=\"b\"}[7d:5m] offset -1h) unless on(pool) x_total @ start()",
     {"llm:r", "x_total"}),
    ('sum without (le) (h_bucket) and {__name__="named"} or topk by (pod) (3, y) + Inf - NaN',
     {"h_bucket", "named", "y"}),
    ("histogram_quantile(0.95, sum(rate(a_bucket[5m])) by (le)) atan2 b", {"a_bucket", "b"}),
])
def test_selected_series_skips_functions_keywords_matchers_and_durations(expr, names):
    assert selected_series(expr) == names


# dcgm-exporter's default counters (the image runs with them: no -f/collectors override in
# components/kubernetes/gpu_runtime/daemonsets.py), NVIDIA/dcgm-exporter
# etc/default-counters.csv at tag 3.3.9-3.6.1, read 2026-12-01.
DCGM_RELEASE = "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04"
DCGM_SERIES = frozenset({
    "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEMORY_TEMP",
    "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
    "DCGM_FI_PROF_PCIE_TX_BYTES", "DCGM_FI_PROF_PCIE_RX_BYTES",
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL",
    "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL", "DCGM_FI_DEV_XID_ERRORS",
    "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
    "DCGM_FI_DEV_VGPU_LICENSE_STATUS", "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_ROW_REMAP_FAILURE",
    "DCGM_FI_DRIVER_VERSION",
})
# kube-prometheus-stack 65.1.1 (charts/kube-prometheus-stack/Chart.yaml) depends on the
# kube-state-metrics chart 5.25.*, whose releases 5.25.0 and 5.25.1 both ship appVersion
# 2.13.0, with kubeStateMetrics.enabled: true in its values.yaml. The Deployment and Job
# families of kubernetes/kube-state-metrics internal/store/deployment.go and job.go at tag
# v2.13.0 (docs/metrics/workload/*.md agree), read 2026-12-01.
KUBE_PROMETHEUS_STACK = "65.1.1"
KSM_SERIES = frozenset({
    "kube_deployment_annotations", "kube_deployment_created", "kube_deployment_labels",
    "kube_deployment_metadata_generation", "kube_deployment_spec_paused",
    "kube_deployment_spec_replicas", "kube_deployment_spec_strategy_rollingupdate_max_surge",
    "kube_deployment_spec_strategy_rollingupdate_max_unavailable",
    "kube_deployment_status_condition", "kube_deployment_status_observed_generation",
    "kube_deployment_status_replicas", "kube_deployment_status_replicas_available",
    "kube_deployment_status_replicas_ready", "kube_deployment_status_replicas_unavailable",
    "kube_deployment_status_replicas_updated",
    "kube_job_annotations", "kube_job_complete", "kube_job_created", "kube_job_failed",
    "kube_job_info", "kube_job_labels", "kube_job_owner",
    "kube_job_spec_active_deadline_seconds", "kube_job_spec_completions",
    "kube_job_spec_parallelism", "kube_job_status_active", "kube_job_status_completion_time",
    "kube_job_status_failed", "kube_job_status_start_time", "kube_job_status_succeeded",
})
# Pushed to the stack's Pushgateway: by the quality monitor CronJob (components/quality/
# monitor.py push(), one gauge per score, left out when not computed), and by training jobs
# on each restart (the contract in runbooks/operations.md, "Training jobs").
QUALITY_SERIES = frozenset({
    "llm_quality_sample_size", "llm_quality_refusal_ratio", "llm_quality_output_tokens_mean",
    "llm_quality_output_length_ks", "llm_quality_input_mmd2", "llm_quality_input_pvalue",
    "llm_quality_last_run_timestamp_seconds",
})
# And by a training job's retraining trigger CronJob (components/training/trigger.py
# write_state: job retrain-trigger, grouped by training_job).
TRAINING_SERIES = frozenset({"llm_training_spot_interruptions_total", "llm_retraining_due"})
# Pushed by the model lifecycle's runtime (components/lifecycle/): the verify-weights init
# container (job model-verify, grouping model and revision: verify.py) and the eval gate
# (job eval-gate, grouping model, the revision and role as labels: evalgate.py).
LIFECYCLE_SERIES = frozenset({
    "llm_model_artifact_invalid", "llm_eval_gate_passed", "llm_eval_score",
})
# Exported by the Argo Rollouts controller at its pinned release, v1.9.0 (argoproj/
# argo-rollouts controller/metrics/prommetrics.go: rollout_info and the replica gauges,
# labels namespace and name, rollout_info also strategy, traffic_router and phase;
# rollouts.go collectRollouts), which chart argo-rollouts 2.41.0 (appVersion v1.9.0) runs
# and, with controller.metrics.enabled and controller.metrics.serviceMonitor.enabled,
# has Prometheus scrape (templates/controller/servicemonitor.yaml).
ARGO_ROLLOUTS_CHART = "2.41.0"
ROLLOUTS_SERIES = frozenset({
    "rollout_info", "rollout_info_replicas_available", "rollout_info_replicas_unavailable",
    "rollout_info_replicas_desired", "rollout_info_replicas_updated",
})
# Exported by the gateway's runtime (components/gateway/callbacks.py) on LiteLLM's /metrics/,
# with these labels besides the scrape target's: the issue 16 brief, contract 5. `up` is
# Prometheus' own series for every target the gateway's ServiceMonitor selects.
GATEWAY_SERIES = {
    "llm_gateway_requests_total": {"team", "model", "served_by", "code"},
    "llm_gateway_tokens_total": {"team", "model", "served_by", "direction"},
    "llm_gateway_spend_usd_total": {"team", "model", "served_by"},
    "llm_gateway_rate_limited_total": {"team", "model", "limit"},
    "llm_gateway_fallbacks_total": {"team", "model", "reason"},
    "llm_gateway_refusals_total": {"team", "model"},
    "llm_gateway_team_budget_usd": {"team"},
    "llm_gateway_team_spend_usd": {"team"},
    "llm_gateway_ceiling_usd": set(),
    "llm_gateway_spend_month_usd": set(),
    # Shadow traffic (issue 17): outcome ok|error|timeout, role incumbent|candidate.
    "llm_gateway_shadow_requests_total": {"model", "revision", "outcome"},
    "llm_gateway_shadow_score_sum": {"model", "revision"},
    "llm_gateway_shadow_score_count": {"model", "revision"},
    "llm_gateway_shadow_refusals_total": {"model", "revision", "role"},
}
SCRAPE_SERIES = frozenset({"up"})


def test_the_rules_know_the_gateway_series_of_the_contract():
    assert {k: set(v) for k, v in metrics.GATEWAY_SERIES.items()} == GATEWAY_SERIES


def test_the_exporter_lists_are_for_the_pinned_releases():
    """An upgrade of either pin must come with the exporter's list re-read at the new tag."""
    assert versions.image("dcgm-exporter") == DCGM_RELEASE
    assert versions.pin("kube-prometheus-stack").value == KUBE_PROMETHEUS_STACK


def _containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def exported_series(planned) -> set[str]:
    """The series the stack's own deployments export or push, engines aside."""
    kinds = {(m["kind"], m["metadata"]["name"]): m for m in planned.manifests}
    out: set[str] = set()
    if any(c["image"] == DCGM_RELEASE for (kind, _), m in kinds.items()
           if kind == "DaemonSet" for c in _containers(m)):
        out |= DCGM_SERIES
    stack_chart = [r["inputs"] for r in planned.plan["resources"]
                   if r["type"] == "kubernetes:helm.sh/v3:Release"
                   and r["inputs"]["chart"] == "kube-prometheus-stack"]
    if any(i["version"] == KUBE_PROMETHEUS_STACK
           and i["values"].get("kubeStateMetrics", {}).get("enabled", True) for i in stack_chart):
        out |= KSM_SERIES
    elif not stack_chart:
        # prometheus.mode existing: the cluster's Prometheus scrapes kube-state-metrics, a
        # prerequisite the README states (Observability and alerting, Alerts).
        out |= KSM_SERIES
    # `up`: Prometheus' own, for every target, the model servers' in every stack included
    out |= SCRAPE_SERIES
    if ("Deployment", "llm-gateway") in kinds:
        out |= set(GATEWAY_SERIES)
    if ("Deployment", "pushgateway") in kinds:
        out |= TRAINING_SERIES | LIFECYCLE_SERIES
        if ("CronJob", "quality-monitor") in kinds:
            out |= QUALITY_SERIES
    # a Helm release, or in render mode the chart rendered to objects (components/kubernetes/
    # helm.py install)
    if any(_scraped_rollouts_controller(r["inputs"]) for r in planned.plan["resources"]
           if r["type"] in ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")):
        out |= ROLLOUTS_SERIES
    return out


def _scraped_rollouts_controller(release: dict) -> bool:
    """The pinned Argo Rollouts chart with its controller's metrics and ServiceMonitor."""
    metrics = release.get("values", {}).get("controller", {}).get("metrics", {})
    return (release.get("chart") == "argo-rollouts"
            and release.get("version") == ARGO_ROLLOUTS_CHART
            and metrics.get("enabled") is True
            and metrics.get("serviceMonitor", {}).get("enabled") is True)


def rule_objects(planned) -> list[dict]:
    paths = sorted((planned.out / "manifests").glob("prometheusrule-*.yaml"))
    return [yaml.safe_load(p.read_text()) for p in paths]


def unproduced(planned, objects: list[dict]) -> list[str]:
    """`group/rule: series` for each series a rule reads that nothing in the stack makes."""
    releases = engine_releases()
    engines = {m["metadata"]["name"]: m["metadata"]["labels"]["llm-platform.dev/engine"]
               for m in planned.manifests if m["kind"] in ("Deployment", "Rollout")
               and "llm-platform.dev/engine" in m["metadata"]["labels"]}
    recorded = {r["record"] for obj in objects for g in obj["spec"]["groups"]
                for r in g["rules"] if "record" in r}
    exported = exported_series(planned)
    problems = []
    for obj in objects:
        model = obj["metadata"]["name"].removeprefix("llm-model-")
        engine = set(releases[engines[model]].metrics) if model in engines else set()
        for group in obj["spec"]["groups"]:
            for rule in group["rules"]:
                where = f"{group['name']}/{rule.get('alert') or rule['record']}"
                missing = selected_series(rule["expr"]) - recorded - exported - engine
                problems += [f"{where}: {name}" for name in sorted(missing)]
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_every_series_a_rule_reads_is_recorded_or_exported_in_its_stack(planned, stack):
    objects = rule_objects(planned[stack])
    assert len(objects) == 1 + len(stack_spec(stack)["models"]), [
        o["metadata"]["name"] for o in objects]
    rules = [r for o in objects for g in o["spec"]["groups"] for r in g["rules"]]
    assert all(selected_series(r["expr"]) for r in rules if "alert" in r)
    assert unproduced(planned[stack], objects) == []


@pytest.mark.parametrize(("series", "typo"), [
    ("kube_deployment_spec_replicas", "kube_deployment_spec_replica"),
    ("DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_FRE"),
    ("llm:requests:rate1h", "llm:request:rate1h"),
    ("llm_quality_last_run_timestamp_seconds", "llm_quality_last_run_timestamp"),
    ("llm:gpu_price_usd_per_hour", "llm:gpu_price_usd_hour"),
])
def test_a_misspelt_series_in_a_rule_is_reported(planned, series, typo):
    """The local stack's rules with one series name misspelt where an expression reads it,
    as a slip in rules.py would render them: the contract names the rule that reads it."""
    local = planned["local"]
    objects = rule_objects(local)
    readers = []
    for obj in objects:
        for group in obj["spec"]["groups"]:
            for rule in group["rules"]:
                if series in selected_series(rule["expr"]):
                    rule["expr"] = re.sub(rf"(?<![\w:]){re.escape(series)}(?![\w:])", typo, rule["expr"])
                    readers.append(f"{group['name']}/{rule.get('alert') or rule['record']}")
    assert readers, series
    assert unproduced(local, objects) == [f"{where}: {typo}" for where in readers]

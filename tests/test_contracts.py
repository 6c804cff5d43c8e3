"""Contracts between components, over every example stack's plan: what one component asks
for, another provides.

The HPA of each model scales on a custom metric; the Prometheus Adapter serves that metric
only when one of its rules turns a series into that name; the rule reads a series only
when the engine exports it. Each side is built by a different module, so each can change
without the others: these tests read the planned output and the stack file, and hold the
series to what the pinned engine release really exports (the table below, read in its
source), and the names to the adapter's own naming code (re-implemented here)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import CLI, STACKS, stack_spec, write_stack

# --- What each engine exports, at the release the stacks pin ---------------------------


@dataclass(frozen=True)
class QueueSeries:
    """The series an engine exports for requests waiting for a batch."""

    image: str  # the pin this row was read at; a new pin needs the source read again
    name: str
    labels: dict[str, str]  # the labels that tell the waiting queue from other values
    source: str
    # Other values of those labels, which the adapter's query must leave out.
    others: dict[str, tuple[str, ...]] = field(default_factory=dict)


QUEUE_SERIES = {
    "vllm": QueueSeries(
        "vllm/vllm-openai:v0.33.0", "vllm:num_requests_waiting", {},
        "vllm/v1/metrics/loggers.py, PrometheusStatLogger gauge_scheduler_waiting "
        "(name=\"vllm:num_requests_waiting\"), PyPI wheel vllm-0.33.0, read 2026-12-01"),
    "sglang": QueueSeries(
        "lmsysorg/sglang:v0.5.23", "sglang:num_queue_reqs", {},
        "sglang/srt/observability/metrics_collector.py, self.num_queue_reqs = "
        "Gauge(name=\"sglang:num_queue_reqs\"), PyPI wheel sglang-0.5.23, read 2026-12-01"),
    "tgi": QueueSeries(
        "ghcr.io/huggingface/text-generation-inference:3.3.7", "tgi_queue_size", {},
        "huggingface/text-generation-inference backends/v3/src/queue.rs:143,158 "
        "(metrics::gauge!(\"tgi_queue_size\")) and router/src/server.rs:2047, tag v3.3.7 "
        "(dfb3fbe7), read 2026-12-01"),
    "tensorrt-llm": QueueSeries(
        "nvcr.io/nvidia/tritonserver:25.05-trtllm-python-py3", "nv_trt_llm_request_metrics",
        {"request_type": "waiting"},
        "triton-inference-server/tensorrtllm_backend inflight_batcher_llm/src/"
        "custom_metrics_reporter/custom_metrics_reporter.cc:40 (request_keys_ ... "
        "\"waiting\") and :169 (\"nv_trt_llm_request_metrics\", label \"request_type\"), "
        "tag v0.19.0 (66a0624c), the backend of Triton 25.05; read 2026-12-01",
        {"request_type": ("active", "max", "scheduled", "context")}),
}

# Prometheus adds these to every scraped series (the ServiceMonitor's target labels).
SCRAPE_LABELS = {"namespace": "ns", "pod": "pod-0", "container": "server"}


# --- Prometheus Adapter v0.12.0 (the appVersion of chart prometheus-adapter 4.11.0) -------
# kubernetes-sigs/prometheus-adapter docs/config.md ("Naming") and
# pkg/naming/metric_namer.go NamersFromConfig / MetricNameForSeries, tag v0.12.0:
# `matches` defaults to ".*"; `as` defaults to "$0" without a capture group and "$1" with
# one; a series whose name the regexp does not find is not served; the served name is
# regexp.ExpandString(as) over the first match (not a replace of the whole name).


def _go_expand(template: str, m: re.Match[str]) -> str:
    """Go's Regexp.Expand: $name or ${name}, the name the longest run of letters, digits
    and '_'; a number is a group index; an unknown group is empty; $$ is '$'."""
    def one(ref: re.Match[str]) -> str:
        if ref.group(0) == "$$":
            return "$"
        name = ref.group(1) or ref.group(2)
        if name.isdigit():
            i = int(name)
            return (m.group(i) or "") if i <= (m.re.groups) else ""
        return (m.groupdict().get(name) or "")
    return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", one, template)


def adapter_name(rule: dict, series: str) -> str | None:
    """The custom-metrics name the adapter serves `series` under, or None if it skips it."""
    matches = rule.get("name", {}).get("matches") or ".*"
    regexp = re.compile(matches)
    # More than one group and no `as` is a config error in the adapter: a KeyError here.
    template = rule.get("name", {}).get("as") or {0: "$0", 1: "$1"}[regexp.groups]
    found = regexp.search(series)
    return None if found is None else _go_expand(template, found)


SELECTOR = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)\{(.*)\}$")
MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_selector(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    """`name{l="v",...}` as the name and its (label, op, value) matchers."""
    found = SELECTOR.match(text.strip())
    assert found, f"not a series selector: {text}"
    name, body = found.groups()
    matchers = MATCHER.findall(body)
    rebuilt = ",".join(f'{lbl}{op}"{val}"' for lbl, op, val in matchers)
    assert rebuilt == re.sub(r"\s", "", body), f"unparsed matchers in {text}"
    return name, matchers


def selects(matchers: list[tuple[str, str, str]], labels: dict[str, str]) -> bool:
    """PromQL matcher semantics: an absent label is the empty string; regexps anchor."""
    def holds(label: str, op: str, value: str) -> bool:
        have = labels.get(label, "")
        return {"=": have == value, "!=": have != value,
                "=~": re.fullmatch(value, have) is not None,
                "!~": re.fullmatch(value, have) is None}[op]
    return all(holds(*m) for m in matchers)


def metrics_query_selector(rule: dict, series: str) -> str:
    """The selector inside the rule's metricsQuery as the adapter fills it in for one pod
    (pkg/naming/metrics_query.go: <<.Series>>, <<.LabelMatchers>>, <<.GroupBy>>)."""
    query = (rule["metricsQuery"]
             .replace("<<.Series>>", series)
             .replace("<<.LabelMatchers>>", f'namespace="{SCRAPE_LABELS["namespace"]}",'
                                            f'pod=~"{SCRAPE_LABELS["pod"]}"')
             .replace("<<.GroupBy>>", "pod"))
    found = re.search(re.escape(series) + r"\{[^}]*\}", query)
    assert found, f"metricsQuery does not read {series}: {rule['metricsQuery']}"
    assert re.search(r"by \(pod\)", query), f"not per pod: {rule['metricsQuery']}"
    return found.group(0)


def test_adapter_naming_follows_the_adapters_own_examples():
    """The re-implementation against docs/config.md's example and metric_namer.go's
    defaults, so a wrong reading of the adapter fails here and not in a cluster."""
    docs_example = {"name": {"matches": "^(.*)_total$", "as": "${1}_per_second"}}
    assert adapter_name(docs_example, "http_requests_total") == "http_requests_per_second"
    assert adapter_name(docs_example, "http_requests") is None
    assert adapter_name({}, "vllm:num_requests_waiting") == "vllm:num_requests_waiting"
    assert adapter_name({"name": {"matches": "^(.*):(.*)$", "as": "${1}_$2"}},
                        "vllm:num_requests_waiting") == "vllm_num_requests_waiting"
    # Expand keeps only the template, not the unmatched rest of the name.
    assert adapter_name({"name": {"matches": "requests", "as": "q"}}, "vllm:requests_x") == "q"
    assert adapter_name({"name": {"matches": "^(a)$", "as": "$1x"}}, "a") == ""


# --- The plan, read as a user reviews it ------------------------------------------------


def _parents(plan: dict) -> dict[str, str]:
    return {r["urn"]: r.get("parent", "") for r in plan["resources"]}


def _layer(urn: str, parents: dict[str, str]) -> str:
    """The Kubernetes layer (one cluster, one provider) a resource belongs to."""
    while urn and "llm-platform:kubernetes:Layer::" not in urn:
        urn = parents.get(urn, "")
    return urn


def _adapters(plan: dict) -> dict[str, dict]:
    """Layer URN -> the Prometheus Adapter release's `rules` values."""
    parents = _parents(plan)
    return {_layer(r["urn"], parents): r["inputs"]["values"]["rules"]
            for r in plan["resources"]
            if r["type"].startswith("kubernetes:helm.sh/") and r["inputs"].get("chart") ==
            "prometheus-adapter"}


def _hpas(plan: dict, gateway: bool = False) -> list[dict]:
    """The model servers' HPAs, or the gateway's (which scales on CPU, not a queue)."""
    return [
        r for r in plan["resources"] if r["type"].endswith(":HorizontalPodAutoscaler")
        and (r["inputs"]["metadata"]["name"] == "llm-gateway") == gateway
    ]


def _served(rules: list[dict], series: QueueSeries) -> dict[str, dict]:
    """Adapter name -> rule, for each rule whose seriesQuery and metricsQuery select the
    engine's queue series and whose naming serves it."""
    labels = {**SCRAPE_LABELS, **series.labels}
    out = {}
    for rule in rules:
        name, matchers = parse_selector(rule["seriesQuery"])
        if name != series.name or not selects(matchers, labels):
            continue
        _, query_matchers = parse_selector(metrics_query_selector(rule, series.name))
        if not selects(query_matchers, labels) or any(
            selects(query_matchers, {**labels, label: other})
            for label, values in series.others.items() for other in values
        ):
            continue
        if (served := adapter_name(rule, series.name)) is not None:
            out[served] = rule
    return out


def _stack_models(stack: str) -> dict[str, dict]:
    return {m["name"]: m for m in stack_spec(stack)["models"]}


@pytest.mark.parametrize("stack", [s for s in STACKS if "gateway" in stack_spec(s)])
def test_gateway_hpa_scales_on_the_cpu_its_container_requests(planned, stack):
    """A Resource utilization target is a share of the container's request: without one the
    HPA has nothing to divide by and never scales."""
    p = planned[stack]
    (hpa,) = _hpas(p.plan, gateway=True)
    (metric,) = hpa["inputs"]["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    (deployment,) = [r for r in p.plan["resources"] if r["type"].endswith(":Deployment")
                     and r["inputs"]["metadata"]["name"] == "llm-gateway"]
    assert hpa["inputs"]["spec"]["scaleTargetRef"]["name"] == "llm-gateway"
    for container in deployment["inputs"]["spec"]["template"]["spec"]["containers"]:
        assert container["resources"]["requests"]["cpu"], container["name"]
    # A CPU utilization needs the Metrics API: EKS ships no Metrics Server, so the stack adds
    # the add-on (GKE and AKS run one; an on-prem cluster brings its own).
    addons = {r["inputs"].get("addonName") for r in p.plan["resources"]
              if r["type"] == "aws:eks/addon:Addon"}
    if stack == "aws":
        assert "metrics-server" in addons


@pytest.mark.parametrize("stack", STACKS)
def test_every_hpa_metric_is_served_from_its_engines_queue_series(planned, stack):
    p = planned[stack]
    models = _stack_models(stack)
    adapters = _adapters(p.plan)
    parents = _parents(p.plan)
    hpas = _hpas(p.plan)
    assert {h["inputs"]["spec"]["scaleTargetRef"]["name"] for h in hpas} == set(models)
    for hpa in hpas:
        spec = hpa["inputs"]["spec"]
        engine = models[spec["scaleTargetRef"]["name"]]["engine"]
        series = QUEUE_SERIES[engine["kind"]]
        assert engine["image"] == series.image, (
            f"{stack}: {engine['image']} is not the release {series.source} was read at")
        layer = _layer(hpa["urn"], parents)
        assert layer in adapters, f"{stack}: no Prometheus Adapter in the cluster of {hpa['name']}"
        rules = adapters[layer]
        # The chart writes rules.custom into the adapter's config only without
        # rules.existing (templates/configmap.yaml, prometheus-adapter chart).
        assert "existing" not in rules
        served = _served(rules["custom"], series)
        (metric,) = spec["metrics"]
        assert metric["type"] == "Pods", "a Pods metric is served from rules.custom"
        name = metric["pods"]["metric"]["name"]
        assert name in served, (
            f"{stack} {hpa['name']}: HPA asks for {name!r}; the adapter serves "
            f"{series.name} as {sorted(served)}")
        # A Pods metric is looked up per pod in the HPA's namespace.
        assert served[name]["resources"]["overrides"] == {
            "namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
        wanted = metric["pods"]["metric"].get("selector", {}).get("matchLabels", {})
        assert wanted.items() <= {**SCRAPE_LABELS, **series.labels}.items()


def _rule(series: str, as_: str, extra: str = "") -> dict:
    return {"seriesQuery": f'{series}{{namespace!="",pod!=""{extra}}}',
            "name": {"matches": f"^{series}$", "as": as_},
            "metricsQuery": f"sum(<<.Series>>{{<<.LabelMatchers>>{extra}}}) by (<<.GroupBy>>)",
            "resources": {"overrides": {"namespace": {"resource": "namespace"},
                                        "pod": {"resource": "pod"}}}}


@pytest.mark.parametrize("rule, served", [
    (_rule("nv_trt_llm_request_metrics", "q", ',request_type="waiting"'), ["q"]),
    # The queue's other values (active, max, ...) would scale on running requests.
    (_rule("nv_trt_llm_request_metrics", "q", ',request_type="active"'), []),
    # Without the filter the query sums every request_type: running, capacity and all.
    (_rule("nv_trt_llm_request_metrics", "q"), []),
    # A name the adapter's regexp does not find is never served.
    ({**_rule("nv_trt_llm_request_metrics", "q"), "name": {"matches": "^trtllm$"}}, []),
])
def test_served_series_follow_the_label_filters(rule, served):
    assert sorted(_served([rule], QUEUE_SERIES["tensorrt-llm"])) == served


@pytest.mark.parametrize("kind", sorted(QUEUE_SERIES))
def test_each_engines_adapter_rule_serves_the_metric_its_hpa_asks_for(kind):
    """The same contract without a plan, per engine, so it runs in the mutation tests."""
    from components.engines import ENGINES

    engine = ENGINES[kind]
    assert set(ENGINES) == set(QUEUE_SERIES)
    assert list(_served([engine.adapter_rule()], QUEUE_SERIES[kind])) == [engine.queue_metric]


# --- A peak the pool cannot hold ---------------------------------------------------------


def _over_peak_spec() -> dict:
    """The local stack serving Qwen2.5-32B from a pool of three 2x L40S nodes.

    TP: 32.5e9 parameters (components/catalog/models.yaml, the Hub's count) x 2 bytes =
    60.5 GiB of bf16 weights, more than 0.9 x 44.99 GiB = 40.5 GiB of one L40S (gpus.yaml:
    46068 MiB); two GPUs hold 30.3 GiB each, and one 16384-token context needs 16384 x
    (64 layers x 8 KV heads x 128 x 2 (K and V) x 2 bytes / 2 GPUs = 128 KiB) = 2 GiB of
    the 10.2 GiB left, with room for activations. The TTFT SLO is loose enough that
    prefill does not push TP further. So TP 2.
    Peak: a replica runs at most 256 sequences (sizing.MAX_NUM_SEQS_CAP), so 2000 at once
    need at least ceil(2000 / 256) = 8 replicas x 2 GPUs = 16 GPUs; the pool has 3 x 2 = 6."""
    raw = stack_spec("local")
    raw["gpu_pools"][0].update(gpus_per_node=2, min_nodes=1, max_nodes=3)
    (model,) = raw["models"]
    model["hf_id"] = "Qwen/Qwen2.5-32B-Instruct"
    model["slo"] = {"ttft_p95_ms": 10000, "peak_concurrent_requests": 2000}
    model["weights"]["size_gib"] = 100  # holds the 60.5 GiB of weights
    return raw


POOL_GPUS = 3 * 2  # max_nodes x gpus_per_node
TP = 2
CAP = POOL_GPUS // TP  # = 3 replicas


def test_a_peak_beyond_the_pool_plans_capped_replicas_and_says_so(scratch_project):
    write_stack(scratch_project, "over", _over_peak_spec())
    out = scratch_project / "out"
    proc = subprocess.run([*CLI, "plan", "--stack", "over", "--out", str(out), "--no-policy"],
                          cwd=scratch_project, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "400"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = " ".join((proc.stdout + proc.stderr).split())
    assert ("llm-platform:spec.models[0].slo.peak_concurrent_requests: peak needs" in printed
            and f"but pool 'l40s' has {POOL_GPUS}; autoscaling is capped at {CAP} replicas"
            in printed), printed
    manifests = {(d["kind"], d["metadata"]["name"]): d for d in map(
        yaml.safe_load, map(Path.read_text, (out / "manifests").glob("*.yaml")))}
    hpa = manifests["HorizontalPodAutoscaler", "assistant"]["spec"]
    assert hpa["maxReplicas"] == CAP
    (c,) = manifests["Deployment", "assistant"]["spec"]["template"]["spec"]["containers"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == str(TP)
    # At the cap every pool GPU is taken (3 x 2 = 6), so a rollout cannot surge a pod.
    strategy = manifests["Deployment", "assistant"]["spec"]["strategy"]
    assert strategy["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    # "Scaled out to its maximum" means the cap, or the alert would never fire.
    rules = manifests["PrometheusRule", "llm-model-assistant"]["spec"]["groups"]
    (saturated,) = [r for g in rules for r in g["rules"]
                    if r.get("alert") == "ModelQueueSaturated"]
    assert saturated["expr"].endswith(f">= {CAP}")
    assert f"runs its maximum {CAP} replica(s)" in saturated["annotations"]["description"]


def test_the_spec_caps_the_replicas_in_process():
    """The same cap without the CLI, so mutation tests of the spec checks reach it."""
    from components.spec import load_spec

    env = load_spec(_over_peak_spec())
    plan = env.plans["assistant"]
    assert (plan.tensor_parallel, plan.replicas_max) == (TP, CAP)
    (warning,) = env.warnings
    assert warning.endswith(f"has {POOL_GPUS}; autoscaling is capped at {CAP} replicas")

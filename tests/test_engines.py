"""The engines against their pinned releases: every flag we pass and every metric name we
query exists in that release (lists in components/catalog/engines.yaml, generated from the
release's source); Triton's MPI ranks; the shutdown budget."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, replace
from typing import get_args

import pytest
import yaml
from conftest import ROOT, STACKS, stack_spec
from test_alert_rules import _alerts, _run, _tool, _write_rules

from components import catalog
from components.catalog.engine_releases import engine_releases
from components.engines import ENGINES, TritonTrtllm, Vllm
from components.kubernetes.monitoring.charts import _adapter_rules
from components.observability.metrics import (
    ENGINE_SERIES,
    GATEWAY_JOB,
    GATEWAY_SERIES,
    Selector,
    ttft_bucket,
)
from components.sizing import MemoryBudget, ServingInputs, ServingPlan, plan_serving
from components.spec import SpecError, load_spec
from components.spec.types import Engine as EngineSpec

RELEASES = engine_releases()
# Series of other exporters (DCGM, kube-state-metrics, our Pushgateway, the Argo Rollouts
# controller), Prometheus' own `up` of every target, and our own recording rules: not
# engine metrics (tests/test_alert_series.py holds each to its source).
NOT_ENGINE = re.compile(
    r"^(llm:|llm_quality_|llm_training_|llm_retraining_|llm_model_|llm_eval_|rollout_info|DCGM_|kube_|up$)"
)
# Words PromQL reserves that look like metric names.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "inf", "nan"}
# The gateway's series are our runtime's contract (components/gateway/, issue 16), not an
# engine's: no pinned release lists them. tests/test_gateway_proxy.py proves the running
# gateway exports exactly these names and labels
# (test_the_metrics_the_alerts_read_are_exposed_under_the_contract_names). Admitted by name,
# so a misspelt llm_gateway_* series still fails, and only where the stack has a gateway.
# Labels a gateway series may be selected on: its own and the scrape target's.
GATEWAY_TARGET_LABELS = {"namespace", "job"}


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+\w+", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        word, call = m.group(1), m.group(2)
        if not call and word.lower() not in KEYWORDS:
            names.add(word)
    return names


def selected_values(expr: str) -> set[tuple[str, str, str]]:
    """(metric, label, value) for every `label="value"` matcher on a named series."""
    out = set()
    for m in re.finditer(r"([A-Za-z_:][\w:]*)\{([^}]*)\}", expr):
        for label, value in re.findall(r'(\w+)="([^"]*)"', m.group(2)):
            out.add((m.group(1), label, value))
    return out


def test_metric_names_are_parsed_out_of_promql():
    expr = ('sum by (pod) (rate(vllm:request_success_total{model="a",finished_reason="error"}'
            '[5m] offset 1h)) / on (namespace) group_left () llm:x{a="b"} > 0.5 and '
            'histogram_quantile(0.9, sum by (le) (rate(nv_x_bucket{le=~"5(\\\\.0+)?"}[1m])))')
    assert metric_names(expr) == {"vllm:request_success_total", "llm:x", "nv_x_bucket"}
    assert ("vllm:request_success_total", "finished_reason", "error") in selected_values(expr)


def _check_against(release, expr: str, where: str) -> list[str]:
    problems = []
    for name in metric_names(expr) - {n for n in metric_names(expr) if NOT_ENGINE.match(n)}:
        if name not in release.metrics:
            problems.append(f"{where}: {name} is not exported by {release.id} {release.release}")
    for name, label, value in selected_values(expr):
        allowed = release.metrics.get(name, {}).get(label)
        if allowed is not None and value not in allowed:
            problems.append(f"{where}: {name}{{{label}={value!r}}} never written ({allowed})")
    return problems


def _models(stack: str) -> dict[str, dict]:
    return {m["name"]: m for m in stack_spec(stack)["models"]}


def _has_gateway(stack: str) -> bool:
    return stack_spec(stack).get("gateway") is not None


def _gateway_problems(expr: str, where: str) -> list[str]:
    """Labels selected on a gateway series that the contract does not give it."""
    problems = []
    for m in re.finditer(r"([A-Za-z_:][\w:]*)\{([^}]*)\}", expr):
        if m.group(1) in GATEWAY_SERIES:
            labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", m.group(2)))
            extra = labels - set(GATEWAY_SERIES[m.group(1)]) - GATEWAY_TARGET_LABELS
            if extra:
                problems.append(f"{where}: {m.group(1)} has no label {sorted(extra)}")
    return problems


def _scrapes_the_gateway(expr: str) -> bool:
    """`up` of the gateway's ServiceMonitor target (its job is the Service's name)."""
    return ("up", "job", GATEWAY_JOB) in selected_values(expr)


@pytest.mark.parametrize("stack", STACKS)
def test_stacks_pin_the_engine_releases_the_lists_come_from(stack):
    for model in _models(stack).values():
        assert model["engine"]["image"] == RELEASES[model["engine"]["kind"]].image, model["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_engine_flag_exists_in_the_pinned_release(planned, stack):
    deployments = [m for m in planned[stack].manifests if m["kind"] == "Deployment"
                   and "llm-platform.dev/engine" in m["metadata"]["labels"]]
    assert deployments
    for dep in deployments:
        release = RELEASES[dep["metadata"]["labels"]["llm-platform.dev/engine"]]
        (server,) = dep["spec"]["template"]["spec"]["containers"]
        cmd = server["command"]
        if cmd[0] == "mpirun":  # the launcher's own options come before the first rank
            cmd = cmd[cmd.index("-n"):]
        flags = {a.split("=", 1)[0] for a in cmd if a.startswith("--")}
        assert flags, dep["metadata"]["name"]
        unknown = sorted(flags - set(release.flags))
        assert not unknown, f"{dep['metadata']['name']}: {unknown} not in {release.release}"


@pytest.mark.parametrize("stack", STACKS)
def test_every_metric_in_rules_and_dashboards_exists_in_the_pinned_release(planned, stack):
    models = _models(stack)
    gateway = set(GATEWAY_SERIES) if _has_gateway(stack) else set()
    problems: list[str] = []
    checked = 0
    for obj in planned[stack].manifests:
        if obj["kind"] == "PrometheusRule":
            model = obj["metadata"]["name"].removeprefix("llm-model-")
            kinds = [models[model]["engine"]["kind"]] if model in models else []
            for group in obj["spec"]["groups"]:
                for rule in group["rules"]:
                    where = f"{group['name']}/{rule.get('record') or rule.get('alert')}"
                    for kind in kinds:
                        problems += _check_against(RELEASES[kind], rule["expr"], where)
                        checked += 1
                    if not kinds:  # environment rules read no engine series
                        # ... but the gateway's, where there is one, and whether it is up
                        up = {"up"} if gateway and _scrapes_the_gateway(rule["expr"]) else set()
                        names = metric_names(rule["expr"]) - gateway - up
                        assert all(NOT_ENGINE.match(n) for n in names), where
                        problems += _gateway_problems(rule["expr"], where)
        if obj["kind"] == "ConfigMap" and "grafana_dashboard" in obj["metadata"]["labels"]:
            for board in obj["data"].values():
                for panel in json.loads(board)["panels"]:
                    for target in panel["targets"]:
                        names = metric_names(target["expr"])
                        # panels read the llm:* records, DCGM and the Pushgateway only
                        assert all(NOT_ENGINE.match(n) for n in names), target["expr"]
    assert checked >= 30 * len(models)  # every model group was read
    assert not problems, "\n".join(problems)


def test_adapter_and_hpa_metrics_exist_in_the_pinned_release():
    by_name = {r["name"]["as"]: r for r in _adapter_rules()}
    for engine in ENGINES.values():
        rule = by_name[engine.queue_metric]  # the HPA's metric is served by a rule
        release = RELEASES[engine.name]
        problems = _check_against(release, rule["seriesQuery"], engine.queue_metric)
        problems += _check_against(
            release, rule["metricsQuery"].replace("<<.Series>>", rule["seriesQuery"].split("{")[0])
            .replace("<<.LabelMatchers>>", "").replace("<<.GroupBy>>", "pod"),
            engine.queue_metric,
        )
        assert metric_names(rule["seriesQuery"]) <= set(release.metrics)
        assert not problems, problems
    assert by_name["trtllm_requests_waiting"]["seriesQuery"].endswith('request_type="waiting"}')


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_hpas_scale_on_a_series_of_their_engines_release(planned, stack):
    by_name = {r["name"]["as"]: r for r in _adapter_rules()}
    # The model servers' HPAs; the gateway's scales on CPU (tests/test_contracts.py).
    hpas = [m for m in planned[stack].manifests if m["kind"] == "HorizontalPodAutoscaler"
            and m["metadata"]["name"] != "llm-gateway"]
    assert hpas
    for hpa in hpas:
        release = RELEASES[hpa["metadata"]["labels"]["llm-platform.dev/engine"]]
        for metric in hpa["spec"]["metrics"]:
            rule = by_name[metric["pods"]["metric"]["name"]]
            assert metric_names(rule["seriesQuery"]) <= set(release.metrics), rule
            assert not _check_against(release, rule["seriesQuery"], hpa["metadata"]["name"])


# The flag that bounds each engine's drain on SIGTERM (SGLang has none).
DRAIN_FLAGS = ("--shutdown-timeout=", "--exit-timeout-secs=", "--graceful-termination-timeout=")


def _plan(tp: int, drain_s: int = 180) -> ServingPlan:
    budget = MemoryBudget(80, 72, 40, 2, 2, 28, 320_000, 90_000, 8192, 10.0)
    return ServingPlan(
        gpu="h100", tensor_parallel=tp, budget=budget, max_num_seqs=64,
        max_num_batched_tokens=8192, replicas_min=1, replicas_max=2, prefill_ms=100.0,
        decode_ms_per_token=10.0, startup_budget_s=900, drain_s=drain_s,
        gpu_memory_utilization=0.9, prefix_caching=True, engine_args=[],
    )


def _ranks(cmd: list[str]) -> list[list[str]]:
    assert cmd[0] == "mpirun"
    start = cmd.index("-n")
    blocks, current = [], []
    for arg in cmd[start:]:
        if arg == ":":
            blocks.append(current)
            current = []
        else:
            current.append(arg)
    blocks.append(current)
    for block in blocks:
        assert block[:3] == ["-n", "1", "tritonserver"], block[:3]
    return [b[2:] for b in blocks]


def test_triton_tp2_runs_one_server_per_rank_with_its_own_shm_and_endpoints_on_rank0_only():
    ranks = _ranks(TritonTrtllm().command("/models/m", "m", _plan(tp=2)))
    assert len(ranks) == 2
    prefixes = [a for r in ranks for a in r if "shm-region-prefix-name" in a]
    assert prefixes == ["--backend-config=python,shm-region-prefix-name=prefix0_",
                        "--backend-config=python,shm-region-prefix-name=prefix1_"]
    off = {"--allow-http=false", "--allow-grpc=false", "--allow-metrics=false"}
    assert not off & set(ranks[0]) and "--model-control-mode=explicit" not in ranks[0]
    assert off <= set(ranks[1])
    assert "--model-control-mode=explicit" in ranks[1]
    assert [a for a in ranks[1] if a.startswith("--load-model")] == ["--load-model=tensorrt_llm"]


def test_mpirun_lets_rank0_drain_before_it_kills_the_ranks():
    plan = _plan(tp=2, drain_s=240)
    cmd = TritonTrtllm().command("/models/m", "m", plan)
    mca = cmd[1:4]
    assert mca[:2] == ["--mca", "odls_base_sigkill_timeout"] and int(mca[2]) > 240
    assert int(mca[2]) < TritonTrtllm().shutdown(plan).grace_s  # the kubelet waits longer


def test_triton_tp4_gives_every_rank_a_distinct_prefix():
    ranks = _ranks(TritonTrtllm().command("/models/m", "m", _plan(tp=4)))
    prefixes = {a for r in ranks for a in r if "shm-region-prefix-name" in a}
    assert len(ranks) == 4 and len(prefixes) == 4


def test_triton_tp1_is_a_plain_server_with_ttft_histograms():
    cmd = TritonTrtllm().command("/models/m", "m", _plan(tp=1))
    assert cmd[0] == "tritonserver" and "mpirun" not in cmd
    assert "--metrics-config=histogram_latencies=true" in cmd
    assert TritonTrtllm.build_parameters(_plan(tp=1))["decoupled_mode"] == "true"


@pytest.mark.parametrize("engine", [Vllm(), TritonTrtllm()], ids=lambda e: e.name)
def test_grace_period_covers_prestop_and_the_engine_drain(engine):
    plan = _plan(tp=1, drain_s=240)
    cmd = engine.command("/models/m", "m", plan)
    flag = "--shutdown-timeout=" if engine.name == "vllm" else "--exit-timeout-secs="
    (drain,) = [int(a.split("=")[1]) for a in cmd if a.startswith(flag)]
    assert drain == 240
    stop = engine.shutdown(plan)
    assert stop.grace_s >= stop.prestop_s + drain + 1  # a margin for teardown
    assert stop.prestop_s >= 5


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_pods_get_a_grace_period_beyond_prestop_plus_drain(planned, stack):
    for dep in planned[stack].manifests:
        if dep["kind"] != "Deployment" or "llm-platform.dev/engine" not in dep["metadata"]["labels"]:
            continue
        spec = dep["spec"]["template"]["spec"]
        (server,) = spec["containers"]
        prestop = server["lifecycle"]["preStop"]["sleep"]["seconds"]
        drains = [int(a.split("=")[1]) for a in server["command"] if a.startswith(DRAIN_FLAGS)]
        if dep["metadata"]["labels"]["llm-platform.dev/engine"] == "sglang":
            # no drain flag: SGLang drains until idle, bounded by the grace period alone,
            # which covers at least sizing's 120 s drain and a teardown margin
            assert not drains and spec["terminationGracePeriodSeconds"] >= prestop + 120 + 30
            continue
        assert drains and min(drains) >= 60, dep["metadata"]["name"]
        assert spec["terminationGracePeriodSeconds"] > prestop + max(drains), dep["metadata"]["name"]


def test_runbook_queries_name_engine_series_of_the_pinned_releases():
    """On-call copies these queries; an engine series they name must exist. The gateway's
    runbooks name its series, of the contract (GATEWAY_SERIES), in the stacks that have one."""
    assert any(_has_gateway(s) for s in STACKS)
    problems, seen = [], 0
    for path in sorted((ROOT / "runbooks").glob("*.md")):
        for block in re.findall(r"```promql\n(.*?)```", path.read_text(), re.S):
            for line in block.splitlines():
                problems += _gateway_problems(line, path.name)
                names = {n for n in metric_names(line) if not NOT_ENGINE.match(n)}
                names -= {"up"} | set(GATEWAY_SERIES)
                seen += len(names)
                for name in names:
                    owners = [r for r in RELEASES.values() if name in r.metrics]
                    if not owners:
                        problems.append(f"{path.name}: {name}")
                    for release in owners:
                        problems += _check_against(release, line, path.name)
    assert seen >= 3
    assert not problems, problems


def test_an_image_other_than_the_pinned_release_is_warned_about():
    raw = copy.deepcopy(stack_spec("local"))
    assert not any("engine flags and metric names" in w for w in load_spec(raw).warnings)
    raw["models"][0]["engine"]["image"] = "vllm/vllm-openai:v0.11.0"
    (warning,) = [w for w in load_spec(raw).warnings if "engine flags and metric names" in w]
    assert warning.startswith("llm-platform:spec.models[0].engine.image: ")
    assert "vllm/vllm-openai:v0.33.0" in warning and "v0.11.0" in warning


# --- the engine interface, one method at a time ---------------------------------------

@pytest.mark.parametrize("engine", list(ENGINES.values()), ids=lambda e: e.name)
def test_each_engine_series_feeds_llm_names_from_its_release_only(engine):
    series = engine.metrics(Selector("ns", "m"))
    recorded = series.series()
    assert set(recorded) <= set(ENGINE_SERIES), set(recorded) - set(ENGINE_SERIES)
    # the HPA, the queue alert and the cost records need these whatever the engine
    assert {"llm:requests:rate1h", "llm:requests_waiting", "llm:kv_cache_usage:ratio"} <= set(
        recorded)
    release = RELEASES[engine.name]
    exprs = {**recorded, "errors": series.error_ratio("5m")}
    if series.ttft_buckets_ms:
        exprs["slow"] = series.slow_ttft_ratio("5m", series.ttft_buckets_ms[0])
    for name, expr in exprs.items():
        assert 'namespace="ns",model="m"' in expr, name
        assert not _check_against(release, expr, name)
        assert {n for n in metric_names(expr) if not NOT_ENGINE.match(n)}, name


def test_triton_feeds_no_token_or_cache_counters_it_does_not_export():
    triton = set(TritonTrtllm().metrics(Selector("ns", "m")).series())
    vllm = set(Vllm().metrics(Selector("ns", "m")).series())
    assert vllm == set(ENGINE_SERIES)
    assert vllm - triton == {
        "llm:prompt_tokens:rate5m", "llm:completion_tokens:rate5m", "llm:tpot_seconds:p50",
        "llm:tpot_seconds:p95", "llm:tpot_seconds:p99", "llm:prefix_cache_hit:ratio_rate5m",
        "llm:preemptions:rate5m", "llm:output_tokens:mean1h", "llm:output_tokens:mean7d",
    }


def test_vllm_ttft_slo_is_counted_at_the_bucket_under_the_slo():
    series = Vllm().metrics(Selector("ns", "m"))
    # vLLM's bounds around 1.8 s are 1.0 and 2.5 s: the SLO counts at 1.0 s
    assert ttft_bucket(1800, series.ttft_buckets_ms) == 1000
    assert 'le="1.0"' in series.slow_ttft_ratio("5m", 1000)
    triton = TritonTrtllm().metrics(Selector("ns", "m"))
    assert ttft_bucket(1800, triton.ttft_buckets_ms) == 500  # Triton's 100/500/2000/5000 ms


def test_adapter_rules_are_the_engines_own_one_each():
    assert _adapter_rules() == [e.adapter_rule() for e in ENGINES.values()]
    assert [r["name"]["as"] for r in _adapter_rules()] == [e.queue_metric for e in ENGINES.values()]
    vllm, triton = Vllm().adapter_rule(), TritonTrtllm().adapter_rule()
    assert vllm["seriesQuery"] == 'vllm:num_requests_waiting{namespace!="",pod!=""}'
    assert vllm["name"] == {"matches": "^vllm:num_requests_waiting$",
                            "as": "vllm_num_requests_waiting"}
    assert vllm["metricsQuery"] == "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"
    assert triton["seriesQuery"] == (
        'nv_trt_llm_request_metrics{namespace!="",pod!="",request_type="waiting"}')
    assert triton["metricsQuery"] == (
        'sum(<<.Series>>{<<.LabelMatchers>>,request_type="waiting"}) by (<<.GroupBy>>)')
    assert triton["resources"]["overrides"]["pod"] == {"resource": "pod"}


def test_vllm_args_are_the_plan_as_flags():
    plan = replace(_plan(tp=2), kv_cache_dtype="fp8", prefix_caching=False,
                   gpu_memory_utilization=0.85)
    assert Vllm().args(plan) == [
        "--tensor-parallel-size=2", "--max-model-len=8192", "--max-num-seqs=64",
        "--max-num-batched-tokens=8192", "--gpu-memory-utilization=0.85",
        "--kv-cache-dtype=fp8", "--no-enable-prefix-caching",
    ]
    assert Vllm().args(replace(plan, quantize_at_load="awq"))[-1] == "--quantization=awq"


def test_the_plan_carries_the_engines_args_and_quantizes_only_unquantized_checkpoints():
    arch = catalog.models()["meta-llama/Llama-3.1-8B-Instruct"]
    gpu = catalog.gpus()["L40S"]
    inputs = dict(max_context=8192, quantization="fp8", native_quantization=None,
                  kv_cache_dtype="auto", gpu_memory_utilization=0.9, prefix_caching=True,
                  ttft_p95_ms=2000, peak_concurrent_requests=64, conversations_per_day=10000,
                  prompt_tokens_per_turn=1000, completion_tokens_per_turn=200,
                  turns_per_conversation=3)
    plan = plan_serving(arch, gpu, 1, ServingInputs(**inputs), Vllm())
    assert plan.engine_args == Vllm().args(plan) and "--quantization=fp8" in plan.engine_args
    native = plan_serving(arch, gpu, 1, ServingInputs(**{**inputs, "native_quantization": "fp8"}),
                          Vllm())
    assert native.quantize_at_load is None
    assert not [a for a in native.engine_args if a.startswith("--quantization")]


def test_sizing_says_when_its_memory_model_is_not_the_engines():
    arch = catalog.models()["meta-llama/Llama-3.1-8B-Instruct"]
    gpu = catalog.gpus()["H100-80GB"]
    inputs = ServingInputs(
        max_context=8192, quantization="none", native_quantization=None, kv_cache_dtype="auto",
        gpu_memory_utilization=0.9, prefix_caching=True, ttft_p95_ms=2000,
        peak_concurrent_requests=64, conversations_per_day=10000, prompt_tokens_per_turn=1000,
        completion_tokens_per_turn=200, turns_per_conversation=3)
    plans = {name: plan_serving(arch, gpu, 1, inputs, e) for name, e in ENGINES.items()}
    assert not any(r.startswith("memory") for r in plans["vllm"].reasons)
    for name, plan in plans.items():
        engine = ENGINES[name]
        notes = [r for r in plan.reasons if r.startswith(f"memory ({name}): ")]
        assert notes == ([] if engine.vllm_memory_model else [f"memory ({name}): {engine.memory_note}"])
        assert plan.engine_args == engine.args(plan)
        # the sizing itself is the same plan, whatever the engine
        assert (plan.tensor_parallel, plan.max_num_seqs) == (
            plans["vllm"].tensor_parallel, plans["vllm"].max_num_seqs)
    assert {n for n, e in ENGINES.items() if not e.vllm_memory_model} == {
        "tensorrt-llm", "tgi", "sglang"}
    assert "kv_cache_free_gpu_mem_fraction" in ENGINES["tensorrt-llm"].memory_note
    assert "--mem-fraction-static" in ENGINES["sglang"].memory_note
    assert "--cuda-memory-fraction" in ENGINES["tgi"].memory_note


def test_triton_config_files_are_its_build_parameters():
    plan = _plan(tp=2)
    files = TritonTrtllm().config_files(plan)
    assert files["tensor_parallel_size"] == "2"
    assert files["triton_max_batch_size"] == "64" and files["max_input_len"] == "8192"
    assert files["kv_cache_free_gpu_mem_fraction"] == "0.9"
    assert files["enable_kv_cache_reuse"] == "true"
    assert "tensor_parallel_size=2" in TritonTrtllm().args(plan)
    assert Vllm().config_files(plan) == {}


@dataclass
class _Gpu:
    id: str
    vendor: str


def test_tensorrt_llm_refuses_amd_gpus_and_a_fresh_volume():
    assert TritonTrtllm().gpu_problems("big", _Gpu("MI300X", "amd")) == [
        "TensorRT-LLM runs on NVIDIA GPUs only; pool 'big' has MI300X"]
    assert TritonTrtllm().gpu_problems("big", _Gpu("H100-80GB", "nvidia")) == []
    assert Vllm().gpu_problems("big", _Gpu("MI300X", "amd")) == []
    (problem,) = TritonTrtllm().weights_problems("chat", fresh_volume=True)
    assert "model 'chat'" in problem and "/models/<model>/triton" in problem
    assert TritonTrtllm().weights_problems("chat", fresh_volume=False) == []
    assert Vllm().weights_problems("chat", fresh_volume=True) == []


def test_only_the_engines_package_names_an_engine_kind():
    """Outside components/engines/ (and the spec's list of kinds) no module branches on an
    engine's kind or imports a concrete engine class."""
    offenders = []
    kinds = "|".join(re.escape(k) for k in ENGINES)
    pattern = re.compile(rf"""(["'])({kinds})\1|TritonTrtllm|VllmMetrics|TritonMetrics""")
    for path in sorted((ROOT / "components").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        # the spec's types list the kinds and show them in examples
        if rel.startswith(("components/engines/", "components/catalog/", "components/spec/types")):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_spec_engine_kinds_are_the_registered_engines():
    assert set(get_args(EngineSpec.model_fields["kind"].annotation)) == set(ENGINES)
    assert set(ENGINES) <= set(RELEASES)  # each has its pinned release's lists


def test_a_cuda_only_engine_on_an_amd_pool_is_one_problem_naming_the_kind():
    raw = copy.deepcopy(stack_spec("local"))
    raw["gpu_pools"][0]["gpu"] = "MI300X"
    raw["models"][0]["engine"] = {"kind": "tgi",
                                  "image": "ghcr.io/huggingface/text-generation-inference:3.3.7"}
    with pytest.raises(SpecError) as err:
        load_spec(raw)
    lines = [p for p in err.value.problems if "engine.kind" in p]
    assert lines == ["llm-platform:spec.models[0].engine.kind: TGI's pinned image is its CUDA "
                     "build, for NVIDIA GPUs; pool 'l40s' has MI300X (the ROCm build, tag "
                     "suffix -rocm, is not supported here)"]


# --- TGI and SGLang series through the rendered rules, with promtool --------------------

def _promtool(planned, tmp_path, interval: str, series: list[dict], checks: list[dict],
              alerts: list[dict] | None = None) -> None:
    paths = _write_rules(planned, tmp_path)
    test: dict = {"interval": interval, "input_series": series, "promql_expr_test": checks}
    if alerts:
        test["alert_rule_test"] = alerts
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({
        "rule_files": [p.name for p in paths], "evaluation_interval": "1m", "tests": [test],
    }, sort_keys=False))
    proc = _run(_tool("promtool"), "test", "rules", "t.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def _sample(name: str, ids: str, value: float) -> dict:
    return {"expr": f"{name}{{{ids}}}", "eval_time": "8m",
            "exp_samples": [{"labels": f"{name}{{{ids}}}", "value": value}]}


def test_tgi_series_become_the_llm_records(planned, tmp_path):
    """7 waiting; the batch may grow to 3000 of 4000 tokens; 60 requests/min succeed; of
    100 requests/min, 3 fail in generation and 2 are turned away (overloaded): 5% failed,
    while 4 invalid prompts are the client's and not counted; half the requests finish
    within 1 s."""
    ids = 'namespace="llm-engines",model="chat-tgi"'
    dur = f"tgi_request_duration_bucket{{{ids}"
    _promtool(planned["onprem-engines"], tmp_path, "1m", [
        {"series": f"tgi_queue_size{{{ids}}}", "values": "7x10"},
        {"series": f"tgi_batch_current_max_tokens{{{ids}}}", "values": "3000x10"},
        {"series": f"tgi_batch_max_total_tokens{{{ids}}}", "values": "4000x10"},
        {"series": f"tgi_request_success{{{ids}}}", "values": "0+60x10"},
        {"series": f"tgi_request_count{{{ids}}}", "values": "0+100x10"},
        {"series": f'tgi_request_failure{{{ids},err="generation"}}', "values": "0+3x10"},
        {"series": f'tgi_request_failure{{{ids},err="overloaded"}}', "values": "0+2x10"},
        {"series": f'tgi_request_failure{{{ids},err="validation"}}', "values": "0+4x10"},
        {"series": f'{dur},le="1"}}', "values": "0+50x10"},
        {"series": f'{dur},le="2"}}', "values": "0+100x10"},
        {"series": f'{dur},le="+Inf"}}', "values": "0+100x10"},
    ], [
        _sample("llm:requests_waiting", ids, 7),
        _sample("llm:kv_cache_usage:ratio", ids, 0.75),
        _sample("llm:requests:rate5m", ids, 1),
        _sample("llm:slo_errors:ratio_rate5m", ids, 0.05),
        _sample("llm:e2e_seconds:p50", ids, 1),
    ])


def test_sglang_series_become_the_llm_records_and_page_on_slow_first_tokens(planned, tmp_path):
    """4 queued; the fuller of two pods' KV pools is 80% used; of 100 API requests/min 4
    answer 500 (probe 503s are not API requests): 4% failed; 25% of first tokens come
    after the 1 s SLO bound (SLO 1000 ms, a bucket bound of SGLang's): 5x the 5% budget,
    under the pages' 6x and 14.4x, over the ticket's 1x, which fires after its 30 min."""
    ids = 'namespace="llm-engines",model="chat-sglang"'
    api = f'{ids},endpoint="/v1/chat/completions"'
    ttft = f"sglang:time_to_first_token_seconds_bucket{{{ids}"
    stack = planned["onprem-engines"]
    series = [
        {"series": f"sglang:num_queue_reqs{{{ids},pod=\"a\"}}", "values": "4x90"},
        {"series": f"sglang:token_usage{{{ids},pod=\"a\"}}", "values": "0.6x90"},
        {"series": f"sglang:token_usage{{{ids},pod=\"b\"}}", "values": "0.8x90"},
        {"series": f"sglang:http_requests_total{{{api}}}", "values": "0+100x90"},
        {"series": f'sglang:http_responses_total{{{api},status_code="200"}}', "values": "0+96x90"},
        {"series": f'sglang:http_responses_total{{{api},status_code="500"}}', "values": "0+4x90"},
        {"series": f'sglang:http_responses_total{{{ids},endpoint="/health",status_code="503"}}',
         "values": "0+50x90"},
        {"series": f'{ttft},le="1.0"}}', "values": "0+75x90"},
        {"series": f'{ttft},le="+Inf"}}', "values": "0+100x90"},
        {"series": f"sglang:time_to_first_token_seconds_count{{{ids}}}", "values": "0+100x90"},
    ]
    checks = [
        _sample("llm:requests_waiting", ids, 4),
        _sample("llm:kv_cache_usage:ratio", ids, 0.8),
        _sample("llm:slo_errors:ratio_rate5m", ids, 0.04),
        _sample("llm:slo_ttft_slow:ratio_rate5m", ids, 0.25),
    ]
    (rule,) = [r for r in _alerts(stack) if r["labels"].get("model") == "chat-sglang"
               and r["alert"] == "ModelTTFTBudgetBurnSlow"]  # the SGLang model has a TTFT SLO
    fired = [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}]
    _promtool(stack, tmp_path, "1m", series, checks, alerts=[
        {"eval_time": "80m", "alertname": "ModelTTFTBudgetBurnSlow", "exp_alerts": fired},
        {"eval_time": "80m", "alertname": "ModelTTFTBudgetBurn", "exp_alerts": []},
    ])
    assert not [r for r in _alerts(stack) if r["labels"].get("model") == "chat-tgi"
                and "TTFT" in r["alert"]]  # ... the TGI model, with no TTFT histogram, none


def test_a_tgi_model_pages_when_its_errors_burn_the_budget(planned, tmp_path):
    """10% of chat-tgi's requests fail in generation: 20x the 0.5% budget, over the 14.4x
    of the fast burn in the last hour and 5 minutes. 2.5% (5x) stays under both pages
    (14.4x, and 6x over 6h and 30m)."""
    stack = planned["onprem-engines"]
    (rule,) = [r for r in _alerts(stack) if r["alert"] == "ModelErrorBudgetBurn"
               and r["labels"]["model"] == "chat-tgi"]
    ids = 'namespace="llm-engines",model="chat-tgi"'
    fired = [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}]
    for failed, expected in (("10", fired), ("2.5", [])):
        (tmp_path / failed).mkdir()
        _promtool(stack, tmp_path / failed, "1m", [
            {"series": f"tgi_request_count{{{ids}}}", "values": "0+100x90"},
            {"series": f'tgi_request_failure{{{ids},err="generation"}}',
             "values": f"0+{failed}x90"},
        ], [], alerts=[
            {"eval_time": "80m", "alertname": "ModelErrorBudgetBurn", "exp_alerts": expected},
        ])

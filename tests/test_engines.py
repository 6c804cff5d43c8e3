"""The engines against their pinned releases: every flag we pass and every metric name we
query exists in that release (lists in components/catalog/engines.yaml, generated from the
release's source); Triton's MPI ranks; the shutdown budget."""

from __future__ import annotations

import copy
import json
import re

import pytest
from conftest import ROOT, STACKS, stack_spec

from components.catalog.engine_releases import engine_releases
from components.engines import ENGINES, TritonTrtllm, Vllm
from components.kubernetes.monitoring.charts import _adapter_rules
from components.sizing import MemoryBudget, ServingPlan
from components.spec import load_spec

RELEASES = engine_releases()
# Series of other exporters (DCGM, kube-state-metrics, our Pushgateway) and our own
# recording rules: not engine metrics.
NOT_ENGINE = re.compile(r"^(llm:|llm_quality_|llm_training_|DCGM_|kube_)")
# Words PromQL reserves that look like metric names.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "inf", "nan"}


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
                        assert all(NOT_ENGINE.match(n) for n in metric_names(rule["expr"])), where
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
    hpas = [m for m in planned[stack].manifests if m["kind"] == "HorizontalPodAutoscaler"]
    assert hpas
    for hpa in hpas:
        release = RELEASES[hpa["metadata"]["labels"]["llm-platform.dev/engine"]]
        for metric in hpa["spec"]["metrics"]:
            rule = by_name[metric["pods"]["metric"]["name"]]
            assert metric_names(rule["seriesQuery"]) <= set(release.metrics), rule
            assert not _check_against(release, rule["seriesQuery"], hpa["metadata"]["name"])


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
        drains = [int(a.split("=")[1]) for a in server["command"]
                  if a.startswith(("--shutdown-timeout=", "--exit-timeout-secs="))]
        assert drains and min(drains) >= 60, dep["metadata"]["name"]
        assert spec["terminationGracePeriodSeconds"] > prestop + max(drains), dep["metadata"]["name"]


def test_runbook_queries_name_engine_series_of_the_pinned_releases():
    """On-call copies these queries; an engine series they name must exist."""
    problems, seen = [], 0
    for path in sorted((ROOT / "runbooks").glob("*.md")):
        for block in re.findall(r"```promql\n(.*?)```", path.read_text(), re.S):
            for line in block.splitlines():
                names = {n for n in metric_names(line) if not NOT_ENGINE.match(n)} - {"up"}
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

"""The canary and shadow analyses' Prometheus queries (components/observability/analysis.py),
evaluated by promtool on synthetic series of every engine: where the canary degrades the
value crosses the spec's threshold and the metric's Argo failureCondition holds; in a
near-miss it does not; with no traffic the query still returns one sample, which passes.

Argo Rollouts v1.9.0 hands the query's instant vector to the condition as `result`, a list
of the sample values (metricproviders/prometheus/prometheus.go processResponse); the
conditions are evaluated here by `_fails`, which reads the two shapes analysis.py writes."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from components.engines import ENGINES
from components.engines.sglang import SGLANG_TTFT_BUCKETS_S
from components.engines.trtllm import TRITON_TTFT_BUCKETS_MS
from components.engines.vllm import VLLM_TTFT_BUCKETS_S
from components.kubernetes.model_server.args import AbortThresholds
from components.observability import analysis
from components.observability import metrics as m

NS, MODEL = "llm-x", "bot"
CANARY, STABLE = "c0ffee123", "5eab1e456"
REV_NEW, REV_OLD = "a" * 40, "b" * 40
ABORT = AbortThresholds()  # 1.5, 1.5, 0.03, 1.2: the seeds' thresholds
EVAL_AT = "10m"


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool not installed: `make test` installs it (Debian package prometheus)"
    return found


def _fails(condition: str, value: float) -> bool:
    """An Argo failureCondition of analysis.py on `result = [value]`: `result[0] > X`, or
    `result[0] >= 0 && result[0] < X` (expr compares float64 as Go does)."""
    clauses = condition.split(" && ")
    ops = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__}
    out = True
    for clause in clauses:
        match = re.fullmatch(r"result\[0\] (>=|>|<) (-?[0-9.e+-]+)", clause)
        assert match, condition
        out = out and ops[match.group(1)](float(value), float(match.group(2)))
    return out


@dataclass(frozen=True)
class Side:
    """One ReplicaSet's traffic per minute: requests, failed ones, pods, and the TTFT bucket
    (index of its upper bound) every request's first token falls in."""

    requests: int = 0
    failed: int = 0
    pods: int = 1
    ttft_bucket: int = 0


def _counter(name: str, per_min: float, labels: dict[str, str]) -> dict:
    text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{text}}}", "values": f"0+{per_min:g}x20"}


def _labels(side: str, pod: int) -> dict[str, str]:
    hash_, rev = (CANARY, REV_NEW) if side == "canary" else (STABLE, REV_OLD)
    return {"namespace": NS, "model": MODEL, "pod": f"{MODEL}-{hash_}-p{pod}",
            "pod_template_hash": hash_, "revision": rev}


def _buckets(name: str, bounds: tuple[float, ...], side: Side, base: dict, fmt) -> list[dict]:
    out = []
    for i, bound in enumerate(bounds):
        out.append(_counter(name, side.requests if i >= side.ttft_bucket else 0,
                            {**base, "le": fmt(bound)}))
    out.append(_counter(name, side.requests, {**base, "le": "+Inf"}))
    return out


def _vllm(side: Side, base: dict) -> list[dict]:
    api = {**base, "handler": "/v1/chat/completions"}
    out = [
        _counter("http_requests_total", side.requests - side.failed, {**api, "status": "2xx"}),
        _counter("vllm:request_success_total", side.requests - side.failed,
                 {**base, "finished_reason": "stop"}),
        # vLLM creates a child per finish reason up front (vllm/v1/metrics/loggers.py)
        _counter("vllm:request_success_total", side.failed, {**base, "finished_reason": "error"}),
    ]
    if side.failed:  # the HTTP middleware's 5xx child appears at the first 5xx
        out.append(_counter("http_requests_total", side.failed, {**api, "status": "5xx"}))
    return out + _buckets("vllm:time_to_first_token_seconds_bucket", VLLM_TTFT_BUCKETS_S,
                          side, base, m.le)


def _tgi(side: Side, base: dict) -> list[dict]:
    out = [_counter("tgi_request_count", side.requests, base),
           _counter("tgi_request_success", side.requests - side.failed, base)]
    if side.failed:  # metrics-rs registers a counter at its first increment
        out.append(_counter("tgi_request_failure", side.failed, {**base, "err": "generation"}))
    return out


def _sglang(side: Side, base: dict) -> list[dict]:
    api = {**base, "endpoint": "/v1/chat/completions"}
    out = [_counter("sglang:http_requests_total", side.requests, api),
           _counter("sglang:num_requests_total", side.requests, base),
           _counter("sglang:http_responses_total", side.requests - side.failed,
                    {**api, "status_code": "200"})]
    if side.failed:
        out.append(_counter("sglang:http_responses_total", side.failed,
                            {**api, "status_code": "500"}))
    return out + _buckets("sglang:time_to_first_token_seconds_bucket", SGLANG_TTFT_BUCKETS_S,
                          side, base, m.le)


def _trtllm(side: Side, base: dict) -> list[dict]:
    entry = {**base, "exported_model": "ensemble"}
    # Triton counts a failed ensemble request twice (components/engines/trtllm.py)
    return [_counter("nv_inference_request_failure", 2 * side.failed, entry),
            _counter("nv_inference_request_success", side.requests - side.failed, entry),
            *_buckets("nv_inference_first_response_histogram_ms_bucket", TRITON_TTFT_BUCKETS_MS,
                      side, entry, lambda b: f"{b:g}")]


SERIES = {"vllm": _vllm, "tgi": _tgi, "sglang": _sglang, "tensorrt-llm": _trtllm}
BOUNDS = {"vllm": VLLM_TTFT_BUCKETS_S, "sglang": SGLANG_TTFT_BUCKETS_S,
          "tensorrt-llm": tuple(b / 1000 for b in TRITON_TTFT_BUCKETS_MS)}


def _inputs(kind: str, canary: Side | None, stable: Side) -> list[dict]:
    """Each side's requests split evenly over its pods; `up` for every pod. A canary of
    None has no series at all (not scraped yet)."""
    out = []
    for name, side in (("canary", canary), ("stable", stable)):
        if side is None:
            continue
        for pod in range(side.pods):
            base = _labels(name, pod)
            share = Side(side.requests / side.pods, side.failed / side.pods, 1, side.ttft_bucket)
            out.append({"series": "up{" + ",".join(f'{k}="{v}"' for k, v in base.items()) + "}",
                        "values": "1x20"})
            out += SERIES[kind](share, base)
    return out


def _p95(kind: str, side: Side) -> float:
    """histogram_quantile(0.95) with every observation in one bucket: its lower bound plus
    0.95 of its width (the lowest bucket starts at 0)."""
    bounds = BOUNDS[kind]
    lo = bounds[side.ttft_bucket - 1] if side.ttft_bucket else 0.0
    return lo + (bounds[side.ttft_bucket] - lo) * 0.95


def _resolve(query: str) -> str:
    return (query.replace("{{args.canary-hash}}", CANARY)
            .replace("{{args.stable-hash}}", STABLE))


Group = tuple[str, list[dict], list[tuple[str, float]]]  # case, input series, checks


def _run(tmp_path: Path, groups: list[Group]) -> None:
    """promtool evaluates round(query * 10000) at EVAL_AT for each case, in one process
    (floats compared exactly, so to 4 decimals, as tests/test_alert_gateway.py does)."""
    (tmp_path / "none.yaml").write_text(yaml.safe_dump({"groups": []}))
    tests = [{
        "name": case, "interval": "1m", "input_series": inputs,
        "promql_expr_test": [
            {"expr": f"round(({q}) * 10000)", "eval_time": EVAL_AT,
             "exp_samples": [{"labels": "{}",
                              "value": v if math.isinf(v) else round(v * 10000)}]}
            for q, v in checks],
    } for case, inputs, checks in groups]
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({
        "rule_files": ["none.yaml"], "evaluation_interval": "1m", "tests": tests}))
    proc = subprocess.run([_promtool(), "test", "rules", "t.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def _metric(kind: str, name: str) -> analysis.PromMetric:
    (metric,) = [x for x in analysis.canary_metrics(NS, MODEL, ENGINES[kind], ABORT)
                 if x.name == name]
    return metric


# (canary, stable) per minute, with the expected canary/stable value worked out:
# error ratio: stable 20 of 1000 = 0.02; canary 29/1000 = 1.45x (under 1.5), 31/1000 = 1.55x.
ERRORS = {
    "degraded": (Side(1000, 31), Side(1000, 20, pods=2), 0.031 / 0.02),
    "near-miss": (Side(1000, 29), Side(1000, 20, pods=2), 0.029 / 0.02),
    "canary-only-errors": (Side(600, 6), Side(1200, 0, pods=2), math.inf),
    "no-canary-traffic": (Side(0, 0), Side(1000, 20, pods=2), analysis.NO_DATA),
    "no-canary-series": (None, Side(1000, 20, pods=2), analysis.NO_DATA),
    "no-errors-anywhere": (Side(600, 0), Side(1200, 0, pods=2), analysis.NO_DATA),
    "no-traffic-at-all": (Side(0, 0), Side(0, 0, pods=2), analysis.NO_DATA),
}


@pytest.mark.parametrize("kind", sorted(ENGINES))
def test_error_ratio_canary_over_stable(kind, tmp_path):
    metric = _metric(kind, "error-ratio")
    # every engine counts a failure once (Triton's double count is halved by the query)
    _run(tmp_path, [(case, _inputs(kind, canary, stable), [(_resolve(metric.query), value)])
                    for case, (canary, stable, value) in ERRORS.items()])
    for case, (_, _, value) in ERRORS.items():
        failing = case in {"degraded", "canary-only-errors"}
        assert _fails(metric.failure_condition, value) == failing, case


# cost per request: stable 2 pods for 1200 requests/min; canary 1 pod for 500/min is
# 1/500 over 2/1200 = 1.2x... the threshold itself: 510/min is 1.176x, 480/min 1.25x.
COST = {
    "degraded": (Side(480), Side(1200, pods=2), (1 / 480) / (2 / 1200)),
    "near-miss": (Side(510), Side(1200, pods=2), (1 / 510) / (2 / 1200)),
    "no-canary-traffic": (Side(0), Side(1200, pods=2), analysis.NO_DATA),
    "no-canary-series": (None, Side(1200, pods=2), analysis.NO_DATA),
    "no-traffic-at-all": (Side(0), Side(0, pods=2), analysis.NO_DATA),
}


@pytest.mark.parametrize("kind", sorted(ENGINES))
def test_cost_per_request_is_pods_per_request_canary_over_stable(kind, tmp_path):
    metric = _metric(kind, "cost-per-request")
    _run(tmp_path, [(case, _inputs(kind, canary, stable), [(_resolve(metric.query), value)])
                    for case, (canary, stable, value) in COST.items()])
    for case, (_, _, value) in COST.items():
        assert _fails(metric.failure_condition, value) == (case == "degraded"), case


def _ttft_cases(kind: str) -> dict[str, tuple[Side | None, Side, float]]:
    """Stable's first tokens in one bucket; the canary's one bucket up (near-miss: vLLM
    0.9875 / 0.7375 = 1.34x, SGLang 0.99 / 0.79 = 1.25x) or two up (degraded: 3.29x,
    1.77x, Triton 4.85 / 0.48 = 10.1x). Triton's default bounds (100, 500, 2000, 5000 ms)
    leave no bucket within 1.5x of another, so its near-miss is the same bucket (1.0x)."""
    bounds = BOUNDS[kind]
    base = {"vllm": 10, "sglang": 4, "tensorrt-llm": 1}[kind]  # 0.5-0.75 s, 0.6-0.8 s, 0.1-0.5 s
    stable = Side(1200, pods=2, ttft_bucket=base)
    near = {"vllm": 11, "sglang": 5, "tensorrt-llm": 1}[kind]
    worse = Side(600, ttft_bucket=base + 2)
    cases = {
        "degraded": (worse, stable, _p95(kind, worse) / _p95(kind, stable)),
        "near-miss": (Side(600, ttft_bucket=near), stable,
                      _p95(kind, Side(ttft_bucket=near)) / _p95(kind, stable)),
        "no-canary-traffic": (Side(0, ttft_bucket=base), stable, analysis.NO_DATA),
        "no-canary-series": (None, stable, analysis.NO_DATA),
    }
    assert bounds[base + 2] > bounds[base]
    return cases


@pytest.mark.parametrize("kind", sorted(BOUNDS))
def test_ttft_p95_canary_over_stable(kind, tmp_path):
    metric = _metric(kind, "ttft-p95")
    cases = _ttft_cases(kind)
    _run(tmp_path, [(case, _inputs(kind, canary, stable), [(_resolve(metric.query), value)])
                    for case, (canary, stable, value) in cases.items()])
    for case, (_, _, value) in cases.items():
        assert _fails(metric.failure_condition, value) == (case == "degraded"), (case, value)


def test_tgi_has_no_ttft_metric_and_every_other_engine_has_all_three():
    """TGI v3.3.7 exports no time-to-first-token histogram (components/engines/tgi.py)."""
    for kind, engine in ENGINES.items():
        names = [x.name for x in analysis.canary_metrics(NS, MODEL, engine, ABORT)]
        expected = ["error-ratio", "cost-per-request"] if kind == "tgi" else [
            "error-ratio", "ttft-p95", "cost-per-request"]
        assert names == expected, kind


def test_the_queries_hold_no_template_tags_but_the_two_hash_arguments():
    """Argo resolves every {{...}} in a metric (utils/template/template.go resolve): any
    other tag would fail the run with "failed to resolve"."""
    for engine in ENGINES.values():
        for metric in analysis.canary_metrics(NS, MODEL, engine, ABORT):
            tags = set(re.findall(r"\{\{(.*?)\}\}", metric.query))
            assert tags == {"args.canary-hash", "args.stable-hash"}, metric.name
            assert "{{" not in _resolve(metric.query) and "}}" not in _resolve(metric.query)
    for metric in analysis.shadow_metrics(NS, MODEL, REV_NEW, 0.8, ABORT, 3600):
        assert "{{" not in metric.query and "}}" not in metric.query


def test_the_argo_metric_entry():
    metric = _metric("vllm", "error-ratio")
    entry = metric.argo("http://prometheus.monitoring.svc:9090")
    assert entry == {
        "name": "error-ratio", "interval": "5m", "failureLimit": 1,
        "failureCondition": "result[0] > 1.5",
        "provider": {"prometheus": {"address": "http://prometheus.monitoring.svc:9090",
                                    "query": metric.query}},
    }


# --- shadow ------------------------------------------------------------------------------

GW = {"namespace": NS, "job": m.GATEWAY_JOB, "pod": "llm-gateway-0"}
SHADOW_S = 3600


def _gw(name: str, per_min: float, **labels: str) -> dict:
    return _counter(name, per_min, {**GW, **labels})


def _shadow_inputs(scored: int, score_sum: float, failed: float, refusals: tuple[int, int],
                   user: tuple[int, int] = (1000, 10)) -> list[dict]:
    """Per minute: `scored` pairs scored, their scores' sum, `failed` shadow copies that
    failed (plus the scored ones that did not), refusals (candidate, incumbent) among the
    scored, and the users' requests to the model through the gateway (all, 5xx)."""
    ids = {"model": MODEL, "revision": REV_NEW}
    out = [
        _gw(m.GW_SHADOW_SCORE_SUM, score_sum, **ids),
        _gw(m.GW_SHADOW_SCORE_COUNT, scored, **ids),
        _gw(m.GW_SHADOW_REQUESTS, scored, outcome="ok", **ids),
        _gw(m.GW_REQUESTS, user[0] - user[1], team="t", model=MODEL, served_by="self-hosted",
            code="200"),
        _gw(m.GW_REQUESTS, user[1], team="t", model=MODEL, served_by="self-hosted", code="500"),
    ]
    if failed:
        out.append(_gw(m.GW_SHADOW_REQUESTS, failed, outcome="timeout", **ids))
    for role, n in zip(("candidate", "incumbent"), refusals, strict=True):
        if n:
            out.append(_gw(m.GW_SHADOW_REFUSALS, n, role=role, **ids))
    return out


def _shadow(name: str, min_score: float = 0.8) -> analysis.PromMetric:
    (metric,) = [x for x in analysis.shadow_metrics(NS, MODEL, REV_NEW, min_score, ABORT,
                                                    SHADOW_S) if x.name == name]
    return metric


# 50 scored pairs a minute; the users' 5xx share is 10/1000 = 0.01.
SHADOW = {
    # mean score 39/50 = 0.78 < 0.8; shadow failures 1 of 51 = 1.96x; refusals 3-1 of 50 = 0.04
    "degraded": (dict(scored=50, score_sum=39, failed=1, refusals=(3, 1)),
                 {"shadow-score": 0.78, "shadow-error-ratio": (1 / 51) / 0.01,
                  "shadow-refusal-increase": 0.04}),
    # 41/50 = 0.82; 0 failures; 2-1 of 50 = 0.02 (under 0.03)
    "near-miss": (dict(scored=50, score_sum=41, failed=0, refusals=(2, 1)),
                  {"shadow-score": 0.82, "shadow-error-ratio": 0.0,
                   "shadow-refusal-increase": 0.02}),
    # the candidate refuses less than the incumbent: a negative increase passes
    "fewer-refusals": (dict(scored=50, score_sum=45, failed=0, refusals=(0, 2)),
                       {"shadow-refusal-increase": -0.04}),
    # no shadow traffic at all
    "no-traffic": (dict(scored=0, score_sum=0, failed=0, refusals=(0, 0)),
                   dict.fromkeys(("shadow-score", "shadow-error-ratio",
                                  "shadow-refusal-increase"), analysis.NO_DATA)),
}
FAILING = {"degraded"}


def test_shadow_metrics_fail_a_worse_candidate_and_pass_a_near_miss(tmp_path):
    _run(tmp_path, [
        (case, _shadow_inputs(**inputs), [(_shadow(n).query, v) for n, v in values.items()])
        for case, (inputs, values) in SHADOW.items()])
    for case, (_, values) in SHADOW.items():
        for name, value in values.items():
            assert _fails(_shadow(name).failure_condition, value) == (case in FAILING), (
                case, name, value)


def test_shadow_metrics_wait_for_enough_scored_pairs(tmp_path):
    """One scored pair a minute with score 0 (and a refusal), and a failed copy every other
    minute: at 10 minutes 10 pairs and 15 copies are under SHADOW_MIN_SAMPLES (20), so
    none of it is judged yet."""
    inputs = _shadow_inputs(scored=1, score_sum=0, failed=0.5, refusals=(1, 0))
    checks = [(_shadow(n).query, analysis.NO_DATA)
              for n in ("shadow-score", "shadow-error-ratio", "shadow-refusal-increase")]
    _run(tmp_path, [("too-few-pairs", inputs, checks)])

"""The rule builders of components/observability/rules.py called in process, on a hand-made
environment whose every threshold differs from its default, so a number in an alert can only
have come from the spec field it should. Each expected expression, threshold and annotation
is written out here from the spec values and the rule the module docstring and
runbooks/<Alert>.md document; nothing is read back from the rendered rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import stack_spec

from components.observability.rules import (
    RuleBuilder,
    alert_names,
    cost_ceiling,
    prometheus_rules,
    quality_stale_after_s,
)
from components.spec import Environment, load_spec

NS = "llm-local"
S = f'namespace="{NS}",model="assistant"'
PODS = f'namespace="{NS}",pod=~"assistant-[a-z0-9]{{5,10}}-[a-z0-9]{{5}}"'
DEPLOYMENT = f'namespace="{NS}",deployment="assistant"'
RUNBOOKS = "https://runbooks.example.com/llm"
GRAFANA = "https://grafana.example.com"
# The hand-made sizing: 3 replicas at most, each of 2 GPUs (TP 2) holding 64 sequences.
TP, REPLICAS_MIN, REPLICAS_MAX, MAX_SEQS = 2, 1, 3, 64
GPU_HOUR_USD = 1.25


def _local_env() -> Environment:
    return load_spec(stack_spec("local"))


def tuned_env(**quality: Any) -> Environment:
    """The local stack (vLLM model `assistant`, namespace llm-local, quality monitor on) with
    every SLO, threshold and price moved off its default, and a hand-made serving plan."""
    env = _local_env()
    spec = env.spec
    model = spec.models[0]
    model = model.model_copy(update={
        "slo": model.slo.model_copy(update={"availability": 0.999, "ttft_p95_ms": 800}),
    })
    obs = spec.observability
    q = obs.quality.model_copy(update={
        "input_drift_threshold": 0.03, "output_length_drift_pct": 40,
        "refusal_spike_factor": 3.0, "refusal_rate_floor": 0.08,
        "schedule": "*/20 * * * *", **quality,
    })
    obs = obs.model_copy(update={
        "runbook_base_url": RUNBOOKS,
        "grafana_url": GRAFANA,
        "thresholds": obs.thresholds.model_copy(update={
            "kv_cache_full_pct": 90, "preemptions_per_minute": 2.5,
            "gpu_idle_util_pct": 15, "spot_interruptions_per_hour": 4,
        }),
        "quality": q,
    })
    spec = spec.model_copy(update={
        "models": [model],
        "observability": obs,
        "budget": spec.budget.model_copy(update={"monthly_usd": 7500}),
        "onprem": spec.onprem.model_copy(update={"gpu_hour_usd": GPU_HOUR_USD}),
    })
    plan = replace(env.plans["assistant"], tensor_parallel=TP, replicas_min=REPLICAS_MIN,
                   replicas_max=REPLICAS_MAX, max_num_seqs=MAX_SEQS)
    return Environment(spec=spec, plans={"assistant": plan})


def with_model(env: Environment, engine: dict | None = None, **slo: Any) -> Environment:
    """`env` with the model's engine or SLO fields changed (no spec checks: builder input)."""
    model = env.spec.models[0]
    update: dict[str, Any] = {"slo": model.slo.model_copy(update=slo)}
    if engine is not None:
        update["engine"] = model.engine.model_copy(update=engine)
    spec = env.spec.model_copy(update={"models": [model.model_copy(update=update)]})
    return Environment(spec=spec, plans=env.plans)


def without_quality(env: Environment) -> Environment:
    obs = env.spec.observability.model_copy(update={"quality": None})
    return Environment(spec=env.spec.model_copy(update={"observability": obs}), plans=env.plans)


def _rules(groups: list[dict]) -> dict[str, dict]:
    return {r.get("alert") or r["record"]: r for g in groups for r in g["rules"]}


def _model_groups(env: Environment) -> list[dict]:
    return RuleBuilder(env).model_groups(env.spec.models[0])


def _alert(groups: list[dict], name: str) -> dict:
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == name]
    return rule


def _model_rule(name: str, severity: str, for_: str, expr: str, summary: str,
                description: str, board: str, **labels: str) -> dict:
    """An alert as Alertmanager and the on-call engineer see it: the stack's labels, the
    runbook named after the alert and the dashboard filtered to the model."""
    return {
        "alert": name, "expr": expr, "for": for_,
        "labels": {"severity": severity, "environment": "local", "namespace": NS,
                   "model": "assistant", **labels},
        "annotations": {
            "summary": summary, "description": description,
            "runbook_url": f"{RUNBOOKS}/{name}.md",
            "dashboard_url": f"{GRAFANA}/d/{board}?var-namespace={NS}&var-model=assistant",
        },
    }


# Availability 0.999: the error budget is 1 - 0.999 = 0.001 of requests. The page burns are
# 14.4 x 0.001 = 0.0144 (1h and 5m) and 6 x 0.001 = 0.006 (6h and 30m); the ticket burn is
# 1 x 0.001 (3d and 6h). TTFT: a p95 leaves 5% of requests slow, so 14.4 x 0.05 = 0.72 and
# 6 x 0.05 = 0.3. The 800 ms SLO is counted at vLLM's 0.75 s bucket, the largest at or
# under it.
def _burn(prefix: str, page: float, six: float, ticket: float) -> tuple[str, str]:
    fast = (f"({prefix}1h{{{S}}} > {page} and {prefix}5m{{{S}}} > {page}) or "
            f"({prefix}6h{{{S}}} > {six} and {prefix}30m{{{S}}} > {six})")
    slow = f"{prefix}3d{{{S}}} > {ticket} and {prefix}6h{{{S}}} > {ticket}"
    return fast, slow


ERR_FAST, ERR_SLOW = _burn("llm:slo_errors:ratio_rate", 0.0144, 0.006, 0.001)
TTFT_FAST, TTFT_SLOW = _burn("llm:slo_ttft_slow:ratio_rate", 0.72, 0.3, 0.05)


def expected_model_alerts() -> list[dict]:
    """The tuned environment's alerts in the order the model group lists them."""
    err, ttft = "server error", "time-to-first-token over 750 ms"
    fast = ("ratio is over 14.4x the budget ({b}) in the last 1h and 5m, or over 6x in the "
            "last 6h and 30m. At this rate a 30-day budget is gone in days.")
    slow = ("ratio has been above the budget ({b}) over the last 3d and 6h; the SLO will be "
            "missed if it goes on.")
    # The default cost ceiling is twice the planned cost per 1,000 conversations: the
    # minimum 1 replica x 2 GPUs x $1.25/GPU-h x 730 h = $1,825 a month over
    # 30,000 conversations/day x 365/12 days = 912,500 a month is $2.00 per 1,000; x2 = $4.
    return [
        _model_rule("ModelErrorBudgetBurn", "critical", "2m", ERR_FAST,
                    f"assistant: {err} is burning the 99.9% availability SLO budget fast",
                    f"assistant in {NS}: the {err} " + fast.format(b="0.001"), "llm-serving",
                    slo="availability"),
        _model_rule("ModelErrorBudgetBurnSlow", "warning", "30m", ERR_SLOW,
                    f"assistant: {err} is spending the 99.9% availability SLO budget steadily",
                    f"assistant in {NS}: the {err} " + slow.format(b="0.001"), "llm-serving",
                    slo="availability"),
        _model_rule("ModelTTFTBudgetBurn", "critical", "2m", TTFT_FAST,
                    f"assistant: {ttft} is burning the TTFT p95 800 ms SLO budget fast",
                    f"assistant in {NS}: the {ttft} " + fast.format(b="0.05"), "llm-serving",
                    slo="ttft"),
        _model_rule("ModelTTFTBudgetBurnSlow", "warning", "30m", TTFT_SLOW,
                    f"assistant: {ttft} is spending the TTFT p95 800 ms SLO budget steadily",
                    f"assistant in {NS}: the {ttft} " + slow.format(b="0.05"), "llm-serving",
                    slo="ttft"),
        _model_rule("ModelDown", "critical", "5m",
                    f"llm:replicas{{{S}}} == 0 or absent(llm:replicas{{{S}}})",
                    "assistant has no ready replica",
                    f"Deployment {NS}/assistant has had no available replica for 5 minutes (or "
                    "its state is not reported); every request to it fails.", "llm-serving"),
        _model_rule("ModelQueueSaturated", "critical", "10m",
                    f"sum without (revision) (llm:requests_waiting{{{S}}}) / llm:replicas{{{S}}}"
                    " > 64 and "
                    f"llm:replicas{{{S}}} >= 3",
                    "assistant is scaled out to its maximum and still queueing",
                    "assistant runs its maximum 3 replica(s) and each has more than a full batch "
                    "(64 sequences) waiting; requests wait at least one batch before their "
                    "first token.", "llm-serving"),
        _model_rule("ModelKVCacheNearFull", "warning", "15m",
                    f"max without (revision) (llm:kv_cache_usage:ratio{{{S}}}) > 0.9",
                    "assistant: KV cache above 90%",
                    "The busiest assistant replica has used over 90% of its KV cache for 15 "
                    "minutes; new sequences wait or preempt running ones.", "llm-serving"),
        _model_rule("ModelPreemptions", "warning", "15m",
                    f"sum without (revision) (llm:preemptions:rate5m{{{S}}}) * 60 > 2.5",
                    "assistant is preempting sequences",
                    "assistant preempts more than 2.5 sequence(s) a minute: the KV cache cannot "
                    "hold the running batch, so work is recomputed and latency grows.",
                    "llm-serving"),
        _model_rule("GPUIdleWaste", "warning", "3h",
                    f"llm:gpu_utilization:ratio{{{S}}} < 0.15 and on (namespace, model) "
                    f"llm:cost_usd_per_hour{{{S}}} > 0",
                    "assistant: paid-for GPUs idle",
                    "The GPUs of assistant averaged under 15% utilisation for 3 hours while they "
                    "are paid for; lower the minimum replicas or move the model to a smaller GPU.",
                    "llm-gpu"),
        _model_rule("CostPer1kConversationsHigh", "warning", "1h",
                    f"llm:usd_per_1k_conversations{{{S}}} > 4",
                    "assistant: cost per 1,000 conversations above $4",
                    "assistant has cost more than $4 per 1,000 conversations for an hour (GPU "
                    "cost per hour over live conversation rate, at deploy-time prices).",
                    "llm-cost"),
        _model_rule("RefusalRateSpike", "critical", "15m",
                    f"llm:refusal:ratio{{{S}}} > 0.08 and llm:refusal:ratio{{{S}}} > 3 * "
                    f"llm:refusal:ratio_baseline7d{{{S}}}",
                    "assistant is refusing far more requests than usual",
                    "The sampled refusal rate of assistant is above 8% and 3x its 7-day "
                    "baseline; users are being turned away.", "llm-quality"),
        _model_rule("InputDrift", "warning", "30m", f"llm:input_drift:mmd2{{{S}}} > 0.03",
                    "assistant: prompts have drifted from the reference",
                    "The MMD^2 between recent assistant prompt embeddings and the reference "
                    "corpus is above 0.03; see runbooks/retraining-policy.md.", "llm-quality"),
        # 40% either way: |1h mean / 7d mean - 1| > 0.4.
        _model_rule("OutputLengthDrift", "warning", "1h",
                    f"abs(llm:output_length_drift:ratio{{{S}}} - 1) > 0.4",
                    "assistant: answer length moved from its 7-day baseline",
                    "The mean completion length of assistant over the last hour differs from "
                    "the 7-day mean by more than 40%.", "llm-quality"),
        # Every 20 minutes: three missed runs are 3 x 20 min = 3600 s, 60 minutes.
        _model_rule("QualityMonitorStale", "warning", "30m",
                    f"time() - max(llm_quality_last_run_timestamp_seconds{{{S}}}) > 3600 or "
                    f"absent(llm_quality_last_run_timestamp_seconds{{{S}}})",
                    "assistant: the quality monitor has not reported",
                    "No quality-monitor result for assistant in 60 minutes; refusal and drift "
                    "alerts are blind until it runs again.", "llm-quality"),
    ]


def test_every_model_alert_states_the_tuned_thresholds_and_annotations():
    groups = _model_groups(tuned_env())
    assert [g["name"] for g in groups] == [
        "llm-assistant.recording", "llm-assistant.slo", "llm-assistant.alerts"]
    got = groups[2]["rules"]
    want = expected_model_alerts()
    assert [r["alert"] for r in got] == [r["alert"] for r in want]
    for rule, expected in zip(got, want, strict=True):
        assert rule == expected, rule["alert"]


def _rec(name: str, expr: str, **extra: str) -> dict:
    return {"record": name, "expr": expr, "labels": {"namespace": NS, "model": "assistant", **extra}}


def test_gpu_replica_and_cost_records_read_dcgm_kube_state_metrics_and_prices():
    rules = _rules(_model_groups(tuned_env()))
    used = f"sum(DCGM_FI_DEV_FB_USED{{{PODS}}})"
    free = f"sum(DCGM_FI_DEV_FB_FREE{{{PODS}}})"
    expected = [
        # dcgm-exporter reports utilisation in percent: /100 makes the ratio.
        _rec("llm:gpu_utilization:ratio", f"avg(DCGM_FI_DEV_GPU_UTIL{{{PODS}}}) / 100"),
        _rec("llm:gpu_memory_used:ratio", f"{used} / ({used} + {free})"),
        _rec("llm:replicas", f"sum(kube_deployment_status_replicas_available{{{DEPLOYMENT}}})"),
        # Each replica holds TP = 2 GPUs, in pool l40s (the price's join label).
        _rec("llm:gpus_allocated", f"sum(kube_deployment_spec_replicas{{{DEPLOYMENT}}}) * 2",
             pool="l40s"),
        _rec("llm:cost_usd_per_hour",
             f"llm:gpus_allocated{{{S}}} * on (pool) group_left () llm:gpu_price_usd_per_hour"),
        # 4 turns per conversation.
        # per model: the requests of every revision
        _rec("llm:conversations:rate1h", f"sum without (revision) (llm:requests:rate1h{{{S}}}) / 4"),
        _rec("llm:usd_per_1k_conversations",
             f"llm:cost_usd_per_hour{{{S}}} / on (namespace, model) "
             f"(llm:conversations:rate1h{{{S}}} * 3600 > 0) * 1000"),
    ]
    for rec in expected:
        assert rules[rec["record"]] == rec


def test_quality_records_read_the_monitors_pushed_series():
    rules = _rules(_model_groups(tuned_env()))
    for rec in [
        _rec("llm:output_length_drift:ratio",
             f"llm:output_tokens:mean1h{{{S}}} / llm:output_tokens:mean7d{{{S}}}"),
        _rec("llm:refusal:ratio", f"max(llm_quality_refusal_ratio{{{S}}})"),
        _rec("llm:refusal:ratio_baseline7d",
             f"avg_over_time(llm:refusal:ratio{{{S}}}[7d] offset 1h)"),
        _rec("llm:input_drift:mmd2", f"max(llm_quality_input_mmd2{{{S}}})"),
    ]:
        assert rules[rec["record"]] == rec


# vLLM v0.33.0 exports every llm:* engine series (components/engines/vllm.py), so the
# recording group holds all of them, head block, then GPU/cost, then the tail block.
VLLM_RECORDS = [
    "llm:requests:rate5m", "llm:requests:rate1h", "llm:prompt_tokens:rate5m",
    "llm:completion_tokens:rate5m",
    "llm:tpot_seconds:p50", "llm:tpot_seconds:p95", "llm:tpot_seconds:p99",
    "llm:ttft_seconds:p50", "llm:e2e_seconds:p50", "llm:ttft_seconds:p95",
    "llm:e2e_seconds:p95", "llm:ttft_seconds:p99", "llm:e2e_seconds:p99",
    "llm:requests_waiting", "llm:requests_running", "llm:kv_cache_usage:ratio",
    "llm:errors:ratio_rate5m", "llm:pods", "llm:usd_per_request:rate5m",
    "llm:gpu_utilization:ratio", "llm:gpu_memory_used:ratio", "llm:replicas",
    "llm:gpus_allocated", "llm:cost_usd_per_hour", "llm:conversations:rate1h",
    "llm:usd_per_1k_conversations",
    "llm:prefix_cache_hit:ratio_rate5m", "llm:preemptions:rate5m",
    "llm:output_tokens:mean1h", "llm:output_tokens:mean7d", "llm:output_length_drift:ratio",
]
QUALITY_RECORDS = ["llm:refusal:ratio", "llm:refusal:ratio_baseline7d", "llm:input_drift:mmd2"]


def test_recording_group_holds_every_engine_series_then_the_quality_records():
    recording = _model_groups(tuned_env())[0]["rules"]
    assert [r["record"] for r in recording] == VLLM_RECORDS + QUALITY_RECORDS
    # per revision: a canary and its stable side by side (the ServiceMonitor's label)
    assert recording[0] == _rec(
        "llm:requests:rate5m", f"sum by (revision) (rate(vllm:request_success_total{{{S}}}[5m]))")
    # vLLM counts output tokens per request itself: the monitor's sample mean is not used.
    mean1h = next(r for r in recording if r["record"] == "llm:output_tokens:mean1h")
    tokens = "vllm:request_generation_tokens"
    assert mean1h == _rec("llm:output_tokens:mean1h",
                          f"sum (rate({tokens}_sum{{{S}}}[1h])) / "
                          f"sum (rate({tokens}_count{{{S}}}[1h]))")
    assert all(r["labels"] == {"namespace": NS, "model": "assistant"}
               for r in recording if r["record"] != "llm:gpus_allocated")


def test_without_the_quality_monitor_no_quality_record_or_alert():
    groups = _model_groups(without_quality(tuned_env()))
    assert [r["record"] for r in groups[0]["rules"]] == VLLM_RECORDS
    assert [r["alert"] for r in groups[2]["rules"]] == [
        "ModelErrorBudgetBurn", "ModelErrorBudgetBurnSlow", "ModelTTFTBudgetBurn",
        "ModelTTFTBudgetBurnSlow", "ModelDown", "ModelQueueSaturated", "ModelKVCacheNearFull",
        "ModelPreemptions", "GPUIdleWaste", "CostPer1kConversationsHigh"]


def test_slo_group_records_both_ratios_at_every_window():
    slo = _model_groups(tuned_env())[1]["rules"]
    windows = ["5m", "30m", "1h", "6h", "3d"]
    assert [r["record"] for r in slo] == [
        f"llm:slo_{kind}:ratio_rate{w}" for w in windows for kind in ("errors", "ttft_slow")]
    ttft_1h = next(r for r in slo if r["record"] == "llm:slo_ttft_slow:ratio_rate1h")
    # 800 ms is counted at the le="0.75" bucket (the Python client writes 0.75 s so).
    assert ttft_1h == _rec(
        "llm:slo_ttft_slow:ratio_rate1h",
        f'1 - (sum (rate(vllm:time_to_first_token_seconds_bucket{{{S},le="0.75"}}[1h])) / '
        f"sum (rate(vllm:time_to_first_token_seconds_count{{{S}}}[1h])))")
    errors_30m = next(r for r in slo if r["record"] == "llm:slo_errors:ratio_rate30m")
    # vLLM's failures per pod, a 5xx or an engine "error" finish counted once, over its API
    # requests (components/engines/vllm.py error_ratio).
    api = f'{S},handler=~"/v1/chat/completions|/v1/completions|/v1/responses"'
    http = f'sum by (pod) (rate(http_requests_total{{{api},status="5xx"}}[30m]))'
    engine = f'sum by (pod) (rate(vllm:request_success_total{{{S},finished_reason="error"}}[30m]))'
    assert errors_30m == _rec(
        "llm:slo_errors:ratio_rate30m",
        f"sum (({http} >= {engine}) or {engine} or {http}) / "
        f"sum (rate(http_requests_total{{{api}}}[30m]))")
    assert all(r["labels"] == {"namespace": NS, "model": "assistant"} for r in slo)


TRTLLM = {"kind": "tensorrt-llm", "image": "nvcr.io/nvidia/tritonserver:25.05-trtllm-python-py3"}


def test_a_ttft_slo_under_the_first_bucket_gets_no_ttft_records_or_alerts():
    """Triton's first TTFT bound is 100 ms: a 50 ms SLO cannot be counted at any bound, so
    the TTFT burn alerts and records are left out rather than made blind."""
    groups = _model_groups(with_model(tuned_env(), TRTLLM, ttft_p95_ms=50))
    assert [r["record"] for r in groups[1]["rules"]] == [
        f"llm:slo_errors:ratio_rate{w}" for w in ("5m", "30m", "1h", "6h", "3d")]
    names = [r["alert"] for r in groups[2]["rules"]]
    assert "ModelTTFTBudgetBurn" not in names and "ModelTTFTBudgetBurnSlow" not in names


def test_an_engine_without_token_counters_takes_output_length_from_the_quality_monitor():
    """Triton (TensorRT-LLM) counts no output tokens and no preemptions: the length means
    come from the monitor's pushed sample mean, and ModelPreemptions is left out."""
    groups = _model_groups(with_model(tuned_env(), TRTLLM, ttft_p95_ms=2000))
    rules = _rules(groups)
    pushed = f"llm_quality_output_tokens_mean{{{S}}}"
    assert rules["llm:output_tokens:mean1h"] == _rec(
        "llm:output_tokens:mean1h", f"max(avg_over_time({pushed}[1h]))")
    assert rules["llm:output_tokens:mean7d"] == _rec(
        "llm:output_tokens:mean7d", f"max(avg_over_time({pushed}[7d] offset 1h))")
    assert "llm:preemptions:rate5m" not in rules and "ModelPreemptions" not in rules
    assert "llm:prefix_cache_hit:ratio_rate5m" not in rules
    # Triton's 2000 ms bound fits the 2000 ms SLO exactly.
    assert _alert(groups, "ModelTTFTBudgetBurn")["annotations"]["summary"] == (
        "assistant: time-to-first-token over 2000 ms is burning the TTFT p95 2000 ms SLO "
        "budget fast")
    without = _rules(_model_groups(without_quality(with_model(tuned_env(), TRTLLM))))
    assert "llm:output_tokens:mean1h" not in without
    assert without["llm:output_length_drift:ratio"]["expr"] == (
        f"llm:output_tokens:mean1h{{{S}}} / llm:output_tokens:mean7d{{{S}}}")


def test_a_stated_cost_ceiling_replaces_twice_the_planned_figure():
    env = with_model(tuned_env(), max_usd_per_1k_conversations=2.5)
    rule = _alert(_model_groups(env), "CostPer1kConversationsHigh")
    assert rule["expr"] == f"llm:usd_per_1k_conversations{{{S}}} > 2.5"
    assert rule["annotations"]["summary"] == "assistant: cost per 1,000 conversations above $2.5"


@pytest.mark.parametrize(("conversations_per_day", "ceiling"), [
    # $1,825 a month (1 replica x 2 GPUs x $1.25 x 730 h) over 30,000 x 365/12 conversations
    # is $2.00 per 1,000, twice that $4.00.
    (30000, 4.0),
    # over 7,000 x 365/12 = 212,916.67: $8.5714 per 1,000 (rounded to 4 places), x2.
    (7000, 17.1428),
    # No traffic: no planned figure to double, and no alert.
    (0, None),
])
def test_default_cost_ceiling_is_twice_the_planned_cost_per_1k(conversations_per_day, ceiling):
    env = tuned_env()
    model = env.spec.models[0]
    model = model.model_copy(update={"traffic": model.traffic.model_copy(
        update={"conversations_per_day": conversations_per_day})})
    env = Environment(spec=env.spec.model_copy(update={"models": [model]}), plans=env.plans)
    assert cost_ceiling(env, model) == ceiling
    names = alert_names({"m": RuleBuilder(env).model_groups(model)})
    assert ("CostPer1kConversationsHigh" in names) is (ceiling is not None)


@pytest.mark.parametrize(("schedule", "seconds"), [
    ("*/15 * * * *", 3 * 15 * 60),
    ("*/20  *  * * *", 3 * 20 * 60),  # extra blanks are still every 20 minutes
    ("*/5 * * * 1-5", 3 * 3600),  # weekdays only: not every N minutes
    ("0 * * * *", 3 * 3600),
    ("1*/5 * * * *", 3 * 3600),
])
def test_quality_is_stale_after_three_missed_runs(schedule, seconds):
    assert quality_stale_after_s(schedule) == seconds


def test_an_hourly_monitor_is_stale_after_three_hours():
    rule = _alert(_model_groups(tuned_env(schedule="0 * * * *")), "QualityMonitorStale")
    assert "> 10800 or absent(" in rule["expr"]
    assert "in 180 minutes;" in rule["annotations"]["description"]


def test_platform_groups_price_budget_spend_and_alerts():
    env = tuned_env()
    groups = RuleBuilder(env).platform_groups()
    ns = f'namespace="{NS}"'
    env_labels = {"namespace": NS}
    assert groups[0] == {"name": "llm-local.prices", "rules": [
        {"record": "llm:gpu_price_usd_per_hour", "expr": "vector(1.25)", "labels": {"pool": "l40s"}},
        {"record": "llm:budget_usd_per_month", "expr": "vector(7500)", "labels": env_labels},
    ]}
    assert groups[1] == {"name": "llm-local.cost", "rules": [
        {"record": "llm:cost_usd_per_hour:sum", "expr": f"sum(llm:cost_usd_per_hour{{{ns}}})",
         "labels": env_labels},
        # the last day's hourly average over a whole month of 24-hour days
        {"record": "llm:spend_usd:projected_month",
         "expr": f"avg_over_time(llm:cost_usd_per_hour:sum{{{ns}}}[1d]) * 24 * "
                 "scalar(days_in_month())", "labels": env_labels},
        {"record": "llm:spend_usd:month_to_date",
         "expr": f"avg_over_time(llm:cost_usd_per_hour:sum{{{ns}}}[1d]) * "
                 "scalar(24 * (day_of_month() - 1) + hour())", "labels": env_labels},
        {"record": "llm:budget_used:ratio_projected",
         "expr": f"llm:spend_usd:projected_month{{{ns}}} / on (namespace) "
                 f"llm:budget_usd_per_month{{{ns}}}", "labels": env_labels},
    ]}
    assert groups[2]["name"] == "llm-local.alerts"
    assert groups[2]["rules"] == expected_platform_alerts()


def _platform_rule(name: str, for_: str, expr: str, summary: str, description: str,
                   board: str, labels: dict[str, str] | None = None) -> dict:
    return {
        "alert": name, "expr": expr, "for": for_,
        "labels": {"severity": "warning", "environment": "local", "namespace": NS,
                   **(labels or {})},
        "annotations": {
            "summary": summary, "description": description,
            "runbook_url": f"{RUNBOOKS}/{name}.md",
            # an environment alert names no model: the dashboard shows the whole namespace
            "dashboard_url": f"{GRAFANA}/d/{board}?var-namespace={NS}",
        },
    }


def expected_platform_alerts() -> list[dict]:
    return [
        _platform_rule("ProjectedSpendOverBudget", "1h",
                       f'llm:budget_used:ratio_projected{{namespace="{NS}"}} > 1',
                       "local: projected GPU spend is over the budget",
                       f"At the last day's rate, GPU spend in {NS} this month will exceed the "
                       "$7500 budget.", "llm-cost"),
        _platform_rule("TrainingJobFailed", "1m",
                       f'kube_job_failed{{namespace="{NS}",job_name=~"train-.+",'
                       'condition="true"} > 0',
                       "local: a training job failed",
                       f"A training Job in {NS} reached the Failed condition after its "
                       "retries; its job_name label names it.", "llm-gpu"),
        _platform_rule("SpotInterruptionsHigh", "5m",
                       "sum by (pool) (increase(llm_training_spot_interruptions_total"
                       f'{{namespace="{NS}"}}[1h])) > 4',
                       "local: spot capacity is being reclaimed often",
                       "Training jobs were interrupted more than 4 times in the last hour in "
                       "one pool; checkpoints may not keep up.", "llm-gpu"),
        # a retraining trigger with action ticket pushed a condition it found holding
        _platform_rule("RetrainingDue", "1m",
                       "max by (training_job, model, reason) (llm_retraining_due"
                       f'{{namespace="{NS}",job="retrain-trigger",action="ticket"}}) > 0',
                       "local: a model is due for retraining",
                       f"The retraining trigger of a training job in {NS} (its training_job "
                       "label) found the retraining policy holding for a model (its model "
                       "label): reason drift (input drift over the threshold on enough days of "
                       "the window) or eval (the serving revision's eval score under the "
                       "floor). The trigger CronJob's log line gives the figures; see "
                       "runbooks/retraining-policy.md.", "llm-quality",
                       {"component": "retraining-trigger"}),
    ]


def test_prices_are_written_to_six_significant_digits():
    env = tuned_env()
    onprem = env.spec.onprem.model_copy(update={"gpu_hour_usd": 1.23456789})
    env = Environment(spec=env.spec.model_copy(update={"onprem": onprem}), plans=env.plans)
    (price, _) = RuleBuilder(env).platform_groups()[0]["rules"]
    assert price["expr"] == "vector(1.23457)"


def test_prometheus_rules_is_one_object_for_the_environment_and_one_per_model():
    env = tuned_env()
    rules = prometheus_rules(env)
    assert list(rules) == ["llm-platform", "llm-model-assistant"]
    assert [g["name"] for g in rules["llm-platform"]] == [
        "llm-local.prices", "llm-local.cost", "llm-local.alerts"]
    assert rules["llm-model-assistant"][2]["rules"] == expected_model_alerts()
    assert alert_names(rules) == {r["alert"] for r in expected_model_alerts()} | {
        r["alert"] for r in expected_platform_alerts()}

"""The engine-neutral half of the `llm:*` vocabulary: the series names the recording rules
write, selectors and PromQL helpers. Pure: no Pulumi.

The recording rules speak `llm:*` names with `namespace` and `model` labels whatever the
engine. Each engine module (components/engines/) maps the engine's own series to these
names (`Engine.metrics(selector).series()`); an engine that does not export what a name
needs leaves it out, and the rules and alerts built on it are left out for its models.
tests/test_engines.py holds every engine series name to the pinned release's list in
components/catalog/engines.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass

QUANTILES = (0.5, 0.95, 0.99)


def quantile_suffix(q: float) -> str:
    return f"p{round(q * 100)}"


# The engine-derived recording rules, in the order the model group writes them: the
# first block before the DCGM and cost records, the second after them.
ENGINE_SERIES_HEAD: tuple[str, ...] = (
    "llm:requests:rate5m",
    "llm:requests:rate1h",
    "llm:prompt_tokens:rate5m",
    "llm:completion_tokens:rate5m",
    *(f"llm:tpot_seconds:{quantile_suffix(q)}" for q in QUANTILES),
    *(f"llm:{name}_seconds:{quantile_suffix(q)}" for q in QUANTILES for name in ("ttft", "e2e")),
    "llm:requests_waiting",
    "llm:requests_running",
    "llm:kv_cache_usage:ratio",
)
ENGINE_SERIES_TAIL: tuple[str, ...] = (
    "llm:prefix_cache_hit:ratio_rate5m",
    "llm:preemptions:rate5m",
    "llm:output_tokens:mean1h",
    "llm:output_tokens:mean7d",
)
ENGINE_SERIES = ENGINE_SERIES_HEAD + ENGINE_SERIES_TAIL


def ttft_bucket(slo_ms: float, bounds_ms: tuple[float, ...]) -> float | None:
    """The histogram bound (ms) the TTFT SLO is counted at, or None below the first. A
    latency SLO is counted at a bucket bound, so the bound used is the largest one at or
    under the SLO: the alert can only be stricter than the SLO, never blind to a breach."""
    fitting = [b for b in bounds_ms if b <= slo_ms + 1e-9]
    return fitting[-1] if fitting else None


def le(bound: float) -> str:
    """The `le` label value the Python Prometheus client writes for a bucket bound."""
    return repr(float(bound))


def le_cpp(bound: float) -> str:
    """A regex for the `le` value prometheus-cpp writes for an integral bound: "500" or,
    in builds that print fixed precision, "500.000…"."""
    return f"{int(bound)}(\\\\.0+)?"


# Per-model records keep the revision that served each series (the ServiceMonitor copies it
# from the pod's label), so a canary's revision and its stable's show side by side. The SLO
# ratios and the drift baselines stay per model: an SLO is the model's, whatever revision
# served, and a 3-day window must not restart at every rollout.
BY_REVISION = "revision"


def sum_rate(metric: str, sel: str, window: str, by: str = "", offset: str = "") -> str:
    group = f" by ({by})" if by else ""
    shift = f" offset {offset}" if offset else ""
    return f"sum{group} (rate({metric}{{{sel}}}[{window}]{shift}))"


def rate_by_revision(metric: str, sel: str, window: str) -> str:
    return sum_rate(metric, sel, window, by=BY_REVISION)


def histogram_quantile(
    q: float, bucket: str, sel: str, window: str = "5m", by: str = "le"
) -> str:
    return f"histogram_quantile({q}, {sum_rate(bucket, sel, window, by=by)})"


def latency_quantiles(histograms: dict[str, str], sel: str) -> dict[str, str]:
    """`llm:<name>_seconds:<pNN>` at every quantile, from histograms observed in seconds
    (`name` -> the histogram's series name without `_bucket`)."""
    return {
        f"llm:{name}_seconds:{quantile_suffix(q)}": histogram_quantile(
            q, f"{hist}_bucket", sel, by=f"le, {BY_REVISION}"
        )
        for q in QUANTILES
        for name, hist in histograms.items()
    }


def output_tokens_means(hist: str, sel: str) -> dict[str, str]:
    """Mean output tokens per request over the last hour and the week before it (the
    drift baseline), from a histogram of tokens per finished request."""

    def mean(window: str, offset: str = "") -> str:
        total = sum_rate(f"{hist}_sum", sel, window, offset=offset)
        return f"{total} / {sum_rate(f'{hist}_count', sel, window, offset=offset)}"

    return {"llm:output_tokens:mean1h": mean("1h"), "llm:output_tokens:mean7d": mean("7d", "1h")}


@dataclass(frozen=True)
class Selector:
    """The label matchers that pick one model's series."""

    namespace: str
    model: str

    @property
    def base(self) -> str:
        return f'namespace="{self.namespace}",model="{self.model}"'


# DCGM exporter (dcgm-exporter 3.x default counters): utilisation in percent, framebuffer
# in MiB. With honorLabels the exporter's pod/namespace labels name the workload's pod.
DCGM_UTIL = "DCGM_FI_DEV_GPU_UTIL"
DCGM_FB_USED = "DCGM_FI_DEV_FB_USED"
DCGM_FB_FREE = "DCGM_FI_DEV_FB_FREE"


def pod_regex(deployment: str) -> str:
    """A Deployment's pods are <name>-<replicaset hash>-<5 chars>; anchoring the shape keeps
    model `chat` from matching the pods of model `chat-v2`."""
    return f"{deployment}-[a-z0-9]{{5,10}}-[a-z0-9]{{5}}"


# Pushed to the Pushgateway by the quality monitor (components/quality), one group per
# model, and by training jobs. The job label keeps them apart from scraped series.
QUALITY_JOB = "llm-quality-monitor"
Q_REFUSAL_RATIO = "llm_quality_refusal_ratio"
Q_INPUT_MMD2 = "llm_quality_input_mmd2"
Q_INPUT_PVALUE = "llm_quality_input_pvalue"
Q_OUTPUT_TOKENS_MEAN = "llm_quality_output_tokens_mean"
Q_OUTPUT_LENGTH_KS = "llm_quality_output_length_ks"
Q_SAMPLE_SIZE = "llm_quality_sample_size"
Q_LAST_RUN = "llm_quality_last_run_timestamp_seconds"
# Pushed by the model lifecycle's runtime (components/lifecycle/): the verify-weights init
# container, 1 on a bad copy and 0 on a good one, grouped by model and revision; the eval
# gate, its pass (1) or failure (0) and each side's score, grouped by model with the
# revision it judged as a label.
VERIFY_JOB = "model-verify"
ARTIFACT_INVALID = "llm_model_artifact_invalid"  # model, revision
EVAL_GATE_JOB = "eval-gate"
EVAL_GATE_PASSED = "llm_eval_gate_passed"  # model, revision
EVAL_SCORE = "llm_eval_score"  # model, revision, role
# The Argo Rollouts controller's gauge of each Rollout's phase (controller/metrics/
# prommetrics.go MetricRolloutInfo, labels namespace, name, strategy, traffic_router, phase;
# rollouts.go calculatePhase: "Abort" while aborted; argo-rollouts v1.9.0). The chart's
# ServiceMonitor sets no honorLabels (templates/controller/servicemonitor.yaml, chart
# 2.41.0), so the Rollout's namespace arrives as exported_namespace.
ROLLOUT_INFO = "rollout_info"
ROLLOUT_REPLICAS_AVAILABLE = "rollout_info_replicas_available"
ROLLOUT_REPLICAS_UNAVAILABLE = "rollout_info_replicas_unavailable"
ROLLOUT_ABORT_PHASE = "Abort"
# A training job's interruption counter, kept in its checkpoint so it survives restarts
# and pushed on every restart with grouping key {job, pool}.
SPOT_INTERRUPTIONS = "llm_training_spot_interruptions_total"
TRAINING_JOB_PREFIX = "train-"
# Pushed by a training job's retraining trigger (components/training/trigger.py), grouped by
# training_job, labels model, reason (drift|eval) and action (ticket|train): the first day of
# a retraining condition it acted on, while the condition holds.
RETRAIN_TRIGGER_JOB = "retrain-trigger"
RETRAINING_DUE = "llm_retraining_due"
# Exported by the gateway (components/gateway/callbacks.py, the issue 16 contract) on
# LiteLLM's /metrics/, scraped through the ServiceMonitor whose job label is the Service
# name. The gauges are per replica, each replica reading the same ledger: rules take max.
GATEWAY_JOB = "llm-gateway"
GW_REQUESTS = "llm_gateway_requests_total"  # team, model, served_by, code
GW_TOKENS = "llm_gateway_tokens_total"  # team, model, served_by, direction
GW_SPEND = "llm_gateway_spend_usd_total"  # team, model, served_by
GW_RATE_LIMITED = "llm_gateway_rate_limited_total"  # team, model, limit
GW_FALLBACKS = "llm_gateway_fallbacks_total"  # team, model, reason
GW_REFUSALS = "llm_gateway_refusals_total"  # team, model
GW_TEAM_BUDGET = "llm_gateway_team_budget_usd"  # team
GW_TEAM_SPEND = "llm_gateway_team_spend_usd"  # team, month to date
GW_CEILING = "llm_gateway_ceiling_usd"
GW_SPEND_MONTH = "llm_gateway_spend_month_usd"  # environment, month to date
# The shadow copies of sampled requests to a model's candidate revision (issue 17): each
# copy's outcome; each pair both answered, scored with the eval gate's scorers; refusals
# among those scored pairs, the candidate's and the incumbent's. The canary's shadow
# analysis (components/observability/analysis.py) reads them.
GW_SHADOW_REQUESTS = "llm_gateway_shadow_requests_total"  # model, revision, outcome
GW_SHADOW_SCORE_SUM = "llm_gateway_shadow_score_sum"  # model, revision
GW_SHADOW_SCORE_COUNT = "llm_gateway_shadow_score_count"  # model, revision
GW_SHADOW_REFUSALS = "llm_gateway_shadow_refusals_total"  # model, revision, role
# Labels each gateway series carries besides the scrape target's, for the series contract.
GATEWAY_SERIES: dict[str, tuple[str, ...]] = {
    GW_REQUESTS: ("team", "model", "served_by", "code"),
    GW_TOKENS: ("team", "model", "served_by", "direction"),
    GW_SPEND: ("team", "model", "served_by"),
    GW_RATE_LIMITED: ("team", "model", "limit"),
    GW_FALLBACKS: ("team", "model", "reason"),
    GW_REFUSALS: ("team", "model"),
    GW_TEAM_BUDGET: ("team",),
    GW_TEAM_SPEND: ("team",),
    GW_CEILING: (),
    GW_SPEND_MONTH: (),
    GW_SHADOW_REQUESTS: ("model", "revision", "outcome"),
    GW_SHADOW_SCORE_SUM: ("model", "revision"),
    GW_SHADOW_SCORE_COUNT: ("model", "revision"),
    GW_SHADOW_REFUSALS: ("model", "revision", "role"),
}

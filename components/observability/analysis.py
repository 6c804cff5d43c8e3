"""The Prometheus metrics of a model's Argo Rollouts analyses: the canary against the stable
ReplicaSet during traffic steps, and the candidate's shadow traffic before any. Pure: no
Pulumi; the AnalysisTemplate builders (components/kubernetes/) turn each `PromMetric` into a
metric of the template.

How Argo Rollouts v1.9.0 reads these (argoproj/argo-rollouts@v1.9.0):
- `{{args.<name>}}` in a metric is replaced with the run's argument before the query is sent
  (utils/analysis/factory.go ResolveMetricArgs: the metric is JSON-marshalled and passed to
  utils/template/template.go ResolveQuotedArgs, a fasttemplate on "{{" "}}"); an argument
  with no value fails the run. So the queries hold no other "{{" or "}}".
- The Prometheus provider turns an instant vector into `result`, a []float64 of the sample
  values in order, and a scalar into a float64 (metricproviders/prometheus/prometheus.go
  processResponse, lines 155-188), and evaluates the conditions on it with expr
  (utils/evaluate/evaluate.go EvalCondition). With only a failureCondition, a measurement
  that does not meet it is Successful (evaluate.go EvaluateResult, lines 43-45).
- An empty vector makes `result[0]` an expr runtime error: the measurement is an Error
  (evaluate.go lines 29-33, EvalCondition lines 119-122), and more than
  consecutiveErrorLimit of them in a row (default 4, utils/defaults/defaults.go
  DefaultConsecutiveErrorLimit) fail the run (analysis/analysis.go lines 681-685); a run in
  Error or Failed aborts the rollout (rollout/analysis.go lines 376-381; an experiment's
  analysis, rollout/experiment.go line 194). A NaN is a value, but a reader cannot tell it
  from a broken query.
So every query here returns exactly one sample, whatever the traffic: where there is
nothing to compare (no requests, or none failed on either side) it returns NO_DATA, which
every condition passes. No traffic never aborts; only a measured regression does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from components.engines.base import Engine, EngineMetrics
from components.observability import metrics as m

# The argument names the canary analysis's AnalysisTemplate declares; the Rollout passes
# them from `valueFrom: podTemplateHashValue: Latest|Stable`.
CANARY_HASH_ARG = "canary-hash"
STABLE_HASH_ARG = "stable-hash"
# The label the ServiceMonitors copy Argo's rollouts-pod-template-hash pod label to
# (components/kubernetes/model_server/network.py).
HASH_LABEL = "pod_template_hash"
# Nothing to judge. Below every real value of a factor or a score, so no failure condition
# here holds for it, and plainly not a measurement when read in the AnalysisRun's status.
# (It is also the lowest refusal difference, a candidate that never refuses where the
# incumbent always did: that passes as well.)
NO_DATA = -1
# Each measurement looks at the last 5 minutes, the window the engines' `llm:*` latency
# quantiles use (components/observability/metrics.py latency_quantiles), measured as often.
WINDOW = "5m"
INTERVAL = "5m"
# One measurement over a threshold fails; a second aborts (Argo: the run fails when failed
# measurements exceed failureLimit, analysis/analysis.go lines 662-670). One 5-minute
# window with a burst of errors in a single canary pod is not yet a regression.
FAILURE_LIMIT = 1
# The shadow metrics judge their cumulative mean only from this many scored pairs on: below
# it, one answer moves a mean of 0/1 scores by 5 points or more, as much as a typical
# min_score margin. A design choice, not an upstream default.
SHADOW_MIN_SAMPLES = 20


class AbortFactors(Protocol):
    """The spec's `rollout.abort` thresholds (args.AbortThresholds has these fields)."""

    error_ratio_factor: float
    ttft_p95_factor: float
    refusal_rate_increase: float
    cost_per_request_factor: float


@dataclass(frozen=True)
class PromMetric:
    """One metric of an AnalysisTemplate on the Prometheus provider. `count` None: measured
    every `interval` until the run is ended by its Rollout or Experiment."""

    name: str
    query: str
    # An expr expression on `result` (a one-element list here): true fails the measurement.
    failure_condition: str
    interval: str = INTERVAL
    failure_limit: int = FAILURE_LIMIT
    count: int | None = None

    def argo(self, address: str) -> dict[str, Any]:
        """The AnalysisTemplate `spec.metrics[]` entry (fields of the Metric type,
        pkg/apis/rollouts/v1alpha1/analysis_types.go, argo-rollouts v1.9.0)."""
        out: dict[str, Any] = {
            "name": self.name,
            "interval": self.interval,
            "failureLimit": self.failure_limit,
            "failureCondition": self.failure_condition,
            "provider": {"prometheus": {"address": address, "query": self.query}},
        }
        if self.count is not None:
            out["count"] = self.count
        return out


def _n(x: float) -> str:
    return f"{x:.6g}"


def _one(expr: str) -> str:
    """`expr`, a vector of at most one sample, as exactly one sample: a NaN (0/0, a
    quantile of no observations) or a missing series become NO_DATA. Every join here is
    `on ()`: the two sides serve different revisions, and a `revision` label must not keep
    them apart; `max` of the one sample drops the labels the left side kept. `> -Inf`
    keeps every number, +Inf included (canary errors where the stable has none), and
    drops NaN, which compares false; `or` fills the gap."""
    return f"max(({expr}) > -Inf) or vector({NO_DATA})"


def _over(limit: float) -> str:
    return f"result[0] > {_n(limit)}"


@dataclass(frozen=True)
class _HashSelector(m.Selector):
    """One ReplicaSet's series of a model: its pods' hash, an Argo argument placeholder."""

    arg: str = CANARY_HASH_ARG

    @property
    def base(self) -> str:
        return f'{super().base},{HASH_LABEL}="{{{{args.{self.arg}}}}}"'


def _sides(namespace: str, model: str) -> tuple[_HashSelector, _HashSelector]:
    return (
        _HashSelector(namespace, model, CANARY_HASH_ARG),
        _HashSelector(namespace, model, STABLE_HASH_ARG),
    )


def canary_metrics(
    namespace: str, model: str, engine: Engine, abort: AbortFactors
) -> list[PromMetric]:
    """Canary against stable, each the ratio of the canary's value to the stable's; a
    measurement fails when the ratio is over the spec's factor. An engine that exports no
    time-to-first-token histogram (TGI v3.3.7, components/engines/tgi.py) has no TTFT
    metric. The refusal comparison is a Job metric (components.lifecycle.compare): without
    a traffic router the gateway cannot tell which ReplicaSet answered a request."""
    canary, stable = _sides(namespace, model)
    c, s = engine.metrics(canary), engine.metrics(stable)
    out = [
        PromMetric(
            name="error-ratio",
            query=_one(f"{_error_ratio(c)} / on () {_error_ratio(s)}"),
            failure_condition=_over(abort.error_ratio_factor),
        )
    ]
    p95 = f"llm:ttft_seconds:{m.quantile_suffix(0.95)}"
    if p95 in (cs := c.series()):
        out.append(
            PromMetric(
                name="ttft-p95",
                query=_one(f"({cs[p95]}) / on () ({s.series()[p95]})"),
                failure_condition=_over(abort.ttft_p95_factor),
            )
        )
    out.append(
        PromMetric(
            name="cost-per-request",
            query=_one(
                f"({_pods_per_request(canary, c)}) / on () ({_pods_per_request(stable, s)})"
            ),
            failure_condition=_over(abort.cost_per_request_factor),
        )
    )
    return out


def _error_ratio(series: EngineMetrics) -> str:
    """The engine's error ratio, or 0 where the ReplicaSet has requests but no failure
    series yet: TGI's and SGLang's failure counters appear at their first failure, and a
    stable ReplicaSet that never failed must still make a failing canary's ratio +Inf."""
    requests = series.series()["llm:requests:rate5m"]
    return f"(({series.error_ratio(WINDOW)}) or on () (({requests} > 0) * 0))"


def _pods_per_request(sel: m.Selector, series: EngineMetrics) -> str:
    """A ReplicaSet's pods over its requests per second. Cost per request is GPU price per
    hour x GPUs per pod x pods / requests; canary and stable run the same pod template's GPU
    count on the same pool at the same price (components/pricing.py gpu_hour_usd), so the
    canary-to-stable ratio of costs per request is the ratio of pods per request. Every pod
    is a scrape target, healthy or not (`up`, one per target); no requests: no value."""
    requests = series.series()["llm:requests:rate5m"]
    return f"count(up{{{sel.base}}}) / on () ({requests} > 0)"


def shadow_metrics(
    namespace: str,
    model: str,
    revision: str,
    min_score: float,
    abort: AbortFactors,
    duration_s: int,
) -> list[PromMetric]:
    """The candidate's shadow traffic (the gateway's `llm_gateway_shadow_*` series of the
    candidate `revision`), judged over the whole shadow period so far, every INTERVAL,
    from SHADOW_MIN_SAMPLES on: its mean score against min_score, its failed or timed-out
    share against the incumbent's 5xx share of the same model's requests through the
    gateway (error_ratio_factor), and its refusals against the incumbent's on the same
    scored prompts (refusal_rate_increase)."""
    window = f"{duration_s}s"
    shadow = f'{_gateway(namespace)},model="{model}",revision="{revision}"'
    model_sel = f'{_gateway(namespace)},model="{model}"'

    def total(metric: str, extra: str = "", sel: str = shadow) -> str:
        return f"sum(increase({metric}{{{sel}{extra}}}[{window}]))"

    def some(metric: str, extra: str, sel: str = shadow) -> str:
        # A labelled counter has no series until its first increment: none is zero.
        return f"({total(metric, extra, sel)} or vector(0))"

    scored = f"({total(m.GW_SHADOW_SCORE_COUNT)} >= {SHADOW_MIN_SAMPLES})"
    sent = f"({total(m.GW_SHADOW_REQUESTS)} >= {SHADOW_MIN_SAMPLES})"
    failed = some(m.GW_SHADOW_REQUESTS, ',outcome!="ok"')
    server_errors, answered = ',code=~"5.."', ',code=~"2..|5.."'
    incumbent = (
        f"{some(m.GW_REQUESTS, server_errors, model_sel)} / "
        f"{total(m.GW_REQUESTS, answered, model_sel)}"
    )
    candidate, incumbent_role = ',role="candidate"', ',role="incumbent"'
    refused = (
        f"{some(m.GW_SHADOW_REFUSALS, candidate)} - {some(m.GW_SHADOW_REFUSALS, incumbent_role)}"
    )
    return [
        PromMetric(
            name="shadow-score",
            query=_one(f"{total(m.GW_SHADOW_SCORE_SUM)} / {scored}"),
            failure_condition=f"result[0] >= 0 && result[0] < {_n(min_score)}",
        ),
        PromMetric(
            name="shadow-error-ratio",
            query=_one(f"({failed} / {sent}) / ({incumbent})"),
            failure_condition=_over(abort.error_ratio_factor),
        ),
        PromMetric(
            name="shadow-refusal-increase",
            query=_one(f"({refused}) / {scored}"),
            failure_condition=_over(abort.refusal_rate_increase),
        ),
    ]


def _gateway(namespace: str) -> str:
    return f'namespace="{namespace}",job="{m.GATEWAY_JOB}"'

"""What each engine exports, and the PromQL that turns it into one vocabulary.

The recording rules speak `llm:*` names with `namespace` and `model` labels whatever the
engine; this module is the only place that knows engine metric names. Pure: no Pulumi.

Every series name used here, and every label value selected on, is in the pinned release's
list in components/catalog/engines.yaml (vLLM v0.33.0; Triton 25.05 with TensorRT-LLM
0.19.0), generated from their source; tests/test_engines.py parses the rendered PromQL and
holds it to that list.

Triton with the TensorRT-LLM backend exports request counts, queue and KV-cache blocks
(nv_trt_llm_*), latency quantiles with `--metrics-config summary_latencies=true` and the
first-response histogram with `histogram_latencies=true`. It exports no per-token latency
and no token counters, so those rules exist for vLLM models only.
"""

from __future__ import annotations

from dataclasses import dataclass

# vLLM's TTFT histogram bounds in seconds (TIME_TO_FIRST_TOKEN_BUCKETS,
# vllm/v1/metrics/buckets.py, v0.33.0). A latency SLO is counted at a bucket bound, so the
# bound used is the largest one at or under the SLO: the alert can only be stricter than
# the SLO, never blind to a breach.
VLLM_TTFT_BUCKETS_S = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
# Triton's default nv_inference_first_response_histogram_ms bounds, in milliseconds
# (MetricReporterConfig::histogram_options_, core src/metric_model_reporter.h, r25.05).
# A model config's model_metrics can change them; the model repository is built outside
# the platform, so the defaults are what we can count on.
TRITON_TTFT_BUCKETS_MS = (100, 500, 2000, 5000)

# Triton labels every metric with its own `model` (the Triton model name); our scrape
# config's `model` label wins, and Prometheus keeps Triton's as `exported_model`. Requests
# enter a TensorRT-LLM model repository through its `ensemble` model; counting the inner
# models too would count each request once per step.
TRITON_ENTRY_MODEL = "ensemble"
# A failed ensemble request adds 2 to the ensemble's nv_inference_request_failure: once when
# EnsembleContext::FinishEnsemble responds with the error (InferenceRequest::RespondIfError)
# and once when RequestTracker::DecrementCounter reports the request's statistics
# (core src/ensemble_scheduler/ensemble_scheduler.cc, r25.05). Triton's own test expects 4
# for 2 rejected ensemble requests (qa/L0_model_queue/model_queue_test.py
# test_policy_reject, server v2.58.0).
TRITON_ENSEMBLE_FAILURES_PER_REQUEST = 2

QUANTILES = (0.5, 0.95, 0.99)

# The API handlers of vLLM's OpenAI server, as prometheus-fastapi-instrumentator labels
# them in http_requests_total (status grouped as 2xx/4xx/5xx); route paths from
# vllm/entrypoints, v0.33.0.
VLLM_API_HANDLERS = "/v1/chat/completions|/v1/completions|/v1/responses"
# vLLM finishes a request with reason "error" on an internal failure; a streamed request
# that fails this way has already answered 200 (OpenAIServing._raise_if_error,
# vllm/entrypoints/generate/base/serving.py, v0.33.0). "abort" is the client going away
# (FinishReason, vllm/v1/engine/__init__.py), not a server failure.
VLLM_FAILED_REASON = "error"


def ttft_bucket(slo_ms: float, bounds_ms: tuple[float, ...]) -> float | None:
    """The histogram bound (ms) the TTFT SLO is counted at, or None below the first."""
    fitting = [b for b in bounds_ms if b <= slo_ms + 1e-9]
    return fitting[-1] if fitting else None


def le(bound: float) -> str:
    """The `le` label value the Python Prometheus client writes for a bucket bound."""
    return repr(float(bound))


def le_cpp(bound: float) -> str:
    """A regex for the `le` value prometheus-cpp writes for an integral bound: "500" or,
    in builds that print fixed precision, "500.000…"."""
    return f"{int(bound)}(\\\\.0+)?"


def _sum_rate(metric: str, sel: str, window: str, by: str = "", offset: str = "") -> str:
    group = f" by ({by})" if by else ""
    shift = f" offset {offset}" if offset else ""
    return f"sum{group} (rate({metric}{{{sel}}}[{window}]{shift}))"


@dataclass(frozen=True)
class Selector:
    """The label matchers that pick one model's series."""

    namespace: str
    model: str

    @property
    def base(self) -> str:
        return f'namespace="{self.namespace}",model="{self.model}"'


class VllmMetrics:
    kind = "vllm"
    ttft_buckets_ms = tuple(b * 1000 for b in VLLM_TTFT_BUCKETS_S)

    def __init__(self, sel: Selector):
        self.sel = sel.base

    def requests_rate(self, window: str) -> str:
        return _sum_rate("vllm:request_success_total", self.sel, window)

    def prompt_tokens_rate(self, window: str) -> str:
        return _sum_rate("vllm:prompt_tokens_total", self.sel, window)

    def completion_tokens_rate(self, window: str) -> str:
        return _sum_rate("vllm:generation_tokens_total", self.sel, window)

    def error_ratio(self, window: str) -> str:
        """Failed requests over API requests, each failure counted once. A failure shows as
        a 5xx (before the engine, or an engine error on a non-streamed request), as an
        engine "error" finish (an engine error, streamed or not), or as both. Per pod the
        larger of the two counts each failure once when only one kind occurs, and never
        counts one twice; `(a >= b) or b or a` is that maximum when either side may have
        no series yet."""
        api = f'{self.sel},handler=~"{VLLM_API_HANDLERS}"'
        http = _sum_rate("http_requests_total", f'{api},status="5xx"', window, by="pod")
        engine = _sum_rate(
            "vllm:request_success_total",
            f'{self.sel},finished_reason="{VLLM_FAILED_REASON}"',
            window,
            by="pod",
        )
        failed = f"sum (({http} >= {engine}) or {engine} or {http})"
        return f"{failed} / {_sum_rate('http_requests_total', api, window)}"

    def slow_ttft_ratio(self, window: str, bound_ms: float) -> str:
        fast = _sum_rate(
            "vllm:time_to_first_token_seconds_bucket",
            f'{self.sel},le="{le(bound_ms / 1000)}"',
            window,
        )
        total = _sum_rate("vllm:time_to_first_token_seconds_count", self.sel, window)
        return f"1 - ({fast} / {total})"

    def _quantile(self, q: float, metric: str, window: str) -> str:
        rate = _sum_rate(f"{metric}_bucket", self.sel, window, by="le")
        return f"histogram_quantile({q}, {rate})"

    def ttft_quantile(self, q: float) -> str:
        return self._quantile(q, "vllm:time_to_first_token_seconds", "5m")

    def tpot_quantile(self, q: float) -> str:
        return self._quantile(q, "vllm:inter_token_latency_seconds", "5m")

    def e2e_quantile(self, q: float) -> str:
        return self._quantile(q, "vllm:e2e_request_latency_seconds", "5m")

    def waiting(self) -> str:
        return f"sum(vllm:num_requests_waiting{{{self.sel}}})"

    def running(self) -> str:
        return f"sum(vllm:num_requests_running{{{self.sel}}})"

    def kv_usage(self) -> str:
        # A 0..1 fraction despite the _perc suffix.
        return f"max(vllm:kv_cache_usage_perc{{{self.sel}}})"

    def prefix_hit_ratio(self, window: str) -> str:
        hits = _sum_rate("vllm:prefix_cache_hits_total", self.sel, window)
        return f"{hits} / {_sum_rate('vllm:prefix_cache_queries_total', self.sel, window)}"

    def preemptions_rate(self, window: str) -> str:
        return _sum_rate("vllm:num_preemptions_total", self.sel, window)

    def output_tokens_mean(self, window: str, offset: str = "") -> str:
        total = _sum_rate("vllm:request_generation_tokens_sum", self.sel, window, offset=offset)
        count = _sum_rate("vllm:request_generation_tokens_count", self.sel, window, offset=offset)
        return f"{total} / {count}"


class TritonMetrics:
    kind = "tensorrt-llm"
    ttft_buckets_ms = TRITON_TTFT_BUCKETS_MS

    def __init__(self, sel: Selector):
        self.sel = sel.base
        self.entry = f'{self.sel},exported_model="{TRITON_ENTRY_MODEL}"'

    def requests_rate(self, window: str) -> str:
        return _sum_rate("nv_inference_request_success", self.entry, window)

    def error_ratio(self, window: str) -> str:
        raw = _sum_rate("nv_inference_request_failure", self.entry, window)
        failed = f"({raw} / {TRITON_ENSEMBLE_FAILURES_PER_REQUEST})"
        ok = _sum_rate("nv_inference_request_success", self.entry, window)
        return f"{failed} / ({failed} + {ok})"

    def slow_ttft_ratio(self, window: str, bound_ms: float) -> str:
        hist = "nv_inference_first_response_histogram_ms"
        fast = _sum_rate(f"{hist}_bucket", f'{self.entry},le=~"{le_cpp(bound_ms)}"', window)
        return f"1 - ({fast} / {_sum_rate(f'{hist}_count', self.entry, window)})"

    def ttft_quantile(self, q: float) -> str:
        hist = "nv_inference_first_response_histogram_ms_bucket"
        rate = _sum_rate(hist, self.entry, "5m", by="le")
        return f"histogram_quantile({q}, {rate}) / 1000"

    def e2e_quantile(self, q: float) -> str:
        # Triton's summary is in microseconds and already a quantile per server; the worst
        # server is what the slowest users see. The quantile label's trailing zeros depend
        # on the client library's formatting, so it is matched as a prefix.
        return f'max(nv_inference_request_summary_us{{{self.entry},quantile=~"{q}0*"}}) / 1e6'

    def waiting(self) -> str:
        return f'sum(nv_trt_llm_request_metrics{{{self.sel},request_type="waiting"}})'

    def running(self) -> str:
        return f'sum(nv_trt_llm_request_metrics{{{self.sel},request_type="active"}})'

    def kv_usage(self) -> str:
        used = f'sum(nv_trt_llm_kv_cache_block_metrics{{{self.sel},kv_cache_block_type="used"}})'
        total = f'sum(nv_trt_llm_kv_cache_block_metrics{{{self.sel},kv_cache_block_type="max"}})'
        return f"{used} / {total}"


EngineMetrics = VllmMetrics | TritonMetrics


def engine_metrics(kind: str, sel: Selector) -> EngineMetrics:
    return VllmMetrics(sel) if kind == "vllm" else TritonMetrics(sel)


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
# A training job's interruption counter, kept in its checkpoint so it survives restarts
# and pushed on every restart with grouping key {job, pool}.
SPOT_INTERRUPTIONS = "llm_training_spot_interruptions_total"
TRAINING_JOB_PREFIX = "train-"

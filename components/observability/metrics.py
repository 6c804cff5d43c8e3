"""What each engine exports, and the PromQL that turns it into one vocabulary.

The recording rules speak `llm:*` names with `namespace` and `model` labels whatever the
engine; this module is the only place that knows engine metric names. Pure: no Pulumi.

vLLM: the rules target the metric names of vLLM v0.11.0, the release the example stacks
pin (vllm/vllm-openai:v0.11.0; names from docs/design/metrics.md and
vllm/v1/metrics/loggers.py at that tag, read 2026-11). Four metrics were renamed on the way
to 0.11; for each, the rules ask for the new name first and fall back to the old one with
PromQL `or`, so a fleet mid-upgrade keeps one continuous series per model:

    vllm:kv_cache_usage_perc          <- vllm:gpu_cache_usage_perc
    vllm:prefix_cache_queries_total   <- vllm:gpu_prefix_cache_queries_total
    vllm:prefix_cache_hits_total      <- vllm:gpu_prefix_cache_hits_total
    vllm:inter_token_latency_seconds  <- vllm:time_per_output_token_seconds

Triton with the TensorRT-LLM backend exports request counts, queue and KV-cache blocks
(nv_trt_llm_*), and latency quantiles when started with
`--metrics-config summary_latencies=true`. It exports no time-to-first-token, no
per-token latency and no token counters, so those rules, and the TTFT SLO alerts, exist
for vLLM models only; the plan warns about it.
"""

from __future__ import annotations

from dataclasses import dataclass

VLLM_TARGET_VERSION = "v0.11.0"

# vLLM's TTFT histogram bounds in seconds (vllm/v1/metrics/loggers.py, v0.11.0, read
# 2026-11). A latency SLO is counted at a bucket bound, so the bound used is the largest one
# at or under the SLO: the alert can only be stricter than the SLO, never blind to a breach.
VLLM_TTFT_BUCKETS_S = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip

# Triton labels every metric with its own `model` (the Triton model name); our scrape
# config's `model` label wins, and Prometheus keeps Triton's as `exported_model`. Requests
# enter a TensorRT-LLM model repository through its `ensemble` model; counting the inner
# models too would count each request three times.
TRITON_ENTRY_MODEL = "ensemble"

QUANTILES = (0.5, 0.95, 0.99)

# Where the two API handlers of vLLM's OpenAI server are counted by
# prometheus-fastapi-instrumentator (status grouped as 2xx/4xx/5xx).
VLLM_API_HANDLERS = "/v1/chat/completions|/v1/completions"


def ttft_bucket(slo_ms: float) -> float | None:
    """The histogram bound the TTFT SLO is counted at, or None below the first bucket."""
    fitting = [b for b in VLLM_TTFT_BUCKETS_S if b <= slo_ms / 1000 + 1e-12]
    return fitting[-1] if fitting else None


def le(bound: float) -> str:
    """The `le` label value the Python Prometheus client writes for a bucket bound."""
    return repr(float(bound))


def _sum_rate(metric: str, sel: str, window: str, by: str = "", offset: str = "") -> str:
    group = f" by ({by})" if by else ""
    shift = f" offset {offset}" if offset else ""
    return f"sum{group} (rate({metric}{{{sel}}}[{window}]{shift}))"


def _renamed_rate(new: str, old: str, sel: str, window: str) -> str:
    return f"({_sum_rate(new, sel, window)} or {_sum_rate(old, sel, window)})"


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
    has_tokens = True
    has_ttft = True

    def __init__(self, sel: Selector):
        self.sel = sel.base

    def requests_rate(self, window: str) -> str:
        return _sum_rate("vllm:request_success_total", self.sel, window)

    def prompt_tokens_rate(self, window: str) -> str:
        return _sum_rate("vllm:prompt_tokens_total", self.sel, window)

    def completion_tokens_rate(self, window: str) -> str:
        return _sum_rate("vllm:generation_tokens_total", self.sel, window)

    def error_ratio(self, window: str) -> str:
        api = f'{self.sel},handler=~"{VLLM_API_HANDLERS}"'
        errors = _sum_rate("http_requests_total", f'{api},status="5xx"', window)
        return f"{errors} / {_sum_rate('http_requests_total', api, window)}"

    def slow_ttft_ratio(self, window: str, bound_s: float) -> str:
        fast = _sum_rate(
            "vllm:time_to_first_token_seconds_bucket", f'{self.sel},le="{le(bound_s)}"', window
        )
        total = _sum_rate("vllm:time_to_first_token_seconds_count", self.sel, window)
        return f"1 - ({fast} / {total})"

    def _quantile(self, q: float, metric: str, window: str, old: str | None = None) -> str:
        rate = _sum_rate(f"{metric}_bucket", self.sel, window, by="le")
        if old:
            rate = f"({rate} or {_sum_rate(f'{old}_bucket', self.sel, window, by='le')})"
        return f"histogram_quantile({q}, {rate})"

    def ttft_quantile(self, q: float) -> str:
        return self._quantile(q, "vllm:time_to_first_token_seconds", "5m")

    def tpot_quantile(self, q: float) -> str:
        return self._quantile(
            q, "vllm:inter_token_latency_seconds", "5m", old="vllm:time_per_output_token_seconds"
        )

    def e2e_quantile(self, q: float) -> str:
        return self._quantile(q, "vllm:e2e_request_latency_seconds", "5m")

    def waiting(self) -> str:
        return f"sum(vllm:num_requests_waiting{{{self.sel}}})"

    def running(self) -> str:
        return f"sum(vllm:num_requests_running{{{self.sel}}})"

    def kv_usage(self) -> str:
        # Both names are 0..1 fractions despite the _perc suffix.
        return (
            f"(max(vllm:kv_cache_usage_perc{{{self.sel}}})"
            f" or max(vllm:gpu_cache_usage_perc{{{self.sel}}}))"
        )

    def prefix_hit_ratio(self, window: str) -> str:
        hits = _renamed_rate(
            "vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total", self.sel, window
        )
        queries = _renamed_rate(
            "vllm:prefix_cache_queries_total",
            "vllm:gpu_prefix_cache_queries_total",
            self.sel,
            window,
        )
        return f"{hits} / {queries}"

    def preemptions_rate(self, window: str) -> str:
        return _sum_rate("vllm:num_preemptions_total", self.sel, window)

    def output_tokens_mean(self, window: str, offset: str = "") -> str:
        total = _sum_rate("vllm:request_generation_tokens_sum", self.sel, window, offset=offset)
        count = _sum_rate("vllm:request_generation_tokens_count", self.sel, window, offset=offset)
        return f"{total} / {count}"


class TritonMetrics:
    kind = "tensorrt-llm"
    has_tokens = False
    has_ttft = False

    def __init__(self, sel: Selector):
        self.sel = sel.base
        self.entry = f'{self.sel},exported_model="{TRITON_ENTRY_MODEL}"'

    def requests_rate(self, window: str) -> str:
        return _sum_rate("nv_inference_request_success", self.entry, window)

    def error_ratio(self, window: str) -> str:
        failed = _sum_rate("nv_inference_request_failure", self.entry, window)
        ok = _sum_rate("nv_inference_request_success", self.entry, window)
        return f"{failed} / ({failed} + {ok})"

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

"""vLLM's OpenAI-compatible server (pinned release: components/catalog/engines.yaml)."""

from __future__ import annotations

from typing import Any

from components.engines.base import (
    HTTP_PORT,
    MODELS_MOUNT,
    SCRATCH_MOUNT,
    EngineMetrics,
    GpuFacts,
    Probes,
    Shutdown,
    adapter_rule,
    drain_shutdown,
)
from components.observability.metrics import (
    Selector,
    latency_quantiles,
    le,
    output_tokens_means,
    sum_rate,
)
from components.sizing import ServingPlan

# vLLM's TTFT histogram bounds in seconds (TIME_TO_FIRST_TOKEN_BUCKETS,
# vllm/v1/metrics/buckets.py, v0.33.0).
VLLM_TTFT_BUCKETS_S = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip

# The API handlers of vLLM's OpenAI server, as prometheus-fastapi-instrumentator labels
# them in http_requests_total (status grouped as 2xx/4xx/5xx); route paths from
# vllm/entrypoints, v0.33.0.
VLLM_API_HANDLERS = "/v1/chat/completions|/v1/completions|/v1/responses"
# vLLM finishes a request with reason "error" on an internal failure; a streamed request
# that fails this way has already answered 200 (OpenAIServing._raise_if_error,
# vllm/entrypoints/generate/base/serving.py, v0.33.0). "abort" is the client going away
# (FinishReason, vllm/v1/engine/__init__.py), not a server failure.
VLLM_FAILED_REASON = "error"


class VllmMetrics:
    """vLLM's own series (vllm/v1/metrics/loggers.py, v0.33.0) as `llm:*` records."""

    ttft_buckets_ms = tuple(b * 1000 for b in VLLM_TTFT_BUCKETS_S)

    def __init__(self, sel: Selector):
        self.sel = sel.base

    def series(self) -> dict[str, str]:
        s = self.sel
        out = {
            "llm:requests:rate5m": sum_rate("vllm:request_success_total", s, "5m"),
            "llm:requests:rate1h": sum_rate("vllm:request_success_total", s, "1h"),
            "llm:prompt_tokens:rate5m": sum_rate("vllm:prompt_tokens_total", s, "5m"),
            "llm:completion_tokens:rate5m": sum_rate("vllm:generation_tokens_total", s, "5m"),
            "llm:requests_waiting": f"sum(vllm:num_requests_waiting{{{s}}})",
            "llm:requests_running": f"sum(vllm:num_requests_running{{{s}}})",
            # A 0..1 fraction despite the _perc suffix.
            "llm:kv_cache_usage:ratio": f"max(vllm:kv_cache_usage_perc{{{s}}})",
            "llm:prefix_cache_hit:ratio_rate5m": (
                f"{sum_rate('vllm:prefix_cache_hits_total', s, '5m')} / "
                f"{sum_rate('vllm:prefix_cache_queries_total', s, '5m')}"
            ),
            "llm:preemptions:rate5m": sum_rate("vllm:num_preemptions_total", s, "5m"),
            **output_tokens_means("vllm:request_generation_tokens", s),
        }
        histograms = {
            "tpot": "vllm:inter_token_latency_seconds",
            "ttft": "vllm:time_to_first_token_seconds",
            "e2e": "vllm:e2e_request_latency_seconds",
        }
        return {**out, **latency_quantiles(histograms, s)}


    def error_ratio(self, window: str) -> str:
        """Failed requests over API requests, each failure counted once. A failure shows as
        a 5xx (before the engine, or an engine error on a non-streamed request), as an
        engine "error" finish (an engine error, streamed or not), or as both. Per pod the
        larger of the two counts each failure once when only one kind occurs, and never
        counts one twice; `(a >= b) or b or a` is that maximum when either side may have
        no series yet."""
        api = f'{self.sel},handler=~"{VLLM_API_HANDLERS}"'
        http = sum_rate("http_requests_total", f'{api},status="5xx"', window, by="pod")
        engine = sum_rate(
            "vllm:request_success_total",
            f'{self.sel},finished_reason="{VLLM_FAILED_REASON}"',
            window,
            by="pod",
        )
        failed = f"sum (({http} >= {engine}) or {engine} or {http})"
        return f"{failed} / {sum_rate('http_requests_total', api, window)}"

    def slow_ttft_ratio(self, window: str, bound_ms: float) -> str:
        fast = sum_rate(
            "vllm:time_to_first_token_seconds_bucket",
            f'{self.sel},le="{le(bound_ms / 1000)}"',
            window,
        )
        total = sum_rate("vllm:time_to_first_token_seconds_count", self.sel, window)
        return f"1 - ({fast} / {total})"


class Vllm:
    """vLLM's OpenAI-compatible server. Readiness probes /v1/models because /health can
    answer before the weights are loaded."""

    name = "vllm"
    api_path = "/v1"  # OpenAI-compatible
    metrics_port = HTTP_PORT
    # vLLM exports vllm:num_requests_waiting; our adapter rule (adapter_rule below) serves
    # it under this name: the adapter renames nothing unless a rule's name.as says so.
    queue_metric = "vllm_num_requests_waiting"
    probes = Probes(startup_path="/health", ready_path="/v1/models", live_path="/health")
    vllm_memory_model = True
    hub_download = True
    memory_note = ""

    def command(
        self, model_ref: str, served_name: str, plan: ServingPlan, revision: str | None = None
    ) -> list[str]:
        return [
            "vllm",
            "serve",
            model_ref,
            # The Hub commit to download: `--revision`, in v0.33.0's flags (its
            # vllm/engine/arg_utils.py, listed in components/catalog/engines.yaml).
            *([f"--revision={revision}"] if revision else []),
            "--host=0.0.0.0",
            f"--port={HTTP_PORT}",
            f"--served-model-name={served_name}",
            "--disable-uvicorn-access-log",
            # On SIGTERM vLLM stops taking requests and lets in-flight ones finish for up
            # to this many seconds; 0, the default, aborts them (EngineCore._handle_shutdown
            # in vllm/v1/engine/core.py and serve_http in
            # vllm/entrypoints/launchers/launcher.py, v0.33.0).
            f"--shutdown-timeout={self.shutdown(plan).drain_s}",
            *plan.engine_args,
        ]

    def args(self, plan: ServingPlan) -> list[str]:
        """The plan's sizing as vLLM flags, so vLLM runs what the memory model profiled."""
        args = [
            f"--tensor-parallel-size={plan.tensor_parallel}",
            f"--max-model-len={plan.budget.max_model_len}",
            f"--max-num-seqs={plan.max_num_seqs}",
            f"--max-num-batched-tokens={plan.max_num_batched_tokens}",
            f"--gpu-memory-utilization={plan.gpu_memory_utilization}",
            f"--kv-cache-dtype={plan.kv_cache_dtype}",
            "--enable-prefix-caching" if plan.prefix_caching else "--no-enable-prefix-caching",
        ]
        if plan.quantize_at_load is not None:
            args.append(f"--quantization={plan.quantize_at_load}")
        return args

    def env(self) -> dict[str, str]:
        return {
            "HF_HOME": f"{MODELS_MOUNT}/hf",
            "HOME": f"{SCRATCH_MOUNT}/home",
            "XDG_CACHE_HOME": f"{SCRATCH_MOUNT}/cache",
            "VLLM_CACHE_ROOT": f"{SCRATCH_MOUNT}/cache/vllm",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        }

    def shutdown(self, plan: ServingPlan) -> Shutdown:
        return drain_shutdown(plan)

    def config_files(self, plan: ServingPlan) -> dict[str, str]:
        return {}

    def metrics(self, sel: Selector) -> EngineMetrics:
        return VllmMetrics(sel)

    def adapter_rule(self) -> dict[str, Any]:
        return adapter_rule("vllm:num_requests_waiting", "", self.queue_metric)

    def gpu_problems(self, pool: str, gpu: GpuFacts) -> list[str]:
        return []

    def weights_problems(self, model: str, fresh_volume: bool) -> list[str]:
        return []

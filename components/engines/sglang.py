"""SGLang's OpenAI-compatible server (pinned release: components/catalog/engines.yaml).

Sources, all in the PyPI wheel sglang 0.5.23: sglang/launch_server.py, sglang/srt/
server_args.py and arg_groups/fields/*.py (flags), arg_groups/memory_hook.py and
mem_cache/kv_cache_configurator.py (memory), entrypoints/http_server.py (routes, health),
managers/tokenizer_manager.py (drain), observability/metrics_collector.py and
http_request_metrics.py (metrics).
"""

from __future__ import annotations

import math
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
from components.sizing import KvDtype, Quantization, ServingPlan

# Default sglang:time_to_first_token_seconds bounds in seconds
# (TokenizerMetricsCollector.__init__, observability/metrics_collector.py); we do not pass
# --bucket-time-to-first-token, so these are the ones exported.
SGLANG_TTFT_BUCKETS_S = (
    0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400,
)  # fmt: skip
# --kv-cache-dtype choices (Model.kv_cache_dtype, arg_groups/fields/model.py); vLLM's "fp8"
# is E4M3. "auto" is SGLang's default (the model's dtype).
KV_DTYPES: dict[KvDtype, str] = {"fp8": "fp8_e4m3"}
# --quantization choices (QUANTIZATION_CHOICES, arg_groups/choices.py) include ours as is.
QUANTIZE: dict[Quantization, str] = {"fp8": "fp8", "awq": "awq", "gptq": "gptq"}
# The routes OpenAI clients call (entrypoints/http_server.py), as the HTTP middleware
# labels them: the route's path (track_http_status_code, http_request_metrics.py).
API_ENDPOINTS = "/v1/chat/completions|/v1/completions|/v1/responses"
MEMORY_NOTE = (
    "SGLang's --mem-fraction-static is (weights + KV cache) / GPU memory: the cache gets "
    "the memory free after loading the weights minus (1 - fraction) of the memory free "
    "before loading (_profile_available_bytes, mem_cache/kv_cache_configurator.py), and "
    "activations and CUDA graphs live outside the fraction, where vLLM counts them inside "
    "gpu_memory_utilization. The platform passes (planned weights + planned KV cache) / "
    "GPU memory, so SGLang keeps out what our vLLM-calibrated model reserves for "
    "activations, non-torch memory and the unused share, vLLM's layout. That reserve is "
    "not measured on SGLang, whose own default keeps 0.5 GiB + 1.5 MiB per chunked-prefill "
    "token + its CUDA-graph reserve, at least 10 GiB on GPUs over 60 GiB "
    "(handle_gpu_memory_settings, arg_groups/memory_hook.py)."
)



def mem_fraction_static(plan: ServingPlan) -> float:
    """The planned weights and KV cache as a share of the GPU, rounded down to the 3
    decimals SGLang's own resolver uses, so the cache never grows past the plan."""
    b = plan.budget
    # The epsilon keeps a share that is exactly n/1000 from flooring to (n-1)/1000.
    return math.floor((b.weights_gib + b.kv_cache_gib) / b.gpu_total_gib * 1000 + 1e-9) / 1000


class SglangMetrics:
    """SGLang's series as `llm:*` records. Scheduler gauges come from the attention-TP
    rank 0 scheduler only (SchedulerMetricsCollector.init_new), so a per-pod sum counts
    each request once."""

    ttft_buckets_ms = tuple(b * 1000 for b in SGLANG_TTFT_BUCKETS_S)

    def __init__(self, sel: Selector):
        self.sel = sel.base

    def series(self) -> dict[str, str]:
        s = self.sel
        out = {
            "llm:requests:rate5m": sum_rate("sglang:num_requests_total", s, "5m"),
            "llm:requests:rate1h": sum_rate("sglang:num_requests_total", s, "1h"),
            "llm:prompt_tokens:rate5m": sum_rate("sglang:prompt_tokens_total", s, "5m"),
            "llm:completion_tokens:rate5m": sum_rate("sglang:generation_tokens_total", s, "5m"),
            "llm:requests_waiting": f"sum(sglang:num_queue_reqs{{{s}}})",
            "llm:requests_running": f"sum(sglang:num_running_reqs{{{s}}})",
            # The fullest KV pool's used share, 0..1 (PoolStatsObserver,
            # managers/scheduler_components/pool_stats_observer.py).
            "llm:kv_cache_usage:ratio": f"max(sglang:token_usage{{{s}}})",
            # Both counted per finished request (observe_one_finished_request); the cached
            # tokens over all cache tiers, the prompt tokens cached or not.
            "llm:prefix_cache_hit:ratio_rate5m": (
                f"{sum_rate('sglang:cached_tokens_total', s, '5m')} / "
                f"{sum_rate('sglang:prompt_tokens_total', s, '5m')}"
            ),
            # A decode batch that no longer fits the KV pool sends requests back to the
            # queue, as vLLM's preemption does (ScheduleBatch.retract_decode,
            # managers/schedule_batch.py).
            "llm:preemptions:rate5m": sum_rate("sglang:num_retracted_requests_total", s, "5m"),
            **output_tokens_means("sglang:generation_tokens_histogram", s),
        }
        histograms = {
            "tpot": "sglang:inter_token_latency_seconds",
            "ttft": "sglang:time_to_first_token_seconds",
            "e2e": "sglang:e2e_request_latency_seconds",
        }
        return {**out, **latency_quantiles(histograms, s)}


    def error_ratio(self, window: str) -> str:
        """5xx answers over API requests (the HTTP middleware, with --enable-metrics). A
        streamed request that fails after its first chunk has answered 200 already and
        is not counted: SGLang counts no engine failures."""
        api = f'{self.sel},endpoint=~"{API_ENDPOINTS}"'
        failed = sum_rate("sglang:http_responses_total", f'{api},status_code=~"5.."', window)
        return f"{failed} / {sum_rate('sglang:http_requests_total', api, window)}"

    def slow_ttft_ratio(self, window: str, bound_ms: float) -> str:
        hist = "sglang:time_to_first_token_seconds"
        fast = sum_rate(f"{hist}_bucket", f'{self.sel},le="{le(bound_ms / 1000)}"', window)
        return f"1 - ({fast} / {sum_rate(f'{hist}_count', self.sel, window)})"


class Sglang:
    """SGLang's HTTP server, one process tree per replica (tokenizer, one scheduler per
    TP rank, detokenizer)."""

    name = "sglang"
    api_path = "/v1"  # OpenAI-compatible
    metrics_port = HTTP_PORT  # /metrics on the API port (add_prometheus_middleware)
    # sglang:num_queue_reqs, served by the Prometheus Adapter with ':' made '_'.
    queue_metric = "sglang_num_queue_reqs"
    # /health answers 503 until warm-up has run a request (ServerStatus.Starting), then
    # runs a one-token generation when the server is idle; /ready is 200 only when the
    # server is up and not draining (TokenizerManager.is_ready). Both turn 503 on
    # SIGTERM; the kubelet stops liveness probes of a pod being deleted.
    probes = Probes(startup_path="/health", ready_path="/ready", live_path="/health")
    vllm_memory_model = False
    hub_download = True
    memory_note = MEMORY_NOTE

    def args(self, plan: ServingPlan) -> list[str]:
        args = [
            f"--tp-size={plan.tensor_parallel}",
            f"--context-length={plan.budget.max_model_len}",
            f"--max-running-requests={plan.max_num_seqs}",
            # The prefill chunk our activation term was sized for.
            f"--chunked-prefill-size={plan.max_num_batched_tokens}",
            f"--mem-fraction-static={mem_fraction_static(plan)}",
        ]
        if plan.kv_cache_dtype in KV_DTYPES:
            args.append(f"--kv-cache-dtype={KV_DTYPES[plan.kv_cache_dtype]}")
        if plan.quantize_at_load is not None:
            args.append(f"--quantization={QUANTIZE[plan.quantize_at_load]}")
        if not plan.prefix_caching:
            args.append("--disable-radix-cache")
        return args

    def command(
        self, model_ref: str, served_name: str, plan: ServingPlan, revision: str | None = None
    ) -> list[str]:
        # No drain flag: on SIGTERM the tokenizer manager stops reporting healthy and
        # waits, checking every 5 s, until no request is in flight, then shuts the
        # schedulers down (SignalHandler.sigterm_handler, sigterm_watchdog,
        # managers/tokenizer_manager.py). Only the pod's grace period bounds the drain.
        return [
            "python3",
            "-m",
            "sglang.launch_server",
            f"--model-path={model_ref}",
            # "The specific model version to use. It can be a branch name, a tag name, or a
            # commit id" (ModelFields.revision, sglang/srt/arg_groups/fields/model.py, 0.5.23).
            *([f"--revision={revision}"] if revision else []),
            f"--served-model-name={served_name}",
            "--host=0.0.0.0",
            f"--port={HTTP_PORT}",
            # Off by default; without it there is no /metrics (lifespan, http_server.py).
            "--enable-metrics",
            *self.args(plan),
        ]

    def env(self) -> dict[str, str]:
        return {
            "HF_HOME": f"{MODELS_MOUNT}/hf",
            "HOME": f"{SCRATCH_MOUNT}/home",
            "XDG_CACHE_HOME": f"{SCRATCH_MOUNT}/cache",
        }

    def shutdown(self, plan: ServingPlan) -> Shutdown:
        return drain_shutdown(plan)

    def config_files(self, plan: ServingPlan) -> dict[str, str]:
        return {}

    def metrics(self, sel: Selector) -> EngineMetrics:
        return SglangMetrics(sel)

    def adapter_rule(self) -> dict[str, Any]:
        # A custom-metrics name cannot hold ':'.
        return adapter_rule("sglang:num_queue_reqs", "", self.queue_metric)

    def gpu_problems(self, pool: str, gpu: GpuFacts) -> list[str]:
        # The plain release tag is the CUDA image; AMD GPUs take the v<release>-rocm<ver>-
        # mi30x/mi35x images of docker/rocm.Dockerfile (sgl-project/sglang), whose flags
        # and series are not the ones checked here.
        if gpu.vendor == "nvidia":
            return []
        return [
            f"SGLang's pinned image is its CUDA build, for NVIDIA GPUs; pool '{pool}' has "
            f"{gpu.id} (the ROCm images, tag suffix -rocm<version>-mi30x, are not supported "
            "here)"
        ]

    def weights_problems(self, model: str, fresh_volume: bool) -> list[str]:
        return []  # it downloads the weights from the Hub into the volume, as vLLM does

"""Hugging Face Text Generation Inference (pinned release: components/catalog/engines.yaml).

Sources, all at tag v3.3.7 of huggingface/text-generation-inference unless named:
launcher/src/main.rs (flags, drain), router/src/server.rs (routes, metrics recorder),
router/src/infer/mod.rs and backends/v3/src/{backend,queue,lib}.rs (metric updates),
server/text_generation_server/{models/globals.py,models/flash_causal_lm.py,
utils/import_utils.py,utils/dist.py} (memory), Dockerfile and tgi-entrypoint.sh (image).
"""

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
    output_tokens_means,
    sum_rate,
)
from components.sizing import KvDtype, Quantization, ServingPlan

# The server keeps this share of the memory --cuda-memory-fraction grants out of its KV
# cache (TGI_WIGGLE_ROOM, default 0.90, models/globals.py): the cache gets
# free-after-warm-up minus (1 - fraction * 0.90) * total (get_cuda_free_memory,
# utils/import_utils.py; FlashCausalLM.warmup, models/flash_causal_lm.py).
TGI_WIGGLE_ROOM = 0.90
# --kv-cache-dtype takes fp8_e4m3fn or fp8_e5m2 (enum KVCacheDtype, launcher); vLLM's "fp8"
# is E4M3. "auto" is TGI's default when the flag is absent (the model's dtype).
KV_DTYPES: dict[KvDtype, str] = {"fp8": "fp8_e4m3fn"}
# --quantize values are the kebab-case names of enum Quantization (launcher); ours match.
QUANTIZE: dict[Quantization, str] = {"fp8": "fp8", "awq": "awq", "gptq": "gptq"}
# A failure of ours, not the client's: the shards failed the batch (send_errors,
# backends/v3/src/backend.rs), the stream ended without its last token (server.rs,
# infer/mod.rs), or --max-concurrent-requests turned the request away with 429
# (Infer::generate_stream, infer/mod.rs). "validation" and "template" are the client's
# input, "dropped" the client going away (queue.rs, backend.rs). A request fails once: a
# generation error ends the stream before "incomplete" is checked.
FAILED_ERRS = "generation|incomplete|overloaded"
MEMORY_NOTE = (
    "TGI sizes its KV cache like vLLM's profiler, free memory after a warm-up prefill of "
    "--max-batch-prefill-tokens within a fraction of the GPU, but keeps TGI_WIGGLE_ROOM "
    "(10%) of --cuda-memory-fraction out of it; the platform passes gpu_memory_utilization "
    "/ 0.90 (at most 1.0), so the budgets match up to gpu_memory_utilization 0.90 and above "
    "that TGI's cache is smaller than planned. The activation and non-torch terms are "
    "calibrated on vLLM, not measured on TGI. TGI refuses to start when --max-total-tokens "
    "exceeds the cache it finds (backends/v3/src/lib.rs NotEnoughMemory)."
)



class TgiMetrics:
    """TGI's router series as `llm:*` records. metrics-exporter-prometheus 0.15.3 writes
    counters without `_total` and histograms whose name ends in `duration` with buckets
    (server.rs run(): Matcher::Suffix("duration")). TGI exports no time-to-first-token
    series, no prefix-cache counters and no preemption counter: those records, and the
    TTFT SLO, do not exist for a TGI model."""

    ttft_buckets_ms: tuple[float, ...] = ()

    def __init__(self, sel: Selector):
        self.sel = sel.base

    def series(self) -> dict[str, str]:
        s = self.sel
        out = {
            "llm:requests:rate5m": sum_rate("tgi_request_success", s, "5m"),
            "llm:requests:rate1h": sum_rate("tgi_request_success", s, "1h"),
            # Histograms of tokens per request: their _sum is the token count.
            "llm:prompt_tokens:rate5m": sum_rate("tgi_request_input_length_sum", s, "5m"),
            "llm:completion_tokens:rate5m": sum_rate(
                "tgi_request_generated_tokens_sum", s, "5m"
            ),
            "llm:requests_waiting": f"sum(tgi_queue_size{{{s}}})",
            "llm:requests_running": f"sum(tgi_batch_current_size{{{s}}})",
            # The tokens the running batch may grow to over the cache's token budget: what
            # the batcher admits new requests against (batching_task, backend.rs).
            "llm:kv_cache_usage:ratio": (
                f"max(tgi_batch_current_max_tokens{{{s}}} / tgi_batch_max_total_tokens{{{s}}})"
            ),
            **output_tokens_means("tgi_request_generated_tokens", s),
        }
        histograms = {
            # Each request's mean time per output token, not every token's interval.
            "tpot": "tgi_request_mean_time_per_token_duration",
            "e2e": "tgi_request_duration",
        }
        return {**out, **latency_quantiles(histograms, s)}


    def error_ratio(self, window: str) -> str:
        failed = sum_rate("tgi_request_failure", f'{self.sel},err=~"{FAILED_ERRS}"', window)
        return f"{failed} / {sum_rate('tgi_request_count', self.sel, window)}"

    def slow_ttft_ratio(self, window: str, bound_ms: float) -> str:
        raise ValueError("TGI v3.3.7 exports no time-to-first-token histogram")


class Tgi:
    """TGI's launcher: it starts one Python shard per GPU and the Rust router, which
    serves the OpenAI API, /health and /metrics on one port."""

    name = "tgi"
    api_path = "/v1"  # OpenAI-compatible (/v1/chat/completions, /v1/completions)
    # The router serves /metrics on the API port (route in server.rs run()). Its
    # --prometheus-port listener never starts: run() drops the exporter future that
    # PrometheusBuilder::build() returns.
    metrics_port = HTTP_PORT
    # tgi_queue_size: requests waiting for a batch (Queue, backends/v3/src/queue.rs).
    queue_metric = "tgi_queue_size"
    # The router opens its port only after the shards have loaded and warmed up
    # (connect_backend, then server::run, backends/v3/src/main.rs), and /health answers
    # 503 when the shards cannot run a prefill (Infer::health). On SIGTERM it stops
    # accepting connections, so readiness fails at once; the kubelet stops liveness
    # probes of a pod being deleted.
    probes = Probes(startup_path="/health", ready_path="/health", live_path="/health")
    vllm_memory_model = False
    hub_download = True
    memory_note = MEMORY_NOTE

    def args(self, plan: ServingPlan) -> list[str]:
        fraction = min(1.0, round(plan.gpu_memory_utilization / TGI_WIGGLE_ROOM, 4))
        max_len = plan.budget.max_model_len
        args = [
            f"--num-shard={plan.tensor_parallel}",
            f"--max-total-tokens={max_len}",
            # The launcher requires max_input_tokens < max_total_tokens.
            f"--max-input-tokens={max_len - 1}",
            # Below --max-input-tokens only with prefill chunking (the router refuses to
            # start otherwise, backends/v3/src/main.rs), which TGI runs with flashinfer or
            # flashdecoding attention (Model.__init__, models/model.py): its choice on GPUs
            # of compute capability 8.0 and up (resolve_attention, launcher), every NVIDIA
            # GPU in components/catalog/gpus.yaml.
            f"--max-batch-prefill-tokens={plan.max_num_batched_tokens}",
            f"--max-batch-size={plan.max_num_seqs}",
            # In flight per replica (running and waiting) before a 429; the default, 128,
            # would cap the batch below max_num_seqs. Room for a full batch and one waiting.
            f"--max-concurrent-requests={2 * plan.max_num_seqs}",
            f"--cuda-memory-fraction={fraction}",
        ]
        if plan.kv_cache_dtype in KV_DTYPES:
            args.append(f"--kv-cache-dtype={KV_DTYPES[plan.kv_cache_dtype]}")
        if plan.quantize_at_load is not None:
            args.append(f"--quantize={QUANTIZE[plan.quantize_at_load]}")
        return args

    def command(
        self, model_ref: str, served_name: str, plan: ServingPlan, revision: str | None = None
    ) -> list[str]:
        """TGI has no served-model-name: /v1/models lists the model id (the path), and a
        chat request's `model` is echoed back, not checked (chat_completions, server.rs)."""
        # "The actual revision of the model if you're referring to a model on the hub. You
        # can use a specific commit id" (Args.revision, launcher/src/main.rs, v3.3.7); the
        # launcher hands it to the download and to every shard.
        pinned = [f"--revision={revision}"] if revision else []
        prefix = []
        if not plan.prefix_caching:
            # Only an environment variable switches prefix caching; unset, the launcher
            # enables it where the attention backend supports it (resolve_attention).
            prefix = ["env", "PREFIX_CACHING=0"]
        return [
            *prefix,
            # The image's entrypoint: it activates the venv the shards run in.
            "/tgi-entrypoint.sh",
            f"--model-id={model_ref}",
            *pinned,
            # Explicit: every flag also reads its environment variable (clap `env`), and
            # Kubernetes sets HOSTNAME to the pod's name; the image sets PORT=80.
            "--hostname=0.0.0.0",
            f"--port={HTTP_PORT}",
            "--usage-stats=off",
            # On SIGTERM the launcher SIGTERMs the router, which finishes in-flight
            # requests (axum with_graceful_shutdown), waits this long, then kills it and
            # the shards (terminate(), launcher/src/main.rs). Default 90.
            f"--graceful-termination-timeout={self.shutdown(plan).drain_s}",
            *self.args(plan),
        ]

    def env(self) -> dict[str, str]:
        return {"HF_HOME": f"{MODELS_MOUNT}/hf", "HOME": f"{SCRATCH_MOUNT}/home"}

    def shutdown(self, plan: ServingPlan) -> Shutdown:
        return drain_shutdown(plan)

    def config_files(self, plan: ServingPlan) -> dict[str, str]:
        return {}

    def metrics(self, sel: Selector) -> EngineMetrics:
        return TgiMetrics(sel)

    def adapter_rule(self) -> dict[str, Any]:
        # tgi_queue_size has no ':', so the adapter serves it under its own name.
        return adapter_rule("tgi_queue_size", "", self.queue_metric)

    def gpu_problems(self, pool: str, gpu: GpuFacts) -> list[str]:
        # The release workflow pushes the plain version tag from the CUDA Dockerfile;
        # AMD GPUs take the "-rocm" build of Dockerfile_amd (.github/workflows/build.yaml,
        # v3.3.7), whose flags and series are not the ones checked here.
        if gpu.vendor == "nvidia":
            return []
        return [
            f"TGI's pinned image is its CUDA build, for NVIDIA GPUs; pool '{pool}' has "
            f"{gpu.id} (the ROCm build, tag suffix -rocm, is not supported here)"
        ]

    def weights_problems(self, model: str, fresh_volume: bool) -> list[str]:
        return []  # it downloads the weights from the Hub into the volume, as vLLM does

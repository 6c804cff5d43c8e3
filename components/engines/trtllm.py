"""TensorRT-LLM on Triton Inference Server (pinned release: components/catalog/engines.yaml)."""

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
    nvidia_only,
)
from components.observability.metrics import (
    QUANTILES,
    Selector,
    histogram_quantile,
    le_cpp,
    quantile_suffix,
    sum_rate,
)
from components.sizing import ServingPlan

# The Triton model that runs the engine; only it is loaded on MPI ranks >= 1.
TRTLLM_MODEL = "tensorrt_llm"

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


class TritonMetrics:
    """Triton with the TensorRT-LLM backend exports request counts, queue and KV-cache
    blocks (nv_trt_llm_*), latency quantiles with `--metrics-config summary_latencies=true`
    and the first-response histogram with `histogram_latencies=true`. It exports no
    per-token latency, no token counters and no preemption or prefix-cache counters, so
    those records (and the alerts on them) exist for other engines' models only."""

    ttft_buckets_ms: tuple[float, ...] = TRITON_TTFT_BUCKETS_MS

    def __init__(self, sel: Selector):
        self.sel = sel.base
        self.entry = f'{self.sel},exported_model="{TRITON_ENTRY_MODEL}"'

    def series(self) -> dict[str, str]:
        s, entry = self.sel, self.entry
        blocks = "nv_trt_llm_kv_cache_block_metrics"
        out = {
            "llm:requests:rate5m": sum_rate("nv_inference_request_success", entry, "5m"),
            "llm:requests:rate1h": sum_rate("nv_inference_request_success", entry, "1h"),
            "llm:requests_waiting": (
                f'sum(nv_trt_llm_request_metrics{{{s},request_type="waiting"}})'
            ),
            "llm:requests_running": f'sum(nv_trt_llm_request_metrics{{{s},request_type="active"}})',
            "llm:kv_cache_usage:ratio": (
                f'sum({blocks}{{{s},kv_cache_block_type="used"}}) / '
                f'sum({blocks}{{{s},kv_cache_block_type="max"}})'
            ),
        }
        for q in QUANTILES:
            p = quantile_suffix(q)
            hist = "nv_inference_first_response_histogram_ms_bucket"
            out[f"llm:ttft_seconds:{p}"] = f"{histogram_quantile(q, hist, entry)} / 1000"
            # Triton's summary is in microseconds and already a quantile per server; the
            # worst server is what the slowest users see. The quantile label's trailing
            # zeros depend on the client library's formatting, so it is matched as a prefix.
            out[f"llm:e2e_seconds:{p}"] = (
                f'max(nv_inference_request_summary_us{{{entry},quantile=~"{q}0*"}}) / 1e6'
            )
        return out

    def error_ratio(self, window: str) -> str:
        raw = sum_rate("nv_inference_request_failure", self.entry, window)
        failed = f"({raw} / {TRITON_ENSEMBLE_FAILURES_PER_REQUEST})"
        ok = sum_rate("nv_inference_request_success", self.entry, window)
        return f"{failed} / ({failed} + {ok})"

    def slow_ttft_ratio(self, window: str, bound_ms: float) -> str:
        hist = "nv_inference_first_response_histogram_ms"
        fast = sum_rate(f"{hist}_bucket", f'{self.entry},le=~"{le_cpp(bound_ms)}"', window)
        return f"1 - ({fast} / {sum_rate(f'{hist}_count', self.entry, window)})"


class TritonTrtllm:
    """Triton Inference Server with the TensorRT-LLM backend. The TensorRT engine and the
    Triton model repository are built ahead of time into the weights volume under
    /models/<name>/triton; the sizing-derived parameters for that build are published in a
    ConfigMap next to the server."""

    name = "tensorrt-llm"
    api_path = "/v2"  # KServe v2 inference protocol
    metrics_port = 8002
    # nv_trt_llm_request_metrics{request_type="waiting"}, served by the Prometheus Adapter;
    # the backend exports "waiting" from tensorrtllm_backend v0.18.0 on (the pinned image
    # ships v0.19.0, see components/catalog/engines.yaml).
    queue_metric = "trtllm_requests_waiting"
    probes = Probes(
        startup_path="/v2/health/live", ready_path="/v2/health/ready", live_path="/v2/health/live"
    )
    # TensorRT-LLM gives the KV cache a fraction of the GPU memory still free after the
    # weights load (KvCacheConfig.free_gpu_memory_fraction, which the backend's
    # kv_cache_free_gpu_mem_fraction sets; NVIDIA/TensorRT-LLM
    # docs/source/examples/kvcacheconfig.md); our model is vLLM's profiler, which takes a
    # share of the whole GPU and subtracts weights, activations and non-torch memory.
    vllm_memory_model = False
    hub_download = False
    memory_note = (
        "the KV-cache figures are vLLM's memory model; TensorRT-LLM sizes its KV "
        "cache as kv_cache_free_gpu_mem_fraction of the memory left after the engine loads, "
        "so its real token capacity is known only from the built engine's log"
    )

    def _rank(self, weights_dir: str, plan: ServingPlan, rank: int) -> list[str]:
        """One tritonserver per MPI rank, as scripts/launch_triton_server.py get_cmd()
        builds them (tensorrtllm_backend v0.19.0): each rank its own Python-backend
        shared-memory prefix (read in python_be.cc, python_backend r25.05), and ranks >= 1
        load only the engine model."""
        args = [
            "tritonserver",
            f"--model-repository={weights_dir}/triton",
            f"--http-port={HTTP_PORT}",
            "--grpc-port=8001",
            f"--metrics-port={self.metrics_port}",
            # Latency quantiles, and the first-response histogram the TTFT rules read
            # (MetricReporterConfig::ParseConfig, core src/metric_model_reporter.cc, r25.05).
            "--metrics-config=summary_latencies=true",
            "--metrics-config=histogram_latencies=true",
            f"--exit-timeout-secs={self.shutdown(plan).drain_s}",
            "--disable-auto-complete-config",
            f"--backend-config=python,shm-region-prefix-name=prefix{rank}_",
        ]
        if rank == 0:
            return args
        # Upstream relies on worker ranks blocking in the backend's model init and never
        # opening endpoints; switching them off makes sure no rank ever races rank 0 for
        # the ports or reports a second, empty set of metrics.
        return [
            *args,
            "--allow-http=false",
            "--allow-grpc=false",
            "--allow-metrics=false",
            "--model-control-mode=explicit",
            f"--load-model={TRTLLM_MODEL}",
        ]

    def command(
        self, model_ref: str, served_name: str, plan: ServingPlan, revision: str | None = None
    ) -> list[str]:
        """`model_ref` is the weights' directory (hub_download is False): the engine and
        Triton repository are built beforehand, so there is no Hub revision to fetch."""
        if plan.tensor_parallel == 1:
            return self._rank(model_ref, plan, 0)
        # On SIGTERM mpirun passes SIGTERM to the ranks and SIGKILLs them after
        # odls_base_sigkill_timeout, 1 s by default (orte/mca/odls/base/odls_base_frame.c,
        # Open MPI 4.x; the image carries Open MPI v4.1.5rc2 under /opt/hpcx/ompi, per
        # server build.py v2.58.0): without this rank 0 could not drain.
        stop = self.shutdown(plan)
        cmd = ["mpirun", "--mca", "odls_base_sigkill_timeout", str(stop.drain_s + stop.margin_s)]
        for rank in range(plan.tensor_parallel):
            cmd += ["-n", "1", *self._rank(model_ref, plan, rank), ":"]
        return cmd[:-1]  # mpirun takes ':' between application contexts, not after

    def args(self, plan: ServingPlan) -> list[str]:
        """The build parameters (config_files), as name=value: Triton's sizing lives in the
        model repository, not on its command line."""
        return [f"{k}={v}" for k, v in self.build_parameters(plan).items()]

    def env(self) -> dict[str, str]:
        return {"HOME": f"{SCRATCH_MOUNT}/home", "HF_HOME": f"{MODELS_MOUNT}/hf"}

    def config_files(self, plan: ServingPlan) -> dict[str, str]:
        return self.build_parameters(plan)

    def metrics(self, sel: Selector) -> EngineMetrics:
        return TritonMetrics(sel)

    def adapter_rule(self) -> dict[str, Any]:
        return adapter_rule(
            "nv_trt_llm_request_metrics", ',request_type="waiting"', self.queue_metric
        )

    def gpu_problems(self, pool: str, gpu: GpuFacts) -> list[str]:
        return nvidia_only("TensorRT-LLM", pool, gpu)

    def weights_problems(self, model: str, fresh_volume: bool) -> list[str]:
        if not fresh_volume:
            return []
        return [
            f"model '{model}' serves a TensorRT-LLM engine built beforehand into "
            "/models/<model>/triton; with no bucket to copy it from, a new per-pod volume "
            "starts empty; set volume: shared on a claim that holds the engine"
        ]

    def shutdown(self, plan: ServingPlan) -> Shutdown:
        return drain_shutdown(plan)

    @staticmethod
    def build_parameters(plan: ServingPlan) -> dict[str, str]:
        """Values for the tensorrt_llm model's config.pbtxt (fill_template.py keys)."""
        return {
            "tensor_parallel_size": str(plan.tensor_parallel),
            "triton_max_batch_size": str(plan.max_num_seqs),
            "max_num_tokens": str(plan.max_num_batched_tokens),
            "max_input_len": str(plan.budget.max_model_len),
            "kv_cache_free_gpu_mem_fraction": str(plan.gpu_memory_utilization),
            "enable_kv_cache_reuse": str(plan.prefix_caching).lower(),
            "batching_strategy": "inflight_fused_batching",
            # Streaming needs a decoupled tensorrt_llm model, and the ensemble is decoupled
            # only when a step is (ensemble_utils.cc, core r25.05); Triton creates the
            # first-response (TTFT) histogram for decoupled models only
            # (MetricModelReporter::InitializeHistograms, core r25.05).
            "decoupled_mode": "true",
        }

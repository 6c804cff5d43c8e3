"""TensorRT-LLM on Triton Inference Server (pinned release: components/catalog/engines.yaml)."""

from __future__ import annotations

from components.engines.base import (
    HTTP_PORT,
    MODELS_MOUNT,
    SCRATCH_MOUNT,
    Probes,
    Shutdown,
    drain_shutdown,
)
from components.sizing import ServingPlan

# The Triton model that runs the engine; only it is loaded on MPI ranks >= 1.
TRTLLM_MODEL = "tensorrt_llm"


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

    def _rank(self, served_name: str, plan: ServingPlan, rank: int) -> list[str]:
        """One tritonserver per MPI rank, as scripts/launch_triton_server.py get_cmd()
        builds them (tensorrtllm_backend v0.19.0): each rank its own Python-backend
        shared-memory prefix (read in python_be.cc, python_backend r25.05), and ranks >= 1
        load only the engine model."""
        args = [
            "tritonserver",
            f"--model-repository={MODELS_MOUNT}/{served_name}/triton",
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

    def command(self, model_ref: str, served_name: str, plan: ServingPlan) -> list[str]:
        if plan.tensor_parallel == 1:
            return self._rank(served_name, plan, 0)
        # On SIGTERM mpirun passes SIGTERM to the ranks and SIGKILLs them after
        # odls_base_sigkill_timeout, 1 s by default (orte/mca/odls/base/odls_base_frame.c,
        # Open MPI 4.x; the image carries Open MPI v4.1.5rc2 under /opt/hpcx/ompi, per
        # server build.py v2.58.0): without this rank 0 could not drain.
        stop = self.shutdown(plan)
        cmd = ["mpirun", "--mca", "odls_base_sigkill_timeout", str(stop.drain_s + stop.margin_s)]
        for rank in range(plan.tensor_parallel):
            cmd += ["-n", "1", *self._rank(served_name, plan, rank), ":"]
        return cmd[:-1]  # mpirun takes ':' between application contexts, not after

    def env(self) -> dict[str, str]:
        return {"HOME": f"{SCRATCH_MOUNT}/home", "HF_HOME": f"{MODELS_MOUNT}/hf"}

    def shutdown(self, plan: ServingPlan) -> Shutdown:
        return drain_shutdown(plan)

    def config_files(self, plan: ServingPlan) -> dict[str, str]:
        return self.build_parameters(plan)

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

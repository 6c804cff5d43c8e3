"""The two serving engines behind one interface.

An engine turns a serving plan into a container: command, ports, probe paths, the metric
the autoscaler watches. The ModelServer component is the same for both. Pure: no Pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from components.sizing import ServingPlan

HTTP_PORT = 8000
MODELS_MOUNT = "/models"
SCRATCH_MOUNT = "/tmp"


@dataclass(frozen=True)
class Probes:
    startup_path: str
    ready_path: str
    live_path: str


class Engine(Protocol):
    name: str
    api_path: str
    metrics_port: int
    queue_metric: str
    probes: Probes

    def command(self, model_ref: str, served_name: str, plan: ServingPlan) -> list[str]: ...

    def env(self) -> dict[str, str]: ...


class Vllm:
    """vLLM's OpenAI-compatible server. Readiness probes /v1/models because /health can
    answer before the weights are loaded."""

    name = "vllm"
    api_path = "/v1"  # OpenAI-compatible
    metrics_port = HTTP_PORT
    # vLLM exports vllm:num_requests_waiting; Prometheus Adapter renames ':' to '_'.
    queue_metric = "vllm_num_requests_waiting"
    probes = Probes(startup_path="/health", ready_path="/v1/models", live_path="/health")

    def command(self, model_ref: str, served_name: str, plan: ServingPlan) -> list[str]:
        return [
            "vllm",
            "serve",
            model_ref,
            "--host=0.0.0.0",
            f"--port={HTTP_PORT}",
            f"--served-model-name={served_name}",
            "--disable-uvicorn-access-log",
            *plan.engine_args,
        ]

    def env(self) -> dict[str, str]:
        return {
            "HF_HOME": f"{MODELS_MOUNT}/hf",
            "HOME": f"{SCRATCH_MOUNT}/home",
            "XDG_CACHE_HOME": f"{SCRATCH_MOUNT}/cache",
            "VLLM_CACHE_ROOT": f"{SCRATCH_MOUNT}/cache/vllm",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        }


class TritonTrtllm:
    """Triton Inference Server with the TensorRT-LLM backend. The TensorRT engine and the
    Triton model repository are built ahead of time into the weights volume under
    /models/<name>/triton; the sizing-derived parameters for that build are published in a
    ConfigMap next to the server."""

    name = "tensorrt-llm"
    api_path = "/v2"  # KServe v2 inference protocol
    metrics_port = 8002
    queue_metric = "trtllm_requests_waiting"
    probes = Probes(
        startup_path="/v2/health/live", ready_path="/v2/health/ready", live_path="/v2/health/live"
    )

    def command(self, model_ref: str, served_name: str, plan: ServingPlan) -> list[str]:
        server = [
            "tritonserver",
            f"--model-repository={MODELS_MOUNT}/{served_name}/triton",
            f"--http-port={HTTP_PORT}",
            "--grpc-port=8001",
            f"--metrics-port={self.metrics_port}",
            # Latency quantiles; Triton's default counters only give averages.
            "--metrics-config=summary_latencies=true",
            f"--exit-timeout-secs={plan.drain_s}",
            "--disable-auto-complete-config",
        ]
        if plan.tensor_parallel == 1:
            return server
        # One MPI rank per GPU; only rank 0 serves HTTP, the others join the engine.
        return ["mpirun", "-n", str(plan.tensor_parallel), *server]

    def env(self) -> dict[str, str]:
        return {"HOME": f"{SCRATCH_MOUNT}/home", "HF_HOME": f"{MODELS_MOUNT}/hf"}

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
        }


ENGINES: dict[str, Engine] = {"vllm": Vllm(), "tensorrt-llm": TritonTrtllm()}

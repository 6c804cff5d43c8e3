"""The two serving engines behind one interface.

An engine turns a serving plan into a container: command, ports, probe paths, the metric
the autoscaler watches, and how long a pod needs to stop. The ModelServer component is the
same for both. Pure: no Pulumi.

Every flag emitted here is in the pinned release's flag list
(components/catalog/engines.yaml); tests/test_engines.py holds them to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from components.sizing import ServingPlan

HTTP_PORT = 8000
MODELS_MOUNT = "/models"
SCRATCH_MOUNT = "/tmp"
# Lets endpoints and the gateway stop routing to the pod before the engine gets SIGTERM.
PRESTOP_SLEEP_S = 15
# After its drain the engine still tears down worker processes and frees GPU memory; the
# kubelet must not SIGKILL it during that. A planning allowance, not a measurement.
TEARDOWN_MARGIN_S = 30


@dataclass(frozen=True)
class Probes:
    startup_path: str
    ready_path: str
    live_path: str


@dataclass(frozen=True)
class Shutdown:
    """How a pod stops: preStop sleep, then SIGTERM and the engine's own drain, then
    teardown. The grace period covers all three, so the kubelet never cuts a drain short."""

    prestop_s: int
    drain_s: int
    margin_s: int = TEARDOWN_MARGIN_S

    @property
    def grace_s(self) -> int:
        return self.prestop_s + self.drain_s + self.margin_s


class Engine(Protocol):
    name: str
    api_path: str
    metrics_port: int
    queue_metric: str
    probes: Probes

    def command(self, model_ref: str, served_name: str, plan: ServingPlan) -> list[str]: ...

    def env(self) -> dict[str, str]: ...

    def shutdown(self, plan: ServingPlan) -> Shutdown: ...


def drain_shutdown(plan: ServingPlan) -> Shutdown:
    return Shutdown(prestop_s=PRESTOP_SLEEP_S, drain_s=plan.drain_s)


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
            # On SIGTERM vLLM stops taking requests and lets in-flight ones finish for up
            # to this many seconds; 0, the default, aborts them (EngineCore._handle_shutdown
            # in vllm/v1/engine/core.py and serve_http in
            # vllm/entrypoints/launchers/launcher.py, v0.33.0).
            f"--shutdown-timeout={self.shutdown(plan).drain_s}",
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

    def shutdown(self, plan: ServingPlan) -> Shutdown:
        return drain_shutdown(plan)


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


ENGINES: dict[str, Engine] = {"vllm": Vllm(), "tensorrt-llm": TritonTrtllm()}

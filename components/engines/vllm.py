"""vLLM's OpenAI-compatible server (pinned release: components/catalog/engines.yaml)."""

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

    def config_files(self, plan: ServingPlan) -> dict[str, str]:
        return {}

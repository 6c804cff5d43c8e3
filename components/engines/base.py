"""The interface every serving engine implements, and what all of them share.

An engine module is everything the platform knows about one serving engine: the command
line the serving plan turns into, probes and drain, the files it reads from a ConfigMap,
its metric names and their mapping to the `llm:*` series, the Prometheus Adapter rule that
serves its HPA metric, what it requires of the spec (GPUs, weights), and whether our
memory model describes it. Nothing outside components/engines/ branches on an engine's
kind. Pure: no Pulumi.

Every flag and metric name emitted here is in the pinned release's lists
(components/catalog/engines.yaml); tests/test_engines.py holds them to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from components.observability.metrics import Selector
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


class EngineMetrics(Protocol):
    """One model's engine series in the `llm:*` vocabulary (components/observability/metrics.py)."""

    # The TTFT histogram's bounds in ms; empty when the engine exports no TTFT histogram,
    # and then the model has no TTFT SLO rules.
    ttft_buckets_ms: tuple[float, ...]

    def series(self) -> dict[str, str]:
        """`llm:*` record name -> PromQL, for the names of ENGINE_SERIES the engine can
        feed; a name it cannot feed is absent."""
        ...

    def error_ratio(self, window: str) -> str: ...

    def slow_ttft_ratio(self, window: str, bound_ms: float) -> str: ...


class GpuFacts(Protocol):
    id: str
    vendor: str


class Engine(Protocol):
    name: str
    api_path: str
    metrics_port: int
    queue_metric: str
    probes: Probes
    # Whether sizing's memory model (vLLM's profiler, components/sizing.py) is the one
    # this engine sizes its KV cache with; where it is not, `memory_note` says what the
    # engine does instead and the plan's reasons carry it.
    vllm_memory_model: bool
    memory_note: str
    # Whether the engine downloads a Hub id itself (at a pinned revision); False: it serves
    # only a directory already on the weights volume, which `command` gets as model_ref.
    hub_download: bool

    def command(
        self, model_ref: str, served_name: str, plan: ServingPlan, revision: str | None = None
    ) -> list[str]:
        """`revision`: the Hub commit to download `model_ref` at, when `model_ref` is a Hub
        id the engine downloads itself; None when the weights are already on the volume."""
        ...

    def args(self, plan: ServingPlan) -> list[str]:
        """The sizing-derived settings the engine runs with (ServingPlan.engine_args)."""
        ...

    def env(self) -> dict[str, str]: ...

    def shutdown(self, plan: ServingPlan) -> Shutdown: ...

    def config_files(self, plan: ServingPlan) -> dict[str, str]:
        """File name -> content, for a ConfigMap the model server mounts read-only at
        /etc/llm-platform; {} for none."""
        ...

    def metrics(self, sel: Selector) -> EngineMetrics: ...

    def adapter_rule(self) -> dict[str, Any]:
        """The Prometheus Adapter rule that serves `queue_metric` to the HPA."""
        ...

    def gpu_problems(self, pool: str, gpu: GpuFacts) -> list[str]:
        """Why this engine cannot run on the pool's GPU (no config path; the spec adds it)."""
        ...

    def weights_problems(self, model: str, fresh_volume: bool) -> list[str]:
        """Why the weights setup cannot serve this engine; `fresh_volume` is a per-pod
        volume with no bucket to fill it, which starts empty."""
        ...


def drain_shutdown(plan: ServingPlan) -> Shutdown:
    return Shutdown(prestop_s=PRESTOP_SLEEP_S, drain_s=plan.drain_s)


def adapter_rule(series: str, extra: str, name: str) -> dict[str, Any]:
    """A Prometheus Adapter rule serving per-pod `sum(series{extra})` as metric `name`."""
    return {
        "seriesQuery": f'{series}{{namespace!="",pod!=""{extra}}}',
        "resources": {
            "overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
        },
        "name": {"matches": f"^{series}$", "as": name},
        "metricsQuery": f"sum(<<.Series>>{{<<.LabelMatchers>>{extra}}}) by (<<.GroupBy>>)",
    }


def nvidia_only(engine: str, pool: str, gpu: GpuFacts) -> list[str]:
    if gpu.vendor == "nvidia":
        return []
    return [f"{engine} runs on NVIDIA GPUs only; pool '{pool}' has {gpu.id}"]

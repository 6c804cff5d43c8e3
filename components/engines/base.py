"""The interface every serving engine implements, and what all of them share.

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

    def config_files(self, plan: ServingPlan) -> dict[str, str]:
        """Files for a ConfigMap mounted at /etc/llm-platform; {} for none."""
        ...


def drain_shutdown(plan: ServingPlan) -> Shutdown:
    return Shutdown(prestop_s=PRESTOP_SLEEP_S, drain_s=plan.drain_s)

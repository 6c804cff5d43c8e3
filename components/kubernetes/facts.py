"""What a foundation hands the Kubernetes layer. The layer never branches on the cloud
beyond these facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class PoolScheduling:
    """How pods land on one GPU pool's nodes."""

    max_gpus: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]
    gpu_resource: str = "nvidia.com/gpu"


@dataclass(frozen=True)
class ClusterFacts:
    provider: k8s.Provider
    pools: dict[str, PoolScheduling]
    storage_class: str | None = None
    # Set where GPU time is not billed by a cloud node pool (on-prem): the model servers
    # then carry the rate so the cost model prices their GPU-hours.
    gpu_hour_usd: float | None = None

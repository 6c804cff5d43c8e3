"""What a foundation hands the Kubernetes layer. The layer never branches on the cloud
beyond these facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import catalog
from components.spec import Environment, GpuPool

POOL_LABEL = "llm-platform.dev/pool"

# The one Kubernetes service account that may read the artifact bucket. Foundations bind
# their cloud identity to system:serviceaccount:<namespace>:<this>, before the layer runs.
WEIGHTS_READER = "model-weights-reader"


@dataclass(frozen=True)
class PoolScheduling:
    """How pods land on one GPU pool's nodes."""

    max_gpus: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]
    gpu_resource: str = "nvidia.com/gpu"


@dataclass(frozen=True)
class FoundationArgs:
    """What every cloud foundation is built from."""

    env: Environment
    # Pulumi config key -> secret value, for every key in spec.secret_keys().
    secrets: dict[str, pulumi.Input[str]]


@dataclass(frozen=True)
class WorkloadIdentity:
    """How a pod running as WEIGHTS_READER gets cloud credentials, with no stored key.

    In the cloud's own cluster a webhook or metadata server does the work and only the
    annotations and labels are needed. A cluster outside the cloud (the on-prem side of a
    hybrid) federates its own service-account tokens: the pod mounts a token for
    `token_audience` and the environment and files tell the SDK how to exchange it."""

    service_account_annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    pod_labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    token_audience: str | None = None
    files: dict[str, pulumi.Input[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactStore:
    """The bucket the model servers copy weights from, as an rclone remote named
    `artifacts` defined through RCLONE_CONFIG_ARTIFACTS_* variables: one tool and one code
    path for S3, GCS and Azure Blob."""

    uri: pulumi.Input[str]
    rclone_env: dict[str, pulumi.Input[str]]
    # rclone path of the models prefix, e.g. "artifacts:my-bucket/models".
    models_path: pulumi.Input[str]


@dataclass(frozen=True)
class ClusterFacts:
    provider: k8s.Provider
    pools: dict[str, PoolScheduling]
    storage_class: str | None = None
    # Set where GPU time is not billed by a cloud node pool (on-prem): the model servers
    # then carry the rate so the cost model prices their GPU-hours.
    gpu_hour_usd: float | None = None
    artifacts: ArtifactStore | None = None
    workload_identity: WorkloadIdentity | None = None


def node_labels(pool: GpuPool) -> dict[str, str]:
    """The labels a pool's nodes carry (cloud foundations set them on the node pool)."""
    return dict(pool.node_labels) or {POOL_LABEL: pool.name}


def pool_scheduling(pools: list[GpuPool]) -> dict[str, PoolScheduling]:
    """How pods reach each pool: its node labels, and a toleration for the GPU taint every
    foundation puts on GPU nodes so nothing else lands there."""
    out = {}
    for pool in pools:
        vendor = catalog.gpus()[pool.gpu].vendor
        resource = "amd.com/gpu" if vendor == "amd" else "nvidia.com/gpu"
        out[pool.name] = PoolScheduling(
            max_gpus=pool.max_nodes * pool.gpus_per_node,
            node_selector=node_labels(pool),
            tolerations=[{"key": resource, "operator": "Exists", "effect": "NoSchedule"}],
            gpu_resource=resource,
        )
    return out

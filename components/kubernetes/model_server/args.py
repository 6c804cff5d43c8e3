"""What a ModelServer is built from: a model already resolved against its pool, its engine
and its sizing plan (components/kubernetes/resolve.py), so nothing here reads the spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi

from components.engines import Engine
from components.kubernetes.facts import ArtifactStore, PoolScheduling, WorkloadIdentity
from components.scheduling import PodResources
from components.sizing import ServingPlan


@dataclass(frozen=True)
class SecretFile:
    """A key of a Secret, mounted as a file."""

    name: str
    key: str


@dataclass(frozen=True)
class WeightsFetch:
    """Copy the weights from the environment's bucket with the workload identity, before the
    server starts."""

    store: ArtifactStore
    identity: WorkloadIdentity
    # The ConfigMap of credential files the identity needs, when it needs any.
    files_config_map: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class WeightsSource:
    """Where a server's weights live and how they get there."""

    # per-pod: a generic ephemeral volume per pod; shared: one claim all pods mount.
    volume: Literal["per-pod", "shared"]
    size_gib: int
    storage_class: str | None
    # The shared claim's access mode; a per-pod volume is always ReadWriteOnce.
    shared_access_mode: str = "ReadWriteMany"
    # Already on a read-only shared claim: neither fetched nor downloaded.
    prefilled: bool = False
    # The Hub id the engine downloads when the weights are neither prefilled nor fetched.
    hf_id: str | None = None
    hf_token: SecretFile | None = None
    fetch: WeightsFetch | None = None

    @property
    def offline(self) -> bool:
        """The weights are on the volume before the server starts: never reach the Hub."""
        return self.prefilled or self.fetch is not None


@dataclass(frozen=True)
class ModelServerArgs:
    name: str  # the model's name: object names, the served model name, the `model` label
    engine: Engine
    image: str
    plan: ServingPlan
    pool: PoolScheduling
    # CPU and memory of the server container (components/scheduling.py); GPUs come from
    # the plan's tensor parallelism.
    resources: PodResources
    weights: WeightsSource
    labels: dict[str, str]
    # Labels an existing Prometheus Operator selects ServiceMonitors by.
    monitoring_labels: dict[str, str]
    prometheus_namespace: str
    namespace: pulumi.Input[str]
    # Set where GPU time is not billed by a cloud node pool (on-prem).
    gpu_hour_usd: float | None = None
    # The weights reader's service account, where the weights come from the bucket.
    service_account: pulumi.Input[str] | None = None
    crds_ready: tuple[pulumi.Resource, ...] = ()  # the release installing the CRDs

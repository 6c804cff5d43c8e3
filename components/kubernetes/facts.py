"""What a foundation hands the Kubernetes layer. The layer never branches on the cloud
beyond these facts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import catalog
from components.conventions import (
    AMD_GPU,
    GPU_TAINT_EFFECT,
    GPU_TAINT_VALUE,
    NVIDIA_GPU,
    POOL_LABEL,
)
from components.scheduling import GpuNodeRuntime
from components.spec import GpuPool

# The one Kubernetes service account that may read the artifact bucket. Foundations bind
# their cloud identity to system:serviceaccount:<namespace>:<this>, before the layer runs.
WEIGHTS_READER = "model-weights-reader"
# The gateway's CloudNativePG Cluster. The operator runs its instances as a service account
# named after the Cluster ("If not specified, a ServiceAccount will be created with the
# cluster name": Cluster.spec.serviceAccountName in the CRDs of chart cloudnative-pg 0.29.0,
# tests/upstream/crds/cloudnative-pg-0.29.0/crd-clusters.yaml), so foundations bind the
# backup writer to system:serviceaccount:<namespace>:<this>.
GATEWAY_DB = "llm-gateway-db"
# The artifact bucket's prefix the database's base backups and WAL archive go under; the
# backup writer may write nothing else.
DATABASE_BACKUP_PREFIX = "gateway-db"
# Where a database pod outside the cloud finds its federated token and credential files:
# CloudNativePG mounts Cluster.spec.projectedVolumeTemplate under /projected (same CRD).
DATABASE_CREDENTIALS_DIR = "/projected/llm-platform"
# The one Kubernetes service account that may write model revisions and eval reports to the
# artifact store (the weights sync Job and the eval gate's Job). Foundations bind their cloud
# writer to system:serviceaccount:<namespace>:<this>, held to MODELS_PREFIX and EVALS_PREFIX,
# with no delete: a revision, once written, is never overwritten or removed by the platform.
MODEL_PUBLISHER = "model-publisher"
# models/<name>/<revision>/ holds a revision's files, its manifest and its signature;
# evals/<name>/golden.jsonl the golden set and evals/<name>/reports/ the gate's reports.
MODELS_PREFIX = "models"
EVALS_PREFIX = "evals"
# The signing key pair (spec lifecycle.signing): the private key only in this Secret, which
# only the sync Job mounts (in render mode it is made with kubectl, so no plan writes it);
# the public key in this ConfigMap, which every verify init container mounts.
SIGNING_KEY_SECRET = "model-signing-key"
PRIVATE_KEY_FILE = "private.pem"
PUBLIC_KEY_CONFIG_MAP = "model-signing-pub"
PUBLIC_KEY_FILE = "public.pem"
# A training job's Kubernetes service account is this prefix + the job's name; foundations
# bind the job's cloud writer to system:serviceaccount:<namespace>:<that>.
TRAINER_PREFIX = "train-"
# Where pods mount an on-prem store's claim (ArtifactStore.claim); its fsspec root is
# file://<this> and its rclone remote a `local` one under it.
STORE_MOUNT = "/artifacts"


@dataclass(frozen=True)
class Taint:
    """A taint a pool's nodes carry. `implied_by` is None for the taints our own node pools
    set, and otherwise cites the cloud documentation of a taint the cloud adds itself."""

    key: str
    effect: str  # Kubernetes spelling: NoSchedule, PreferNoSchedule, NoExecute
    value: str | None = None  # None: whatever value the node carries
    implied_by: str | None = None

    def toleration(self) -> dict[str, str]:
        if self.value is None:
            return {"key": self.key, "operator": "Exists", "effect": self.effect}
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


@dataclass(frozen=True)
class PoolScheduling:
    """How pods land on one GPU pool's nodes: its labels, and every taint on them."""

    max_gpus: int
    node_selector: dict[str, str]
    taints: tuple[Taint, ...]
    gpu_resource: str = NVIDIA_GPU

    @property
    def tolerations(self) -> list[dict[str, str]]:
        return [t.toleration() for t in self.taints]

    @property
    def platform_taints(self) -> list[Taint]:
        """The taints the foundation's node pool must set (the cloud adds the others)."""
        return [t for t in self.taints if t.implied_by is None]


@dataclass(frozen=True)
class WorkloadIdentity:
    """How a pod running as WEIGHTS_READER (or, for database backups, as GATEWAY_DB) gets
    cloud credentials, with no stored key.

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
    # The store's root as an fsspec URL, for our own tools (components/lifecycle/): s3://<bucket>,
    # gs://<bucket>, az://<container> (with AZURE_STORAGE_ACCOUNT_NAME in fsspec_env) or, on
    # premises, file:///artifacts on `claim`.
    fsspec_uri: pulumi.Input[str] = ""
    fsspec_env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    # On premises without a bucket: the ReadWriteMany claim that is the store, mounted at
    # /artifacts (read-only in model servers, read-write in the sync Job).
    claim: str | None = None


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
    # The identity that writes the gateway database's backups under DATABASE_BACKUP_PREFIX
    # of `artifacts`, bound to GATEWAY_DB; None without an in-cluster database or a bucket.
    database_backup: WorkloadIdentity | None = None
    # The identity that writes models/ and evals/ of `artifacts`, bound to MODEL_PUBLISHER;
    # None where the store needs none (an on-prem claim) or there is no store.
    model_publisher: WorkloadIdentity | None = None
    # Per training job (spec training.jobs[].name): the identity bound to the job's service
    # account TRAINER_PREFIX<job>, which reads the store and writes only
    # checkpoints/<job>/ and models/<its model>/. Empty where the store needs none.
    trainers: dict[str, WorkloadIdentity] = field(default_factory=dict)
    gpu_runtime: GpuNodeRuntime = field(default_factory=GpuNodeRuntime)


def node_labels(pool: GpuPool) -> dict[str, str]:
    """The labels a pool's nodes carry (cloud foundations set them on the node pool)."""
    return dict(pool.node_labels) or {POOL_LABEL: pool.name}


def gpu_resource(pool: GpuPool) -> str:
    return AMD_GPU if catalog.gpus()[pool.gpu].vendor == "amd" else NVIDIA_GPU


def gpu_taint(pool: GpuPool, value: str | None = GPU_TAINT_VALUE) -> Taint:
    """The taint that keeps everything but GPU workloads off a pool's nodes. Cloud node pools
    set it with the value `present`; on-prem nodes carry it with whatever value their admin
    chose (README: before the first `up`)."""
    return Taint(key=gpu_resource(pool), effect=GPU_TAINT_EFFECT, value=value)


def pool_scheduling(
    pools: list[GpuPool],
    implied: Callable[[GpuPool], list[Taint]] = lambda _: [],
    taint_value: str | None = GPU_TAINT_VALUE,
) -> dict[str, PoolScheduling]:
    """How pods reach each pool: its node labels, the GPU taint the platform sets and the
    taints `implied` says the cloud adds."""
    return {
        pool.name: PoolScheduling(
            max_gpus=pool.max_nodes * pool.gpus_per_node,
            node_selector=node_labels(pool),
            taints=(gpu_taint(pool, taint_value), *implied(pool)),
            gpu_resource=gpu_resource(pool),
        )
        for pool in pools
    }

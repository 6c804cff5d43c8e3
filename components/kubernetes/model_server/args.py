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
    """Copy the weights from the environment's store with the workload identity (none for an
    on-prem claim, which the fetch mounts read-only), before the server starts."""

    store: ArtifactStore
    identity: WorkloadIdentity | None
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
class ModelSync:
    """Copy a revision once into the store, with its manifest and signature (a Job, run as
    MODEL_PUBLISHER, that the server waits for)."""

    # hf://<hf_id> (the Hub at the revision) or an fsspec URL of another store's directory.
    source: str
    store: ArtifactStore
    # The publisher's identity; None where the store needs none (an on-prem claim).
    identity: WorkloadIdentity | None
    # The Secret holding the signing key (key `private.pem`).
    signing_key_secret: str
    hf_token: SecretFile | None = None
    # The ConfigMap of credential files the publisher's identity needs, when it needs any.
    files_config_map: pulumi.Input[str] | None = None
    # What the Job needs first: the publisher's service account, the signing key Secret,
    # the store's claim (the layer hands in the objects it made).
    ready: tuple[pulumi.Resource, ...] = ()


@dataclass(frozen=True)
class ModelVersion:
    """The pinned revision a server serves, the one it replaces, and how its weights are
    proven: synced, signed and verified before the engine starts where there is a store;
    downloaded by the engine at the pinned revision where there is none."""

    revision: str
    previous_revision: str | None = None
    sync: ModelSync | None = None
    # The ConfigMap holding the signing public key (key `public.pem`); set: the verify init
    # container checks signature and hashes before the engine starts.
    public_key_config_map: str | None = None
    # Where the verify container pushes llm_model_artifact_invalid (the stack's Pushgateway).
    pushgateway_url: str | None = None


@dataclass(frozen=True)
class CanaryStep:
    weight_pct: int
    pause_s: int | None  # None after the last step


@dataclass(frozen=True)
class AbortThresholds:
    """Canary against stable, by pod-template hash: abort when any holds."""

    error_ratio_factor: float = 1.5
    ttft_p95_factor: float = 1.5
    refusal_rate_increase: float = 0.03
    cost_per_request_factor: float = 1.2


@dataclass(frozen=True)
class EvalGate:
    """The golden set run against the candidate and the incumbent before any traffic."""

    golden_uri: pulumi.Input[str]  # fsspec URL of evals/<name>/golden.jsonl
    reports_uri: pulumi.Input[str]  # fsspec URL of evals/<name>/reports/
    min_score: float
    max_regression: float
    # LLM-as-judge through the gateway: the judge's model name and the written rubric.
    judge_model: str | None = None
    judge_rubric: str | None = None


@dataclass(frozen=True)
class Shadow:
    """The gateway copies this share of real requests to the candidate while it has no
    traffic, discards its answers and scores them against the incumbent's."""

    sample_pct: float
    duration_s: int


@dataclass(frozen=True)
class RolloutArgs:
    """Served by an Argo Rollouts Rollout instead of a Deployment."""

    steps: tuple[CanaryStep, ...]
    eval_gate: EvalGate
    abort: AbortThresholds = AbortThresholds()
    shadow: Shadow | None = None
    # An indefinite pause after the gate (and shadow) that `kubectl argo rollouts promote` ends.
    approval: bool = False


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
    version: ModelVersion | None = None
    rollout: RolloutArgs | None = None
    # The Argo Rollouts release (its CRDs): a Rollout and its AnalysisTemplates depend on it.
    rollouts_ready: tuple[pulumi.Resource, ...] = ()

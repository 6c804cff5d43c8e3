"""The narrow Args of the TrainingJobs component: one TrainingJobArgs per spec
training.jobs[] entry, resolved from the spec and the foundation's ClusterFacts by
components/kubernetes/resolve.py (training_args). Nothing here reads the spec."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.kubernetes.facts import ArtifactStore, PoolScheduling, WorkloadIdentity
from components.kubernetes.training.trigger import TriggerSpec
from components.scheduling import PodResources
from components.training.contract import HarnessConfig


@dataclass(frozen=True)
class TrainingJobArgs:
    """One training job: what its ServiceAccount, pod template and Job (or JobSet, or
    CronJob) are built from."""

    name: str  # spec training.jobs[].name
    image: str  # the trainer's image, pinned by digest
    command: tuple[str, ...]
    # The harness's arguments: the run (its id names the Job), the store, the grace.
    harness: HarnessConfig
    # Where the pods land: the pool's node labels and every taint its nodes carry.
    pool: PoolScheduling
    gpus_per_worker: int
    workers: int
    resources: PodResources
    # memory-backed /dev/shm, MiB (counted in resources' memory)
    shm_mib: int
    active_deadline_s: int
    # The trainer's identity to the store (ClusterFacts.trainers[name]); None where the store
    # needs none (an on-prem claim) or the foundation gave none.
    identity: WorkloadIdentity | None
    store: ArtifactStore
    # The Secret holding the signing private key, mounted for the harness to sign the output;
    # None: the output is not signed (no lifecycle.signing).
    signing_key_secret: str | None
    labels: dict[str, str]
    schedule: str | None = None
    # A CronJob that never runs by itself: the retraining trigger creates Jobs from it.
    triggered: bool = False
    on_demand_reason: str | None = None


@dataclass(frozen=True)
class JobSetInstall:
    """The JobSet controller's release, where some job has more than one worker."""

    labels: dict[str, str]
    renders: bool


@dataclass(frozen=True)
class TrainingJobsArgs:
    namespace: pulumi.Input[str]
    jobs: tuple[TrainingJobArgs, ...]
    labels: dict[str, str]  # the jobs' shared objects (the NetworkPolicy)
    tools_image: str  # the model-tools image (catalog row), source of the harness
    # Set where the jobs run in a namespace of their own (a hybrid's cloud cluster): the
    # namespace's labels, made restricted, and the signing key's Secret made there too.
    own_namespace_labels: dict[str, str] | None = None
    private_key: pulumi.Input[str] | None = None
    jobset: JobSetInstall | None = None


@dataclass(frozen=True)
class RetrainingTriggersArgs:
    """The retraining triggers, in the serving namespace beside Prometheus and the
    Pushgateway (the layer's; on a hybrid's on-prem cluster)."""

    namespace: pulumi.Input[str]
    triggers: tuple[TriggerSpec, ...]
    labels: dict[str, str]

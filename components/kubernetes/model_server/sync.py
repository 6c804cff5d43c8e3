"""The Job that copies a pinned revision into the artifact store once, with its manifest and
signature, before any server pod fetches it. Pure builders: they return Pulumi Args or plain
values.

The Job runs `python -m components.lifecycle.sync` (image model-tools) as MODEL_PUBLISHER, the
one service account that may write models/ of the store. It is idempotent and never
overwrites a revision already there, so a Job that runs again changes nothing.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import pulumi
import pulumi_kubernetes as k8s

from components import conventions
from components.kubernetes import pods
from components.kubernetes.facts import MODEL_PUBLISHER, MODELS_PREFIX, PRIVATE_KEY_FILE
from components.kubernetes.model_server.args import ModelServerArgs, ModelSync
from components.kubernetes.model_server.weights import (
    HF_SECRET_MOUNT,
    SIGNING_DIR,
    TOOLS_IMAGE,
    hf_token_file,
    identity_volumes,
    revision_dir,
    store_claim,
    weights_volume,
)

COMPONENT = "model-sync"
SCRATCH = "/scratch"
# A failed copy is retried twice: the tool resumes nothing (a fresh pod has an empty scratch
# volume), and a third failure is a fault to read in the logs, not a flake.
BACKOFF_LIMIT = 2
# Kubernetes retries a failed pod after 10 s, then 20 s (Job backoffLimit docs).
BACKOFF_S = 10 + 20
# Planning allowances for the wait, not measurements: each attempt moves the weights three
# times (download from the source, read again to hash and sign, upload to the store) at no
# less than this rate, after a fixed start (image pull, listing the source).
SYNC_GIB_PER_S = 0.05
SYNC_PASSES = 3
SYNC_START_S = 600

core = k8s.core.v1


def job_name(model: str, sync: ModelSync, revision: str) -> str:
    """Jobs are immutable: another source or revision gets a Job of its own, named by the
    first 8 hex of sha256(<source>@<revision>). At most 40 + 14 characters."""
    digest = hashlib.sha256(f"{sync.source}@{revision}".encode()).hexdigest()
    return f"{model}-sync-{digest[:8]}"


def job_timeout(size_gib: int) -> str:
    """How long `pulumi up` waits for the Job: every attempt at the planned rate, and the
    backoff between them. pulumi-kubernetes waits for the Job's Complete condition and
    fails on Failed (pulumi_kubernetes==4.34.2 batch/v1/Job.py:109-124), 10 minutes by
    default, far short of a large model's copy."""
    attempt_s = SYNC_START_S + math.ceil(size_gib * SYNC_PASSES / SYNC_GIB_PER_S)
    return f"{math.ceil((attempt_s * (BACKOFF_LIMIT + 1) + BACKOFF_S) / 60)}m"


def sync_command(args: ModelServerArgs, sync: ModelSync, revision: str) -> list[pulumi.Input[str]]:
    """The CLI's arguments (components/lifecycle/sync.py parser()): the revision's place in
    the store is <store>/models/<name>/<revision>."""
    dest = pulumi.Output.concat(
        sync.store.fsspec_uri, f"/{MODELS_PREFIX}/", revision_dir(args.name, revision)
    )
    token = ["--hf-token-file", f"{HF_SECRET_MOUNT}/token"] if sync.hf_token else []
    return [
        "python", "-m", "components.lifecycle.sync",
        "--model", args.name,
        "--revision", revision,
        "--source", sync.source,
        "--dest", dest,
        "--signing-key", f"{SIGNING_DIR}/{PRIVATE_KEY_FILE}",
        *token,
        "--scratch", SCRATCH,
    ]  # fmt: skip


def signing_key_volume(sync: ModelSync) -> tuple[core.VolumeArgs, core.VolumeMountArgs]:
    """The private key as a file readable by the pod's group only; never an env var."""
    volume = core.VolumeArgs(
        name="signing-key",
        secret=core.SecretVolumeSourceArgs(
            secret_name=sync.signing_key_secret,
            items=[core.KeyToPathArgs(key=PRIVATE_KEY_FILE, path=PRIVATE_KEY_FILE)],
            default_mode=0o440,
        ),
    )
    return volume, core.VolumeMountArgs(name="signing-key", mount_path=SIGNING_DIR, read_only=True)


def job_volumes(
    args: ModelServerArgs, sync: ModelSync
) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
    """Scratch for the copy (the whole revision passes through it), the signing key, the
    Hub token, and the store: the publisher's cloud credentials or the claim, read-write.

    Scratch is a claim made for the pod (a generic ephemeral volume of the weights' size and
    storage class), not an emptyDir: the CPU nodes the Job runs on have 50 GiB root disks
    (components/aws/nodes.py CPU_ROOT_GIB, gcp/cluster.py), less than a 70B model's weights."""
    scratch = weights_volume(
        replace(args.weights, volume="per-pod"), job_labels(args), claim=None, name="scratch"
    )
    key, key_mount = signing_key_volume(sync)
    volumes = [scratch, key]
    mounts = [core.VolumeMountArgs(name="scratch", mount_path=SCRATCH), key_mount]
    if sync.hf_token is not None:
        volume, mount, _ = hf_token_file(sync.hf_token)
        volumes.append(volume)
        mounts.append(mount)
    cloud, cloud_mounts = identity_volumes(sync.identity, sync.files_config_map)
    volumes += cloud
    mounts += cloud_mounts
    if sync.store.claim is not None:
        volume, mount = store_claim(sync.store.claim, read_only=False)
        volumes.append(volume)
        mounts.append(mount)
    return volumes, mounts


def sync_container(args: ModelServerArgs, sync: ModelSync, revision: str) -> core.ContainerArgs:
    identity_env = sync.identity.env if sync.identity is not None else {}
    env = {
        **sync.store.fsspec_env,
        **identity_env,
        "HOME": f"{SCRATCH}/home",
        # The Hub's cache goes where the space is, not the read-only root.
        "HF_HOME": f"{SCRATCH}/hf",
    }
    # Requests equal limits: a multi-hour copy is never the pod the kubelet evicts first.
    quantities = {"cpu": "1", "memory": "2Gi"}
    return core.ContainerArgs(
        name="sync",
        image=TOOLS_IMAGE,
        image_pull_policy="Always",
        command=sync_command(args, sync, revision),
        env=[core.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())],
        resources=core.ResourceRequirementsArgs(requests=quantities, limits=dict(quantities)),
        volume_mounts=job_volumes(args, sync)[1],
        security_context=pods.container_security(),
    )


def job_labels(args: ModelServerArgs) -> dict[str, str]:
    """The model's labels under a name and component of its own, so no selector of the
    server's (Service, PDB, NetworkPolicy, ServiceMonitor) ever matches the Job's pod."""
    own = {conventions.APP_NAME: f"{args.name}-sync", conventions.APP_COMPONENT: COMPONENT}
    return {**args.labels, **own}


def job_spec(args: ModelServerArgs, sync: ModelSync, revision: str) -> k8s.batch.v1.JobSpecArgs:
    """On the CPU nodes: no node selector and no GPU toleration. No ttlSecondsAfterFinished:
    the finished Job stays, the record that this revision was synced, and `pulumi up` finds
    the object it awaited instead of recreating it."""
    identity_labels = sync.identity.pod_labels if sync.identity is not None else {}
    labels = {**job_labels(args), **identity_labels}
    return k8s.batch.v1.JobSpecArgs(
        backoff_limit=BACKOFF_LIMIT,
        template=pods.job_pod(
            labels,
            MODEL_PUBLISHER,
            sync_container(args, sync, revision),
            job_volumes(args, sync)[0],
        ),
    )


def store_claim_spec(
    size_gib: int, storage_class: str | None
) -> core.PersistentVolumeClaimSpecArgs:
    """An on-prem store: every model server pod reads it and the sync Job writes it, from
    any node."""
    return core.PersistentVolumeClaimSpecArgs(
        access_modes=["ReadWriteMany"],
        storage_class_name=storage_class,
        resources=core.VolumeResourceRequirementsArgs(requests={"storage": f"{size_gib}Gi"}),
    )


def network_policy_spec() -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Nothing reaches a sync Job's pod; it reaches out (the Hub, the store) as it must."""
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels={conventions.APP_COMPONENT: COMPONENT}
        ),
        policy_types=["Ingress"],
        ingress=[],
    )

"""WeightsAccess: the service account (and credential files) that lets model servers read
the artifact bucket, plus the init container that copies a model's weights from it.

The Kubernetes side of workload identity is the same everywhere: a service account with
the annotations the cloud asks for, and pods that run as it. What differs per cloud
arrives as ClusterFacts, so nothing here names a cloud.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.engines import MODELS_MOUNT, SCRATCH_MOUNT
from components.kubernetes import pods
from components.kubernetes.facts import WEIGHTS_READER, ArtifactStore, WorkloadIdentity
from components.spec import EnvironmentSpec

# rclone speaks S3, GCS and Azure Blob with each cloud's workload identity (env_auth).
RCLONE_IMAGE = "rclone/rclone:1.68.2"
TOKEN_DIR = "/var/run/secrets/llm-platform/cloud-token"
FILES_DIR = "/etc/llm-platform/cloud"
TOKEN_TTL_S = 3600


@dataclass(frozen=True)
class WeightsAccessArgs:
    spec: EnvironmentSpec
    namespace: pulumi.Input[str]
    identity: WorkloadIdentity


class WeightsAccess(pulumi.ComponentResource):
    service_account: pulumi.Output[str]
    files_config_map: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: WeightsAccessArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:WeightsAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = naming.k8s_labels(args.spec, "model-weights", "identity")
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=WEIGHTS_READER,
                namespace=args.namespace,
                labels=labels,
                annotations=args.identity.service_account_annotations or None,
            ),
            # Pods mount only the audience-scoped token they need, never the API token.
            automount_service_account_token=False,
            opts=child,
        )
        self.service_account = account.metadata.name
        self.files_config_map = None
        if args.identity.files:
            files = k8s.core.v1.ConfigMap(
                f"{name}-files",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"{WEIGHTS_READER}-cloud",
                    namespace=args.namespace,
                    labels=labels,
                ),
                data=args.identity.files,
                opts=child,
            )
            self.files_config_map = files.metadata.name
        self.register_outputs({"service_account": self.service_account})


def fetch_weights(
    store: ArtifactStore,
    identity: WorkloadIdentity,
    model: str,
    files_config_map: pulumi.Input[str] | None,
) -> tuple[k8s.core.v1.ContainerArgs, list[k8s.core.v1.VolumeArgs]]:
    """An init container that copies models/<model>/ from the bucket to the weights volume
    (rclone copy skips files already there, so a restart costs a listing, not a download),
    and the volumes it needs beyond the weights and scratch volumes."""
    env = {**store.rclone_env, **identity.env, "HOME": f"{SCRATCH_MOUNT}/home"}
    mounts = [
        k8s.core.v1.VolumeMountArgs(name="weights", mount_path=MODELS_MOUNT),
        k8s.core.v1.VolumeMountArgs(name="scratch", mount_path=SCRATCH_MOUNT),
    ]
    volumes = []
    if identity.token_audience is not None:
        volumes.append(
            k8s.core.v1.VolumeArgs(
                name="cloud-token",
                projected=k8s.core.v1.ProjectedVolumeSourceArgs(
                    sources=[
                        k8s.core.v1.VolumeProjectionArgs(
                            service_account_token=k8s.core.v1.ServiceAccountTokenProjectionArgs(
                                audience=identity.token_audience,
                                expiration_seconds=TOKEN_TTL_S,
                                path="token",
                            )
                        )
                    ]
                ),
            )
        )
        mounts.append(
            k8s.core.v1.VolumeMountArgs(name="cloud-token", mount_path=TOKEN_DIR, read_only=True)
        )
    if files_config_map is not None:
        volumes.append(
            k8s.core.v1.VolumeArgs(
                name="cloud-files",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=files_config_map),
            )
        )
        mounts.append(
            k8s.core.v1.VolumeMountArgs(name="cloud-files", mount_path=FILES_DIR, read_only=True)
        )
    container = k8s.core.v1.ContainerArgs(
        name="fetch-weights",
        image=RCLONE_IMAGE,
        image_pull_policy="Always",
        command=[
            "rclone",
            "copy",
            pulumi.Output.concat(store.models_path, f"/{model}"),
            f"{MODELS_MOUNT}/{model}",
            "--transfers=8",
            "--checkers=16",
            "--stats=30s",
            "--stats-one-line",
            "--verbose",
        ],
        env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())],
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "2", "memory": "1Gi"}
        ),
        volume_mounts=mounts,
        security_context=pods.container_security(),
    )
    return container, volumes

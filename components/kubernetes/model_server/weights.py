"""The weights volume, the Hugging Face token file and the init container that copies the
weights from the bucket. Pure builders: they return Pulumi Args."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.engines import MODELS_MOUNT, SCRATCH_MOUNT
from components.kubernetes import pods
from components.kubernetes.model_server.args import SecretFile, WeightsFetch, WeightsSource
from components.kubernetes.weights_access import FILES_DIR, RCLONE_IMAGE, TOKEN_DIR, TOKEN_TTL_S

HF_SECRET_MOUNT = "/var/run/secrets/huggingface"

core = k8s.core.v1


def shared_claim_spec(weights: WeightsSource) -> core.PersistentVolumeClaimSpecArgs:
    return core.PersistentVolumeClaimSpecArgs(
        access_modes=[weights.shared_access_mode],
        storage_class_name=weights.storage_class,
        resources=core.VolumeResourceRequirementsArgs(
            requests={"storage": f"{weights.size_gib}Gi"}
        ),
    )


def weights_volume(
    weights: WeightsSource, labels: dict[str, str], claim: pulumi.Input[str] | None
) -> core.VolumeArgs:
    """The shared claim, or a generic ephemeral volume: a ReadWriteOnce claim made for each
    pod on whichever node it lands and deleted with it, so a surge pod never waits for a
    disk attached elsewhere."""
    if claim is not None:
        return core.VolumeArgs(
            name="weights",
            persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(claim_name=claim),
        )
    return core.VolumeArgs(
        name="weights",
        ephemeral=core.EphemeralVolumeSourceArgs(
            volume_claim_template=core.PersistentVolumeClaimTemplateArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=core.PersistentVolumeClaimSpecArgs(
                    access_modes=["ReadWriteOnce"],
                    storage_class_name=weights.storage_class,
                    resources=core.VolumeResourceRequirementsArgs(
                        requests={"storage": f"{weights.size_gib}Gi"}
                    ),
                ),
            )
        ),
    )


def hf_token_file(
    secret: SecretFile,
) -> tuple[core.VolumeArgs, core.VolumeMountArgs, dict[str, str]]:
    """A file, not an env var: env vars leak into crash dumps and `kubectl describe`."""
    volume = core.VolumeArgs(
        name="hf-token",
        secret=core.SecretVolumeSourceArgs(
            secret_name=secret.name,
            items=[core.KeyToPathArgs(key=secret.key, path="token")],
            default_mode=0o440,
        ),
    )
    mount = core.VolumeMountArgs(name="hf-token", mount_path=HF_SECRET_MOUNT, read_only=True)
    return volume, mount, {"HF_TOKEN_PATH": f"{HF_SECRET_MOUNT}/token"}


def fetch_volumes(
    fetch: WeightsFetch,
) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
    """The projected cloud token and the credential files the fetch needs, if any."""
    volumes, mounts = [], []
    if fetch.identity.token_audience is not None:
        token = core.ServiceAccountTokenProjectionArgs(
            audience=fetch.identity.token_audience, expiration_seconds=TOKEN_TTL_S, path="token"
        )
        volumes.append(
            core.VolumeArgs(
                name="cloud-token",
                projected=core.ProjectedVolumeSourceArgs(
                    sources=[core.VolumeProjectionArgs(service_account_token=token)]
                ),
            )
        )
        mounts.append(
            core.VolumeMountArgs(name="cloud-token", mount_path=TOKEN_DIR, read_only=True)
        )
    if fetch.files_config_map is not None:
        volumes.append(
            core.VolumeArgs(
                name="cloud-files",
                config_map=core.ConfigMapVolumeSourceArgs(name=fetch.files_config_map),
            )
        )
        mounts.append(
            core.VolumeMountArgs(name="cloud-files", mount_path=FILES_DIR, read_only=True)
        )
    return volumes, mounts


def fetch_container(
    fetch: WeightsFetch, model: str, extra_mounts: list[core.VolumeMountArgs]
) -> core.ContainerArgs:
    """An init container that copies models/<model>/ from the bucket to the weights volume
    (rclone copy skips files already there, so a restart costs a listing, not a download)."""
    env = {**fetch.store.rclone_env, **fetch.identity.env, "HOME": f"{SCRATCH_MOUNT}/home"}
    mounts = [
        core.VolumeMountArgs(name="weights", mount_path=MODELS_MOUNT),
        core.VolumeMountArgs(name="scratch", mount_path=SCRATCH_MOUNT),
        *extra_mounts,
    ]
    return core.ContainerArgs(
        name="fetch-weights",
        image=RCLONE_IMAGE,
        image_pull_policy="Always",
        command=[
            "rclone",
            "copy",
            pulumi.Output.concat(fetch.store.models_path, f"/{model}"),
            f"{MODELS_MOUNT}/{model}",
            "--transfers=8",
            "--checkers=16",
            "--stats=30s",
            "--stats-one-line",
            "--verbose",
        ],
        env=[core.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())],
        resources=core.ResourceRequirementsArgs(
            requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "2", "memory": "1Gi"}
        ),
        volume_mounts=mounts,
        security_context=pods.container_security(),
    )

"""The weights volume, the Hugging Face token file, and the init containers that copy a
revision's weights from the store and verify them. Pure builders: they return Pulumi Args."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.catalog import versions
from components.engines import MODELS_MOUNT, SCRATCH_MOUNT
from components.kubernetes import pods
from components.kubernetes.facts import PUBLIC_KEY_FILE, STORE_MOUNT, WorkloadIdentity
from components.kubernetes.model_server.args import (
    ModelVersion,
    SecretFile,
    WeightsFetch,
    WeightsSource,
)
from components.kubernetes.weights_access import FILES_DIR, RCLONE_IMAGE, TOKEN_DIR, TOKEN_TTL_S

HF_SECRET_MOUNT = "/var/run/secrets/huggingface"
# Our lifecycle runtime (components/lifecycle/, docker/model-tools.Dockerfile): the verify
# init container and the sync Job.
TOOLS_IMAGE = versions.image("model-tools")
# Where the signing keys are mounted: the public key in the verify container, the private
# key in the sync Job only.
SIGNING_DIR = "/etc/model-signing"

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


def identity_volumes(
    identity: WorkloadIdentity | None, files_config_map: pulumi.Input[str] | None
) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
    """The projected cloud token and the credential files an identity needs, if any."""
    volumes, mounts = [], []
    if identity is not None and identity.token_audience is not None:
        token = core.ServiceAccountTokenProjectionArgs(
            audience=identity.token_audience, expiration_seconds=TOKEN_TTL_S, path="token"
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
    if files_config_map is not None:
        volumes.append(
            core.VolumeArgs(
                name="cloud-files",
                config_map=core.ConfigMapVolumeSourceArgs(name=files_config_map),
            )
        )
        mounts.append(
            core.VolumeMountArgs(name="cloud-files", mount_path=FILES_DIR, read_only=True)
        )
    return volumes, mounts


def fetch_volumes(
    fetch: WeightsFetch,
) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
    """What the fetch reads the store with: the reader's token and credential files, or the
    store's own claim, read-only."""
    volumes, mounts = identity_volumes(fetch.identity, fetch.files_config_map)
    if fetch.store.claim is not None:
        volume, mount = store_claim(fetch.store.claim, read_only=True)
        volumes.append(volume)
        mounts.append(mount)
    return volumes, mounts


def store_claim(claim: str, read_only: bool) -> tuple[core.VolumeArgs, core.VolumeMountArgs]:
    """An on-prem store's claim at STORE_MOUNT, where its rclone remote and fsspec root
    point (components/onprem/artifacts.py)."""
    volume = core.VolumeArgs(
        name="artifacts",
        persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(
            claim_name=claim, read_only=read_only
        ),
    )
    return volume, core.VolumeMountArgs(
        name="artifacts", mount_path=STORE_MOUNT, read_only=read_only
    )


def revision_dir(model: str, revision: str | None) -> str:
    """A revision's directory, under the store's models/ and on the weights volume alike:
    <model>/<revision>, so two revisions on one shared claim never mix files."""
    return f"{model}/{revision}" if revision else model


def fetch_container(
    fetch: WeightsFetch, weights_dir: str, extra_mounts: list[core.VolumeMountArgs]
) -> core.ContainerArgs:
    """An init container that copies models/<weights_dir>/ from the store to the same path
    on the weights volume (rclone copy skips files already there, so a restart costs a
    listing, not a download)."""
    identity_env = fetch.identity.env if fetch.identity is not None else {}
    env = {**fetch.store.rclone_env, **identity_env, "HOME": f"{SCRATCH_MOUNT}/home"}
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
            pulumi.Output.concat(fetch.store.models_path, f"/{weights_dir}"),
            f"{MODELS_MOUNT}/{weights_dir}",
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


def public_key_volume(config_map: str) -> core.VolumeArgs:
    """The signing public key (not secret) as a file for the verify container."""
    return core.VolumeArgs(
        name="signing-pub",
        config_map=core.ConfigMapVolumeSourceArgs(
            name=config_map, items=[core.KeyToPathArgs(key=PUBLIC_KEY_FILE, path=PUBLIC_KEY_FILE)]
        ),
    )


def verify_container(version: ModelVersion, model: str, weights_dir: str) -> core.ContainerArgs:
    """An init container after the fetch: the signature over the manifest and every file's
    hash, on the local copy the engine will load. A mismatch prints one line, pushes
    llm_model_artifact_invalid{model,revision} and exits non-zero, so the engine never
    starts (components/lifecycle/verify.py)."""
    return core.ContainerArgs(
        name="verify-weights",
        image=TOOLS_IMAGE,
        image_pull_policy="Always",
        command=[
            "python", "-m", "components.lifecycle.verify",
            "--model", model,
            "--revision", version.revision,
            "--dir", f"{MODELS_MOUNT}/{weights_dir}",
            "--public-key", f"{SIGNING_DIR}/{PUBLIC_KEY_FILE}",
            *(["--pushgateway", version.pushgateway_url] if version.pushgateway_url else []),
        ],  # fmt: skip
        env=[core.EnvVarArgs(name="HOME", value=f"{SCRATCH_MOUNT}/home")],
        resources=core.ResourceRequirementsArgs(
            requests={"cpu": "500m", "memory": "512Mi"}, limits={"cpu": "2", "memory": "512Mi"}
        ),
        volume_mounts=[
            core.VolumeMountArgs(name="weights", mount_path=MODELS_MOUNT, read_only=True),
            core.VolumeMountArgs(name="scratch", mount_path=SCRATCH_MOUNT),
            core.VolumeMountArgs(name="signing-pub", mount_path=SIGNING_DIR, read_only=True),
        ],
        security_context=pods.container_security(),
    )

"""What the gateway's pods read: the ConfigMap's files, the Secrets' data, the request-log
claim, and the Job that provisions teams and keys. Pure builders: they return Pulumi Args
or plain values."""

from __future__ import annotations

import hashlib

import pulumi
import pulumi_kubernetes as k8s

from components import conventions
from components.kubernetes import pods
from components.kubernetes.gateway import config
from components.kubernetes.gateway.args import ExistingDatabase, GatewayArgs, RequestLog
from components.kubernetes.gateway.deployment import (
    COMPONENT,
    CONFIG_DIR,
    CONFIG_MAP,
    DATABASE_URL_KEY,
    KEYS_DIR,
    KEYS_SECRET,
    MASTER_KEY,
    NAME,
    SETTINGS_FILE,
    database_env,
    hosted_secret_key,
)

JOB_PREFIX = f"{NAME}-provision"
# A finished Job stays a day for its logs; provisioning is idempotent, so a Job that
# Kubernetes has removed and `pulumi up` makes again changes nothing.
JOB_TTL_S = 86400
# Kubernetes retries a failed pod with a doubling delay from 10 s (Job backoffLimit docs):
# six retries cover the minutes a new database needs before it accepts connections.
JOB_BACKOFF_LIMIT = 6
# 10 + 20 + ... + 320 s of backoff is 10.5 minutes, plus the runs themselves.
JOB_WAIT = "20m"
# Projected Secret files readable by the pod's group (fsGroup), by no one else.
SECRET_FILE_MODE = 0o440

core = k8s.core.v1


def config_data(args: GatewayArgs) -> dict[str, str]:
    """The ConfigMap `llm-gateway-config`: no secret, only `os.environ/` references."""
    return {"config.yaml": config.config_yaml(args), "gateway.json": config.settings_json(args)}


def job_name(args: GatewayArgs) -> str:
    """Jobs are immutable: a changed team table gets a Job of its own, named by its hash."""
    digest = hashlib.sha256(config.settings_json(args).encode()).hexdigest()
    return f"{JOB_PREFIX}-{digest[:8]}"


def secret_data(args: GatewayArgs) -> dict[str, pulumi.Input[str]]:
    """`llm-gateway-secrets`: the master key, the existing database's URL, each hosted API's
    key. Values are the Pulumi secrets the spec names (none in render mode)."""
    data = {MASTER_KEY: args.secrets[args.master_key_secret]}
    if isinstance(args.database, ExistingDatabase):
        data[DATABASE_URL_KEY] = args.secrets[args.database.url_secret]
    for route in args.routes:
        if route.fallback is not None:
            data[hosted_secret_key(route.model)] = args.secrets[route.fallback.key_secret]
    return data


def key_data(args: GatewayArgs) -> dict[str, pulumi.Input[str]]:
    """`llm-gateway-keys`: one entry per key alias, the key itself."""
    return {key.alias: args.secrets[key.secret] for team in args.teams for key in team.keys}


def log_claim_spec(log: RequestLog) -> core.PersistentVolumeClaimSpecArgs:
    """Every gateway replica appends to it and the quality monitor reads it, from any node."""
    return core.PersistentVolumeClaimSpecArgs(
        access_modes=["ReadWriteMany"],
        storage_class_name=log.storage_class,
        resources=core.VolumeResourceRequirementsArgs(requests={"storage": f"{log.size_gib}Gi"}),
    )


def _provision_volume(args: GatewayArgs) -> core.VolumeArgs:
    """gateway.json and the keys in one directory, as the command line names them."""
    keys = [
        core.KeyToPathArgs(key=key.alias, path=f"keys/{key.alias}")
        for team in args.teams
        for key in team.keys
    ]
    sources = [
        core.VolumeProjectionArgs(
            config_map=core.ConfigMapProjectionArgs(
                name=CONFIG_MAP, items=[core.KeyToPathArgs(key="gateway.json", path="gateway.json")]
            )
        )
    ]
    if keys:
        secret = core.SecretProjectionArgs(name=KEYS_SECRET, items=keys)
        sources.append(core.VolumeProjectionArgs(secret=secret))
    return core.VolumeArgs(
        name="provision",
        projected=core.ProjectedVolumeSourceArgs(sources=sources, default_mode=SECRET_FILE_MODE),
    )


def job_container(args: GatewayArgs) -> core.ContainerArgs:
    return core.ContainerArgs(
        name="provision",
        image=args.image,
        image_pull_policy="Always",
        command=[
            "python", "-m", "components.gateway.provision",
            "--settings", SETTINGS_FILE, "--keys-dir", KEYS_DIR,
        ],
        env=[
            database_env(args),
            core.EnvVarArgs(name="GATEWAY_SETTINGS", value=SETTINGS_FILE),
            core.EnvVarArgs(name="HOME", value="/tmp"),
        ],
        resources=core.ResourceRequirementsArgs(
            requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"}
        ),
        security_context=pods.container_security(),
        volume_mounts=[
            core.VolumeMountArgs(name="provision", mount_path=CONFIG_DIR, read_only=True),
            core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ],
    )


def job_spec(args: GatewayArgs) -> k8s.batch.v1.JobSpecArgs:
    # The gateway's component label: the gateway NetworkPolicy lets it reach the database.
    labels = {**args.labels, conventions.APP_NAME: JOB_PREFIX, conventions.APP_COMPONENT: COMPONENT}
    return k8s.batch.v1.JobSpecArgs(
        backoff_limit=JOB_BACKOFF_LIMIT,
        ttl_seconds_after_finished=JOB_TTL_S,
        template=core.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
            spec=core.PodSpecArgs(
                restart_policy="Never",
                automount_service_account_token=False,
                enable_service_links=False,
                security_context=pods.pod_security(),
                containers=[job_container(args)],
                volumes=[
                    _provision_volume(args),
                    core.VolumeArgs(
                        name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="64Mi")
                    ),
                ],
            ),
        ),
    )

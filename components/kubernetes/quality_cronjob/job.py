"""The quality monitor's configuration and CronJob. Pure builders: they return Pulumi Args
or plain values."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import pods

NAME = "quality-monitor"
CONFIG_MOUNT = "/etc/llm-quality"
LOGS_MOUNT = "/var/log/llm"
# The embedding model is baked into the image: never reach the Hub at run time.
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HOME": "/tmp", "OMP_NUM_THREADS": "2"}

core = k8s.core.v1


def config_json(models: list[str], reference_dir: str, sample_size: int, pushgateway: str) -> str:
    """components/quality/monitor.py reads this file."""
    return json.dumps(
        {
            "models": models,
            "log_dir": LOGS_MOUNT,
            "reference_dir": f"{LOGS_MOUNT}/{reference_dir}",
            "sample_size": sample_size,
            "pushgateway": pushgateway,
        },
        indent=1,
        sort_keys=True,
    )


def container(image: str) -> core.ContainerArgs:
    return core.ContainerArgs(
        name=NAME,
        image=image,
        image_pull_policy="Always",
        command=["python", "-m", "components.quality"],
        args=[f"--config={CONFIG_MOUNT}/config.json"],
        env=[core.EnvVarArgs(name=k, value=v) for k, v in ENV.items()],
        resources=core.ResourceRequirementsArgs(
            requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "2", "memory": "3Gi"}
        ),
        security_context=pods.container_security(),
        volume_mounts=[
            core.VolumeMountArgs(name="config", mount_path=CONFIG_MOUNT, read_only=True),
            core.VolumeMountArgs(name="logs", mount_path=LOGS_MOUNT, read_only=True),
            core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ],
    )


def volumes(config_map: pulumi.Input[str], log_claim: str) -> list[core.VolumeArgs]:
    """The config, the request logs (read-only) and a scratch directory."""
    logs = core.PersistentVolumeClaimVolumeSourceArgs(claim_name=log_claim, read_only=True)
    return [
        core.VolumeArgs(name="config", config_map=core.ConfigMapVolumeSourceArgs(name=config_map)),
        core.VolumeArgs(name="logs", persistent_volume_claim=logs),
        core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="1Gi")),
    ]


def cronjob_spec(
    schedule: str, labels: dict[str, str], pod: core.PodSpecArgs
) -> k8s.batch.v1.CronJobSpecArgs:
    return k8s.batch.v1.CronJobSpecArgs(
        schedule=schedule,
        # A slow run must not pile up behind itself; the next one starts fresh.
        concurrency_policy="Forbid",
        starting_deadline_seconds=300,
        successful_jobs_history_limit=1,
        failed_jobs_history_limit=3,
        job_template=k8s.batch.v1.JobTemplateSpecArgs(
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=1,
                active_deadline_seconds=900,
                ttl_seconds_after_finished=3600,
                template=core.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=pod
                ),
            )
        ),
    )


def pod_spec(image: str, config_map: pulumi.Input[str], log_claim: str) -> core.PodSpecArgs:
    """No Kubernetes API access is needed, so no service-account token."""
    return core.PodSpecArgs(
        restart_policy="Never",
        automount_service_account_token=False,
        security_context=pods.pod_security(),
        containers=[container(image)],
        volumes=volumes(config_map, log_claim),
    )

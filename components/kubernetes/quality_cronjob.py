"""QualityMonitor: the CronJob that scores refusals and drift from the request logs.

The job reads the log claim read-only and pushes scores to the Pushgateway; it needs no
Kubernetes API access, so it runs with no service-account token. Its image is built from
this repository (`docker/quality-monitor.Dockerfile`) with the embedding model baked in,
so it never downloads weights at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.kubernetes import pods
from components.spec import EnvironmentSpec, Quality

NAME = "quality-monitor"
COMPONENT = "quality"
CONFIG_MOUNT = "/etc/llm-quality"
LOGS_MOUNT = "/var/log/llm"


@dataclass(frozen=True)
class QualityMonitorArgs:
    spec: EnvironmentSpec
    quality: Quality
    namespace: pulumi.Input[str]
    pushgateway_url: pulumi.Input[str]


class QualityMonitor(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: QualityMonitorArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:QualityMonitor", name, None, opts)
        spec, q, ns = args.spec, args.quality, args.namespace
        child = pulumi.ResourceOptions(parent=self)
        labels = naming.k8s_labels(spec, NAME, COMPONENT)

        def meta(**extra) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=ns, labels=labels, **extra)

        config = pulumi.Output.from_input(args.pushgateway_url).apply(
            lambda url: json.dumps(
                {
                    "models": [mdl.name for mdl in spec.models],
                    "log_dir": LOGS_MOUNT,
                    "reference_dir": f"{LOGS_MOUNT}/{q.reference_dir}",
                    "sample_size": q.sample_size,
                    "pushgateway": url,
                },
                indent=1,
                sort_keys=True,
            )
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=meta(), data={"config.json": config}, opts=child
        )
        container = k8s.core.v1.ContainerArgs(
            name=NAME,
            image=q.image,
            image_pull_policy="Always",
            command=["python", "-m", "components.quality"],
            args=[f"--config={CONFIG_MOUNT}/config.json"],
            env=[
                k8s.core.v1.EnvVarArgs(name=k, value=v)
                for k, v in {
                    "HF_HUB_OFFLINE": "1",
                    "TRANSFORMERS_OFFLINE": "1",
                    "HOME": "/tmp",
                    "OMP_NUM_THREADS": "2",
                }.items()
            ],
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "1", "memory": "1Gi"},
                limits={"cpu": "2", "memory": "3Gi"},
            ),
            security_context=pods.container_security(),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="config", mount_path=CONFIG_MOUNT, read_only=True),
                k8s.core.v1.VolumeMountArgs(name="logs", mount_path=LOGS_MOUNT, read_only=True),
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
            ],
        )
        k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata=meta(annotations=pods.digest_skip(q.image)),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=q.schedule,
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
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                            spec=k8s.core.v1.PodSpecArgs(
                                restart_policy="Never",
                                automount_service_account_token=False,
                                security_context=pods.pod_security(),
                                containers=[container],
                                volumes=[
                                    k8s.core.v1.VolumeArgs(
                                        name="config",
                                        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                            name=config_map.metadata.name
                                        ),
                                    ),
                                    k8s.core.v1.VolumeArgs(
                                        name="logs",
                                        persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                                            claim_name=q.log_volume_claim, read_only=True
                                        ),
                                    ),
                                    k8s.core.v1.VolumeArgs(
                                        name="tmp",
                                        empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                            size_limit="1Gi"
                                        ),
                                    ),
                                ],
                            ),
                        ),
                    )
                ),
            ),
            opts=child,
        )
        self.register_outputs({})

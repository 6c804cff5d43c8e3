"""QualityMonitor: the CronJob that scores refusals and drift from the request logs.

The job reads the log claim read-only and pushes scores to the Pushgateway; it needs no
Kubernetes API access, so it runs with no service-account token. Its image is built from
this repository (`docker/quality-monitor.Dockerfile`) with the embedding model baked in,
so it never downloads weights at run time. The objects come from the builders in `job`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import pods
from components.kubernetes.quality_cronjob import job
from components.kubernetes.quality_cronjob.job import NAME

COMPONENT = "quality"


@dataclass(frozen=True)
class QualityMonitorArgs:
    namespace: pulumi.Input[str]
    labels: dict[str, str]
    image: str
    schedule: str
    models: tuple[str, ...]
    # The claim holding the gateway's JSONL logs, and the directory in it with references.
    log_volume_claim: str
    reference_dir: str
    sample_size: int
    pushgateway_url: pulumi.Input[str]


class QualityMonitor(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: QualityMonitorArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:QualityMonitor", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def meta(**extra) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=NAME, namespace=args.namespace, labels=args.labels, **extra
            )

        config = pulumi.Output.from_input(args.pushgateway_url).apply(
            lambda url: job.config_json(
                list(args.models), args.reference_dir, args.sample_size, url
            )
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=meta(), data={"config.json": config}, opts=child
        )
        pod = job.pod_spec(args.image, config_map.metadata.name, args.log_volume_claim)
        k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata=meta(annotations=pods.digest_skip(args.image)),
            spec=job.cronjob_spec(args.schedule, args.labels, pod),
            opts=child,
        )
        self.register_outputs({})

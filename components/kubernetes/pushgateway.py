"""Pushgateway: where batch work (the quality monitor, training jobs) leaves its metrics.

It runs in the workload namespace, beside the jobs that push to it, under the restricted
profile. Prometheus scrapes it with honorLabels, so a pushed `model` or `pool` label is
kept as pushed instead of being overwritten by the gateway's own target labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.kubernetes import pods
from components.spec import EnvironmentSpec

IMAGE = "quay.io/prometheus/pushgateway:v1.9.0"  # release tag v1.9.0 of prometheus/pushgateway
PORT = 9091
NAME = "pushgateway"
COMPONENT = "metrics"
# The image's own user (nobody: `USER 65534` in the Dockerfile at v1.9.0); it owns nothing
# on the root filesystem.
UID = 65534


@dataclass(frozen=True)
class PushgatewayArgs:
    spec: EnvironmentSpec
    namespace: pulumi.Input[str]
    # The release installing the ServiceMonitor CRD, when this stack installs it.
    crds_ready: tuple[pulumi.Resource, ...] = ()


class Pushgateway(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: PushgatewayArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:Pushgateway", name, None, opts)
        spec, ns = args.spec, args.namespace
        child = pulumi.ResourceOptions(parent=self)
        selector = naming.selector_labels(NAME, COMPONENT)
        labels = naming.k8s_labels(spec, NAME, COMPONENT)

        def meta(**extra) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=ns, labels=labels, **extra)

        # Pushed values survive a restart: a training job's interruption counter must not
        # fall back to zero when the gateway moves.
        pvc = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=meta(),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": "1Gi"}),
            ),
            opts=child,
        )
        probe = k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/-/ready", port="http"),
            period_seconds=10,
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(annotations=pods.digest_skip(IMAGE)),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                # One writer for the persistence file: the old pod goes before the new one.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        security_context=pods.pod_security(UID),
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name=NAME,
                                image=IMAGE,
                                image_pull_policy="Always",
                                args=[
                                    "--persistence.file=/data/pushgateway.db",
                                    "--persistence.interval=1m",
                                ],
                                ports=[
                                    k8s.core.v1.ContainerPortArgs(name="http", container_port=PORT)
                                ],
                                readiness_probe=probe,
                                liveness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=k8s.core.v1.HTTPGetActionArgs(
                                        path="/-/healthy", port="http"
                                    ),
                                    period_seconds=20,
                                ),
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "50m", "memory": "64Mi"},
                                    limits={"cpu": "500m", "memory": "256Mi"},
                                ),
                                security_context=pods.container_security(UID),
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(name="data", mount_path="/data")
                                ],
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="data",
                                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                                    claim_name=pvc.metadata.name
                                ),
                            )
                        ],
                    ),
                ),
            ),
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=PORT, target_port="http")],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAME, namespace=ns, labels={**labels, **naming.monitoring_labels(spec)}
            ),
            spec={
                "selector": {"matchLabels": selector},
                "namespaceSelector": {"matchNames": [spec.namespace]},
                "endpoints": [{"port": "http", "interval": "30s", "honorLabels": True}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.crds_ready)),
        )
        # Pushes come from jobs in this namespace; scrapes from Prometheus.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=meta(),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                pod_selector=k8s.meta.v1.LabelSelectorArgs()
                            ),
                            pods.prometheus_peer(spec),
                        ],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=PORT, protocol="TCP")],
                    )
                ],
            ),
            opts=child,
        )
        self.url = pulumi.Output.concat("http://", service.metadata.name, ".", ns, f".svc:{PORT}")
        self.register_outputs({"url": self.url})

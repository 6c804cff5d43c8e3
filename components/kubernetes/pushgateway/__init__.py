"""Pushgateway: where batch work (the quality monitor, training jobs) leaves its metrics.

It runs in the workload namespace, beside the jobs that push to it, under the restricted
profile. Prometheus scrapes it with honorLabels, so a pushed `model` or `pool` label is
kept as pushed instead of being overwritten by the gateway's own target labels. The
objects come from the builders in `objects`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.kubernetes import pods
from components.kubernetes.pushgateway import objects
from components.kubernetes.pushgateway.objects import COMPONENT, IMAGE, NAME, PORT


@dataclass(frozen=True)
class PushgatewayArgs:
    namespace: pulumi.Input[str]
    labels: dict[str, str]
    # Labels an existing Prometheus Operator selects ServiceMonitors by.
    monitoring_labels: dict[str, str]
    prometheus_namespace: str
    # The release installing the ServiceMonitor CRD, when this stack installs it.
    crds_ready: tuple[pulumi.Resource, ...] = ()


class Pushgateway(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: PushgatewayArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:Pushgateway", name, None, opts)
        ns, labels = args.namespace, args.labels
        child = pulumi.ResourceOptions(parent=self)
        selector = naming.selector_labels(NAME, COMPONENT)

        def meta(**extra) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=ns, labels=labels, **extra)

        pvc = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data", metadata=meta(), spec=objects.data_claim_spec(), opts=child
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(annotations=pods.digest_skip(IMAGE)),
            spec=objects.deployment_spec(selector, labels, pvc.metadata.name),
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(),
            spec=objects.service_spec(selector),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAME, namespace=ns, labels={**labels, **args.monitoring_labels}
            ),
            spec=objects.service_monitor_spec(selector, ns),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.crds_ready)),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=meta(),
            spec=objects.network_policy_spec(selector, args.prometheus_namespace),
            opts=child,
        )
        self.url = pulumi.Output.concat("http://", service.metadata.name, ".", ns, f".svc:{PORT}")
        self.register_outputs({"url": self.url})

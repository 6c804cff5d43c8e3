"""Observability: metrics collection, rules, alert routing, dashboards and the quality
monitor, the same on every topology.

With `prometheus.mode: install` it installs kube-prometheus-stack (pinned chart) into
`cluster.prometheus_namespace`, set to pick up every ServiceMonitor and PrometheusRule in
the cluster and to run Alertmanager from the configuration Secret made here. With
`existing`, it adds `prometheus.match_labels` to everything it creates so the operator
already there selects it, and leaves that operator's Alertmanager alone: the two Secrets
are made for it to reference (see runbooks/operations.md).

Every ServiceMonitor and PrometheusRule of the platform waits for `crds_ready`, so the
operator's CRDs exist before the first one is applied. When the provider renders to a
directory, the charts render with it (components/kubernetes/helm.py) and no credential is
written: the Secrets that hold one are referenced by name, made beforehand with kubectl.

The values come from the builders in `charts` and `objects`.
"""

from __future__ import annotations

from dataclasses import replace

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import helm
from components.kubernetes.monitoring import charts, objects
from components.kubernetes.monitoring.args import Adapter, ObservabilityArgs, PrometheusStack
from components.kubernetes.pushgateway import Pushgateway
from components.kubernetes.quality_cronjob import QualityMonitor

__all__ = ["Adapter", "Observability", "ObservabilityArgs", "PrometheusStack"]


class Observability(pulumi.ComponentResource):
    pushgateway_url: pulumi.Output[str]
    # What every ServiceMonitor and PrometheusRule waits for: the release installing the
    # Prometheus Operator's CRDs when this stack installs it; nothing when it exists.
    crds_ready: tuple[pulumi.Resource, ...]

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:Observability", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        in_monitoring = self._monitoring_namespace(name, args.stack) if args.stack else child
        waits_for = self._alertmanager(name, in_monitoring)
        self.crds_ready = self._charts(name, waits_for, in_monitoring)
        for rule_name, groups in args.rules.items():
            k8s.apiextensions.CustomResource(
                f"{name}-{rule_name}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=self._meta(
                    rule_name, args.namespace, {**args.labels, **args.monitoring_labels}
                ),
                spec={"groups": groups},
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.crds_ready)),
            )
        for suffix, map_name, labels, data in objects.dashboard_config_maps(
            args.environment, args.dashboards, args.labels
        ):
            k8s.core.v1.ConfigMap(
                f"{name}-{suffix}",
                metadata=self._meta(map_name, args.monitoring_namespace, labels),
                data=data,
                opts=in_monitoring,
            )
        self.pushgateway_url = self._batch_metrics(name)
        self.register_outputs({"pushgateway_url": self.pushgateway_url})

    def _meta(
        self, obj_name: str, namespace: pulumi.Input[str], labels: dict[str, str] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=obj_name, namespace=namespace, labels=labels or self._args.labels
        )

    def _charts(
        self, name: str, waits_for: list[pulumi.Resource], in_monitoring: pulumi.ResourceOptions
    ) -> tuple[pulumi.Resource, ...]:
        """kube-prometheus-stack (install mode) and Prometheus Adapter; returns the release
        that installs the operator's CRDs, if this stack installs it."""
        args = self._args
        installed: tuple[pulumi.Resource, ...] = ()
        if args.stack is not None:
            installed = (
                helm.install(
                    f"{name}-kube-prometheus-stack",
                    release=charts.PROMETHEUS_RELEASE,
                    pinned=charts.stack_chart(args.stack),
                    namespace=args.monitoring_namespace,
                    values=charts.stack_values(args.stack, args.renders),
                    renders=args.renders,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=waits_for),
                ),
            )
        if args.adapter is not None:
            helm.install(
                f"{name}-prometheus-adapter",
                release="prometheus-adapter",
                pinned=charts.adapter_chart(args.adapter),
                namespace=args.monitoring_namespace,
                values=charts.adapter_values(args.adapter),
                renders=args.renders,
                opts=in_monitoring,
            )
        return installed

    def _monitoring_namespace(self, name: str, stack: PrometheusStack) -> pulumi.ResourceOptions:
        """The monitoring namespace, made first so the Secrets and releases land in it (in
        `existing` mode it is there already)."""
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self._args.monitoring_namespace,
                labels=objects.monitoring_namespace_labels(stack.namespace_labels),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.ResourceOptions(parent=self, depends_on=[namespace])

    def _alertmanager(self, name: str, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """Alertmanager's credential-free config, and the Secrets holding the receivers'
        credentials and Grafana's password. A rendering provider writes every input to a
        file in plain text (pulumi-kubernetes provider/pkg/provider/provider.go, `Create`
        in yamlRenderMode, v4.32.0), so in render mode those Secrets are made beforehand
        with kubectl (README, "Render mode") and resolve leaves their values out."""
        mon_ns = self._args.monitoring_namespace
        return [
            k8s.core.v1.Secret(
                f"{name}-{suffix}",
                metadata=self._meta(secret, mon_ns),
                type="Opaque",
                string_data=data,
                opts=opts,
            )
            for suffix, secret, data in objects.secrets(self._args)
        ]

    def _batch_metrics(self, name: str) -> pulumi.Output[str]:
        """The Pushgateway and the quality monitor that pushes to it."""
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        gateway = Pushgateway(
            f"{name}-pushgateway",
            replace(args.pushgateway, namespace=args.namespace, crds_ready=self.crds_ready),
            opts=child,
        )
        if args.quality is not None:
            QualityMonitor(
                f"{name}-quality",
                replace(args.quality, namespace=args.namespace, pushgateway_url=gateway.url),
                opts=child,
            )
        return gateway.url

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import naming
from components.engines import ENGINES
from components.kubernetes import helm
from components.kubernetes.pushgateway import Pushgateway, PushgatewayArgs
from components.kubernetes.quality_cronjob import QualityMonitor, QualityMonitorArgs
from components.observability import alertmanager, dashboards, rules
from components.spec import Environment, EnvironmentSpec

PROMETHEUS_RELEASE = "kube-prometheus-stack"
PROMETHEUS_REPO = "https://prometheus-community.github.io/helm-charts"
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_USER_KEY = "admin-user"
GRAFANA_PASSWORD_KEY = "admin-password"
COMPONENT = "observability"


@dataclass(frozen=True)
class ObservabilityArgs:
    env: Environment
    namespace: pulumi.Input[str]
    # Pulumi config key -> its secret value, for every key in spec.secret_keys().
    secrets: dict[str, pulumi.Input[str]]


def _adapter_rules() -> list[dict]:
    """Prometheus Adapter rules serving the queue metrics the model HPAs scale on, one per
    engine (each engine module holds its rule and the release it is checked against)."""
    return [engine.adapter_rule() for engine in ENGINES.values()]


class Observability(pulumi.ComponentResource):
    pushgateway_url: pulumi.Output[str]
    # What every ServiceMonitor and PrometheusRule waits for: the release installing the
    # Prometheus Operator's CRDs when this stack installs it; nothing when it exists.
    crds_ready: tuple[pulumi.Resource, ...]

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:Observability", name, None, opts)
        env = args.env
        spec = env.spec
        obs = spec.observability
        prom = obs.prometheus
        child = pulumi.ResourceOptions(parent=self)
        self._spec = spec
        self._labels = naming.k8s_labels(spec, "observability", COMPONENT)
        renders = spec.cluster.render_to_directory is not None
        in_monitoring = self._monitoring_namespace(name) if prom.mode == "install" else child
        waits_for = self._alertmanager(name, args.secrets, renders, in_monitoring)
        self.crds_ready = self._charts(name, renders, waits_for, in_monitoring)
        selected = {**self._labels, **naming.monitoring_labels(spec)}
        for rule_name, groups in rules.prometheus_rules(env).items():
            k8s.apiextensions.CustomResource(
                f"{name}-{rule_name}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=self._meta(rule_name, args.namespace, labels=selected),
                spec={"groups": groups},
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.crds_ready)),
            )
        self._dashboards(name, in_monitoring)
        gateway = Pushgateway(
            f"{name}-pushgateway",
            PushgatewayArgs(spec=spec, namespace=args.namespace, crds_ready=self.crds_ready),
            opts=child,
        )
        self.pushgateway_url = gateway.url
        if obs.quality is not None and spec.models:
            QualityMonitor(
                f"{name}-quality",
                QualityMonitorArgs(
                    spec=spec,
                    quality=obs.quality,
                    namespace=args.namespace,
                    pushgateway_url=gateway.url,
                ),
                opts=child,
            )
        self.register_outputs({"pushgateway_url": self.pushgateway_url})

    def _meta(
        self, obj_name: str, namespace: pulumi.Input[str], labels: dict[str, str] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=obj_name, namespace=namespace, labels=labels or self._labels
        )

    def _charts(
        self,
        name: str,
        renders: bool,
        waits_for: list[pulumi.Resource],
        in_monitoring: pulumi.ResourceOptions,
    ) -> tuple[pulumi.Resource, ...]:
        """kube-prometheus-stack (install mode) and Prometheus Adapter; returns the release
        that installs the operator's CRDs, if this stack installs it."""
        spec = self._spec
        prom = spec.observability.prometheus
        installed: tuple[pulumi.Resource, ...] = ()
        if prom.mode == "install":
            installed = (
                helm.install(
                    f"{name}-kube-prometheus-stack",
                    release=PROMETHEUS_RELEASE,
                    pinned=helm.PinnedChart(
                        "kube-prometheus-stack", prom.chart_version, PROMETHEUS_REPO
                    ),
                    namespace=spec.cluster.prometheus_namespace,
                    values=stack_values(spec, renders),
                    renders=renders,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=waits_for),
                ),
            )
        if prom.install_adapter:
            helm.install(
                f"{name}-prometheus-adapter",
                release="prometheus-adapter",
                pinned=helm.PinnedChart(
                    "prometheus-adapter", prom.adapter_chart_version, PROMETHEUS_REPO
                ),
                namespace=spec.cluster.prometheus_namespace,
                values={
                    "prometheus": {"url": _origin(prom.url), "port": _port(prom.url)},
                    "rules": {"default": False, "custom": _adapter_rules()},
                },
                renders=renders,
                opts=in_monitoring,
            )
        return installed

    def _monitoring_namespace(self, name: str) -> pulumi.ResourceOptions:
        """The monitoring namespace, made first so the Secrets and releases land in it (in
        `existing` mode it is there already)."""
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self._spec.cluster.prometheus_namespace,
                labels={
                    **naming.k8s_labels(self._spec, "monitoring", "namespace"),
                    # node-exporter reads the host's /proc and /sys with hostPID and
                    # hostNetwork; nothing of ours runs here.
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "baseline",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.ResourceOptions(parent=self, depends_on=[namespace])

    def _alertmanager(
        self,
        name: str,
        secrets: dict[str, pulumi.Input[str]],
        renders: bool,
        opts: pulumi.ResourceOptions,
    ) -> list[pulumi.Resource]:
        """Alertmanager's credential-free config, and the Secrets holding the receivers'
        credentials and Grafana's password. A rendering provider writes every input to a
        file in plain text (pulumi-kubernetes provider/pkg/provider/provider.go, `Create`
        in yamlRenderMode, v4.32.0), so in render mode those Secrets are made beforehand
        with kubectl (README, "Render mode") and only referenced by name here."""
        spec = self._spec
        mon_ns = spec.cluster.prometheus_namespace
        made: list[pulumi.Resource] = [
            k8s.core.v1.Secret(
                f"{name}-am-config",
                metadata=self._meta(alertmanager.CONFIG_SECRET, mon_ns),
                type="Opaque",
                string_data={
                    "alertmanager.yaml": yaml.safe_dump(alertmanager.config(spec), sort_keys=False)
                },
                opts=opts,
            )
        ]
        if renders:
            return made
        alerting = spec.observability.alerting
        made.append(
            k8s.core.v1.Secret(
                f"{name}-am-receivers",
                metadata=self._meta(alertmanager.RECEIVERS_SECRET, mon_ns),
                type="Opaque",
                string_data={
                    role: secrets[getattr(alerting, role).secret] for role in alertmanager.ROLES
                },
                opts=opts,
            )
        )
        prom = spec.observability.prometheus
        if prom.mode == "install":
            made.append(
                k8s.core.v1.Secret(
                    f"{name}-grafana-admin",
                    metadata=self._meta(GRAFANA_ADMIN_SECRET, mon_ns),
                    type="Opaque",
                    string_data={
                        GRAFANA_USER_KEY: "admin",
                        GRAFANA_PASSWORD_KEY: secrets[prom.grafana_admin_secret],
                    },
                    opts=opts,
                )
            )
        return made

    def _dashboards(self, name: str, opts: pulumi.ResourceOptions) -> None:
        spec = self._spec
        for file_name, board in dashboards.dashboards(spec.namespace).items():
            k8s.core.v1.ConfigMap(
                f"{name}-{file_name.removesuffix('.json')}",
                metadata=self._meta(
                    f"{spec.environment}-{file_name.removesuffix('.json')}",
                    spec.cluster.prometheus_namespace,
                    labels={
                        **self._labels,
                        dashboards.SIDECAR_LABEL[0]: dashboards.SIDECAR_LABEL[1],
                    },
                ),
                data={file_name: board},
                opts=opts,
            )


def stack_values(spec: EnvironmentSpec, renders: bool) -> dict[str, Any]:
    """kube-prometheus-stack values: pick up every ServiceMonitor and PrometheusRule in the
    cluster, run Alertmanager from our config Secret, and read Grafana's password from a
    Secret. Every key is in the pinned chart's values.yaml (tests/upstream/chart_values)."""
    prom = spec.observability.prometheus
    storage: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{prom.storage_gib}Gi"}},
    }
    if prom.storage_class:
        storage["storageClassName"] = prom.storage_class
    values: dict[str, Any] = {
        "commonLabels": naming.k8s_labels(spec, "kube-prometheus-stack", COMPONENT),
        "prometheus": {
            "prometheusSpec": {
                # Select every monitor and rule, not only this release's.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "retention": prom.retention,
                "storageSpec": {"volumeClaimTemplate": {"spec": storage}},
            }
        },
        "alertmanager": {
            "alertmanagerSpec": {
                "configSecret": alertmanager.CONFIG_SECRET,
                "secrets": [alertmanager.RECEIVERS_SECRET],
            }
        },
        "grafana": {
            "admin": {
                "existingSecret": GRAFANA_ADMIN_SECRET,
                "userKey": GRAFANA_USER_KEY,
                "passwordKey": GRAFANA_PASSWORD_KEY,
            },
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": dashboards.SIDECAR_LABEL[0],
                    "labelValue": dashboards.SIDECAR_LABEL[1],
                }
            },
        },
    }
    if renders:
        # The admission webhook's certificate is made and patched in by Helm hook Jobs,
        # which a rendered chart leaves out; the operator's TLS listener mounts that same
        # certificate (templates/prometheus-operator/deployment.yaml and
        # admission-webhooks/job-patch/*.yaml, kube-prometheus-stack-65.1.1). Without
        # them the operator would wait for a Secret nothing creates.
        values["prometheusOperator"] = {
            "admissionWebhooks": {"enabled": False},
            "tls": {"enabled": False},
        }
    return values


def _origin(url: str) -> str:
    """The chart takes the URL without its port, and the port on its own."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{parts.path.rstrip('/')}"


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)

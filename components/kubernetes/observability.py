"""Observability: metrics collection, rules, alert routing, dashboards and the quality
monitor, the same on every topology.

With `prometheus.mode: install` it installs kube-prometheus-stack (pinned chart) into
`cluster.prometheus_namespace`, set to pick up every ServiceMonitor and PrometheusRule in
the cluster and to run Alertmanager from the configuration Secret made here. With
`existing`, it adds `prometheus.match_labels` to everything it creates so the operator
already there selects it, and leaves that operator's Alertmanager alone: the two Secrets
are made for it to reference (see runbooks/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import naming
from components.kubernetes.pushgateway import Pushgateway, PushgatewayArgs
from components.kubernetes.quality_monitor import QualityMonitor, QualityMonitorArgs
from components.observability import alertmanager, dashboards, rules
from components.spec import Environment

PROMETHEUS_RELEASE = "kube-prometheus-stack"
PROMETHEUS_REPO = "https://prometheus-community.github.io/helm-charts"
GRAFANA_ADMIN_SECRET = "grafana-admin"
COMPONENT = "observability"


@dataclass(frozen=True)
class ObservabilityArgs:
    env: Environment
    namespace: pulumi.Input[str]
    # Pulumi config key -> its secret value, for every key in spec.secret_keys().
    secrets: dict[str, pulumi.Input[str]]


def _adapter_rules() -> list[dict]:
    """Prometheus Adapter rules serving the queue metrics the model HPAs scale on. Both
    series exist in the pinned releases (components/catalog/engines.yaml): vLLM v0.33.0,
    and Triton 25.05, whose TensorRT-LLM backend (v0.19.0) writes request_type="waiting"
    (custom_metrics_reporter.cc; absent before v0.18.0)."""

    def rule(series: str, extra: str, name: str) -> dict:
        return {
            "seriesQuery": f'{series}{{namespace!="",pod!=""{extra}}}',
            "resources": {
                "overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
            },
            "name": {"matches": f"^{series}$", "as": name},
            "metricsQuery": f"sum(<<.Series>>{{<<.LabelMatchers>>{extra}}}) by (<<.GroupBy>>)",
        }

    return [
        rule("vllm:num_requests_waiting", "", "vllm_num_requests_waiting"),
        rule("nv_trt_llm_request_metrics", ',request_type="waiting"', "trtllm_requests_waiting"),
    ]


class Observability(pulumi.ComponentResource):
    pushgateway_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:Observability", name, None, opts)
        env = args.env
        spec = env.spec
        obs = spec.observability
        prom = obs.prometheus
        child = pulumi.ResourceOptions(parent=self)
        mon_ns = spec.cluster.prometheus_namespace
        labels = naming.k8s_labels(spec, "observability", COMPONENT)
        selected = {**labels, **naming.monitoring_labels(spec)}

        def meta(
            obj_name: str, namespace: pulumi.Input[str], **extra
        ) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=obj_name, namespace=namespace, labels=extra.pop("labels", labels), **extra
            )

        # The monitoring namespace exists already in `existing` mode; otherwise it is made
        # first so the Secrets and releases below land in it.
        in_monitoring = child
        if prom.mode == "install":
            namespace = k8s.core.v1.Namespace(
                f"{name}-ns",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=mon_ns,
                    labels={
                        **naming.k8s_labels(spec, "monitoring", "namespace"),
                        # node-exporter reads the host's /proc and /sys with hostPID and
                        # hostNetwork; nothing of ours runs here.
                        "pod-security.kubernetes.io/enforce": "privileged",
                        "pod-security.kubernetes.io/warn": "baseline",
                    },
                ),
                opts=child,
            )
            in_monitoring = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        # Alertmanager: a credential-free config and the receivers' credentials as files.
        receivers = k8s.core.v1.Secret(
            f"{name}-am-receivers",
            metadata=meta(alertmanager.RECEIVERS_SECRET, mon_ns),
            type="Opaque",
            string_data={
                "pager": args.secrets[obs.alerting.pager.secret],
                "ticket": args.secrets[obs.alerting.ticket.secret],
            },
            opts=in_monitoring,
        )
        am_config = k8s.core.v1.Secret(
            f"{name}-am-config",
            metadata=meta(alertmanager.CONFIG_SECRET, mon_ns),
            type="Opaque",
            string_data={
                "alertmanager.yaml": yaml.safe_dump(alertmanager.config(spec), sort_keys=False)
            },
            opts=in_monitoring,
        )
        waits_for: list[pulumi.Resource] = [receivers, am_config]

        if prom.mode == "install":
            grafana_admin = k8s.core.v1.Secret(
                f"{name}-grafana-admin",
                metadata=meta(GRAFANA_ADMIN_SECRET, mon_ns),
                type="Opaque",
                string_data={
                    "admin-user": "admin",
                    "admin-password": args.secrets[prom.grafana_admin_secret],
                },
                opts=in_monitoring,
            )
            storage = {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{prom.storage_gib}Gi"}},
            }
            if prom.storage_class:
                storage["storageClassName"] = prom.storage_class
            k8s.helm.v3.Release(
                f"{name}-kube-prometheus-stack",
                name=PROMETHEUS_RELEASE,
                chart="kube-prometheus-stack",
                version=prom.chart_version,
                namespace=mon_ns,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=PROMETHEUS_REPO),
                values={
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
                            "userKey": "admin-user",
                            "passwordKey": "admin-password",
                        },
                        "sidecar": {
                            "dashboards": {
                                "enabled": True,
                                "label": dashboards.SIDECAR_LABEL[0],
                                "labelValue": dashboards.SIDECAR_LABEL[1],
                            }
                        },
                    },
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[grafana_admin, *waits_for]),
            )

        if prom.install_adapter:
            k8s.helm.v3.Release(
                f"{name}-prometheus-adapter",
                name="prometheus-adapter",
                chart="prometheus-adapter",
                version=prom.adapter_chart_version,
                namespace=mon_ns,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=PROMETHEUS_REPO),
                values={
                    "prometheus": {"url": _origin(prom.url), "port": _port(prom.url)},
                    "rules": {"default": False, "custom": _adapter_rules()},
                },
                opts=in_monitoring,
            )

        for rule_name, groups in rules.prometheus_rules(env).items():
            k8s.apiextensions.CustomResource(
                f"{name}-{rule_name}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=meta(rule_name, args.namespace, labels=selected),
                spec={"groups": groups},
                opts=child,
            )

        for file_name, board in dashboards.dashboards(spec.namespace).items():
            k8s.core.v1.ConfigMap(
                f"{name}-{file_name.removesuffix('.json')}",
                metadata=meta(
                    f"{spec.environment}-{file_name.removesuffix('.json')}",
                    mon_ns,
                    labels={**labels, dashboards.SIDECAR_LABEL[0]: dashboards.SIDECAR_LABEL[1]},
                ),
                data={file_name: board},
                opts=in_monitoring,
            )

        gateway = Pushgateway(
            f"{name}-pushgateway",
            PushgatewayArgs(spec=spec, namespace=args.namespace),
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


def _origin(url: str) -> str:
    """The chart takes the URL without its port, and the port on its own."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{parts.path.rstrip('/')}"


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)

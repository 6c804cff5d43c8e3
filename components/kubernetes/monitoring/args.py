"""What Observability is built from (components/kubernetes/resolve.py fills it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.kubernetes.pushgateway import PushgatewayArgs
from components.kubernetes.quality_cronjob import QualityMonitorArgs


@dataclass(frozen=True)
class PrometheusStack:
    """kube-prometheus-stack, installed by this stack (`prometheus.mode: install`)."""

    chart_version: str
    retention: str
    storage_gib: int
    storage_class: str | None
    # Labels on every object the chart makes.
    common_labels: dict[str, str]
    # Labels of the monitoring namespace made for it.
    namespace_labels: dict[str, str]
    # Grafana's admin password; None where the Secret is made beforehand (render mode).
    grafana_password: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class Adapter:
    """Prometheus Adapter, serving the queue metrics the model HPAs scale on."""

    chart_version: str
    prometheus_url: str


@dataclass(frozen=True)
class ObservabilityArgs:
    namespace: pulumi.Input[str]  # the workload namespace (rules, Pushgateway, quality job)
    environment: str
    monitoring_namespace: str  # where Prometheus runs (cluster.prometheus_namespace)
    labels: dict[str, str]
    # Labels an existing Prometheus Operator selects ServiceMonitors and rules by.
    monitoring_labels: dict[str, str]
    # The provider renders manifests to a directory: no credential is written.
    renders: bool
    alertmanager_config: str  # alertmanager.yaml, credential-free
    # Receiver role -> its credential; None where the Secret is made beforehand (render mode).
    receivers: dict[str, pulumi.Input[str]] | None
    # PrometheusRule name -> its rule groups.
    rules: dict[str, list[dict[str, Any]]]
    # Dashboard file name -> its JSON.
    dashboards: dict[str, str]
    pushgateway: PushgatewayArgs
    stack: PrometheusStack | None = None
    adapter: Adapter | None = None
    quality: QualityMonitorArgs | None = None

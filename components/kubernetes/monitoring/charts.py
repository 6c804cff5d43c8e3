"""The charts Observability installs and their values. Pure builders: they return the
pinned chart and plain dicts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from components.catalog import versions
from components.engines import ENGINES
from components.kubernetes import helm
from components.kubernetes.monitoring.args import Adapter, PrometheusStack
from components.observability import alertmanager, dashboards

PROMETHEUS_RELEASE = "kube-prometheus-stack"
PROMETHEUS_REPO = versions.chart_repo("prometheus-community")
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_USER_KEY = "admin-user"
GRAFANA_PASSWORD_KEY = "admin-password"


def stack_chart(prom: PrometheusStack) -> helm.PinnedChart:
    return helm.PinnedChart("kube-prometheus-stack", prom.chart_version, PROMETHEUS_REPO)


def adapter_chart(adapter: Adapter) -> helm.PinnedChart:
    return helm.PinnedChart("prometheus-adapter", adapter.chart_version, PROMETHEUS_REPO)


def adapter_values(adapter: Adapter) -> dict[str, Any]:
    url = adapter.prometheus_url
    return {
        "prometheus": {"url": _origin(url), "port": _port(url)},
        "rules": {"default": False, "custom": _adapter_rules()},
    }


def _adapter_rules() -> list[dict]:
    """Prometheus Adapter rules serving the queue metrics the model HPAs scale on, one per
    engine (each engine module holds its rule and the release it is checked against)."""
    return [engine.adapter_rule() for engine in ENGINES.values()]


def stack_values(prom: PrometheusStack, renders: bool) -> dict[str, Any]:
    """kube-prometheus-stack values: pick up every ServiceMonitor and PrometheusRule in the
    cluster, run Alertmanager from our config Secret, and read Grafana's password from a
    Secret. Every key is in the pinned chart's values.yaml (tests/upstream/chart_values)."""
    storage: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{prom.storage_gib}Gi"}},
    }
    if prom.storage_class:
        storage["storageClassName"] = prom.storage_class
    values: dict[str, Any] = {
        "commonLabels": prom.common_labels,
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

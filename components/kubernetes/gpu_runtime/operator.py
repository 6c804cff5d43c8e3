"""The NVIDIA GPU Operator, when the spec asks for it instead of the explicit DaemonSets.
Pure builders: they return the chart and its values."""

from __future__ import annotations

from typing import Any

from components.catalog import versions
from components.kubernetes import helm
from components.naming import K8sLabeler

GPU_OPERATOR = helm.PinnedChart(*versions.chart("gpu-operator"))
GPU_OPERATOR_CHART_VERSION = GPU_OPERATOR.version


def operator_values(labeler: K8sLabeler, monitoring_labels: dict[str, str]) -> dict[str, Any]:
    """The operator creates the DCGM exporter's ServiceMonitor, labelled for the Prometheus
    that selects it."""
    return {
        "dcgmExporter": {
            "serviceMonitor": {
                "enabled": True,
                "honorLabels": True,
                "additionalLabels": monitoring_labels,
            }
        },
        "daemonsets": {"labels": labeler("gpu-operator", "gpu-runtime")},
    }

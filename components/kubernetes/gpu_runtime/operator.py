"""The NVIDIA GPU Operator, when the spec asks for it instead of the explicit DaemonSets.
Pure builders: they return the chart and its values."""

from __future__ import annotations

from typing import Any

from components.kubernetes import helm
from components.naming import K8sLabeler

GPU_OPERATOR_CHART_VERSION = "v24.9.2"
GPU_OPERATOR = helm.PinnedChart(
    "gpu-operator", GPU_OPERATOR_CHART_VERSION, "https://helm.ngc.nvidia.com/nvidia"
)


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

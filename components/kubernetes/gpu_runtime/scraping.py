"""Who may reach the GPU DaemonSets and how Prometheus scrapes the DCGM exporter. Pure
builders: they return Pulumi Args or dicts."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.kubernetes import pods
from components.kubernetes.gpu_runtime.daemonsets import DCGM_PORT

EXPORTER = "dcgm-exporter"

net = k8s.networking.v1


def network_policy_spec(
    selector: dict[str, str], prometheus_namespace: str | None
) -> net.NetworkPolicySpecArgs:
    """Only Prometheus scrapes the exporter (pass its namespace); the device plugin takes no
    traffic (pass None)."""
    ingress = []
    if prometheus_namespace is not None:
        ingress.append(
            net.NetworkPolicyIngressRuleArgs(
                from_=[pods.prometheus_peer(prometheus_namespace)],
                ports=[net.NetworkPolicyPortArgs(port=DCGM_PORT, protocol="TCP")],
            )
        )
    return net.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress"],
        ingress=ingress,
    )


def exporter_service_spec(selector: dict[str, str]) -> k8s.core.v1.ServiceSpecArgs:
    return k8s.core.v1.ServiceSpecArgs(
        type="ClusterIP",
        selector=selector,
        ports=[k8s.core.v1.ServicePortArgs(name="metrics", port=DCGM_PORT, target_port="metrics")],
    )


def exporter_service_monitor_spec(selector: dict[str, str]) -> dict:
    return {
        "selector": {"matchLabels": selector},
        "endpoints": [
            {
                "port": "metrics",
                "path": "/metrics",
                "interval": "15s",
                # The exporter labels each GPU with the pod and namespace using it;
                # honouring them keeps those from being renamed exported_pod/_namespace.
                "honorLabels": True,
            }
        ],
    }

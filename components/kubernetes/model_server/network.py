"""How a server is reached: its Service, who may reach it (NetworkPolicy) and how
Prometheus scrapes it (ServiceMonitor). Pure builders: they return Pulumi Args or dicts."""

from __future__ import annotations

import re

import pulumi
import pulumi_kubernetes as k8s

from components import conventions
from components.engines import HTTP_PORT, Engine
from components.kubernetes import pods


def pod_label_meta(label: str) -> str:
    """The meta label Prometheus' Kubernetes discovery gives a pod label: every character
    that is not a letter or digit becomes `_` (kubernetes_sd_config, "endpoints" role)."""
    return "__meta_kubernetes_pod_label_" + re.sub(r"[^A-Za-z0-9]", "_", label)


MODEL_POD_LABEL = pod_label_meta(conventions.MODEL_LABEL)
# Target labels copied from pod labels on every series of a model server: the revision it
# serves, and the ReplicaSet of a Rollout it belongs to (empty, and so absent, for a
# Deployment's pods), which the canary analysis compares by.
POD_LABEL_TARGETS = (
    (conventions.REVISION_LABEL, "revision"),
    (conventions.ROLLOUT_HASH_LABEL, "pod_template_hash"),
)

# The pods of a Rollout's analysis Jobs (model_server/analysis.py): the eval gate and the
# refusal comparison call the model's API like the gateway does.
ANALYSIS_COMPONENT = "model-analysis"

net = k8s.networking.v1


def metrics_port_name(engine: Engine) -> str:
    return "http" if engine.metrics_port == HTTP_PORT else "metrics"


def service_spec(engine: Engine, selector: dict[str, str]) -> k8s.core.v1.ServiceSpecArgs:
    ports = [k8s.core.v1.ServicePortArgs(name="http", port=HTTP_PORT, target_port="http")]
    if metrics_port_name(engine) == "metrics":
        ports.append(
            k8s.core.v1.ServicePortArgs(
                name="metrics", port=engine.metrics_port, target_port="metrics"
            )
        )
    return k8s.core.v1.ServiceSpecArgs(type="ClusterIP", selector=selector, ports=ports)


def service_monitor_spec(
    selector: dict[str, str], namespace: pulumi.Input[str], engine: Engine
) -> dict:
    """Relabelling fields: RelabelConfig of the Prometheus Operator's ServiceMonitor CRD
    (tests/upstream/crds/kube-prometheus-stack-65.1.1/crd-servicemonitors.yaml). A
    `replace` whose source label is missing writes an empty value, which drops the target
    label (Prometheus relabel "replace"), so a Deployment's series have no
    pod_template_hash."""
    # Every rule and dashboard selects a model by this one label, whatever the engine
    # calls it.
    relabelings: list[dict] = [
        {"sourceLabels": [MODEL_POD_LABEL], "targetLabel": "model", "action": "replace"}
    ]
    relabelings += [
        {"sourceLabels": [pod_label_meta(label)], "targetLabel": target, "action": "replace"}
        for label, target in POD_LABEL_TARGETS
    ]
    return {
        "selector": {"matchLabels": selector},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [
            {
                "port": metrics_port_name(engine),
                "path": "/metrics",
                "interval": "15s",
                "relabelings": relabelings,
            }
        ],
    }


def component_peer(component: str) -> net.NetworkPolicyPeerArgs:
    return net.NetworkPolicyPeerArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels={conventions.APP_COMPONENT: component}
        ),
    )


def network_policy_spec(
    prometheus_namespace: str, selector: dict[str, str], engine: Engine, analysis: bool = False
) -> net.NetworkPolicySpecArgs:
    """Only the gateway (and, for a Rollout, its analysis Jobs) reaches the API; only
    Prometheus reaches the metrics."""
    prometheus = pods.prometheus_peer(prometheus_namespace)
    clients = [component_peer("gateway")]
    if analysis:
        clients.append(component_peer(ANALYSIS_COMPONENT))
    separate = metrics_port_name(engine) == "metrics"
    ingress = [
        net.NetworkPolicyIngressRuleArgs(
            from_=clients if separate else [*clients, prometheus],
            ports=[net.NetworkPolicyPortArgs(port=HTTP_PORT, protocol="TCP")],
        )
    ]
    if separate:
        ingress.append(
            net.NetworkPolicyIngressRuleArgs(
                from_=[prometheus],
                ports=[net.NetworkPolicyPortArgs(port=engine.metrics_port, protocol="TCP")],
            )
        )
    return net.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress"],
        ingress=ingress,
    )

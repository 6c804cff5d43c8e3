"""The Argo Rollouts controller, installed once from its pinned chart where some model is
served by a Rollout: the Rollout and AnalysisTemplate CRDs, and the controller that runs
their canaries and analyses.

Every value key is one of the chart's (argoproj/argo-helm charts/argo-rollouts/values.yaml at
argo-rollouts-2.41.0, vendored as tests/upstream/chart_values/argo-rollouts-2.41.0.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components import conventions
from components.catalog import versions
from components.kubernetes import helm, pods

# The chart README's namespace (`helm install argo-rollouts argo/argo-rollouts -n
# argo-rollouts`): the controller's cluster-wide RBAC stays out of the workload namespace.
NAMESPACE = "argo-rollouts"
RELEASE = "argo-rollouts"
CHART = "argo-rollouts"
CONTROLLER_IMAGE = "argo-rollouts-controller"


@dataclass(frozen=True)
class RolloutsArgs:
    labels: dict[str, str]
    # Labels an existing Prometheus Operator selects ServiceMonitors by.
    monitoring_labels: dict[str, str]
    renders: bool
    # The release installing the ServiceMonitor CRD the controller's monitor needs.
    crds_ready: tuple[pulumi.Resource, ...] = ()


def chart() -> helm.PinnedChart:
    return helm.PinnedChart(*versions.chart(CHART))


def controller_image() -> dict[str, str]:
    """The catalog's controller image as the chart's controller.image keys (registry,
    repository, tag: values.yaml lines 106-112)."""
    ref = versions.image(CONTROLLER_IMAGE)
    registry, _, rest = ref.partition("/")
    repository, _, tag = rest.partition(":")
    return {"registry": registry, "repository": repository, "tag": tag}


def values(monitoring_labels: dict[str, str]) -> dict[str, Any]:
    """The controller with its metrics scraped (the platform alerts on them), no dashboard
    (it has no authentication: values.yaml `dashboard.enabled: false`, kept), and the
    chart's restricted-profile security contexts left as they are (podSecurityContext and
    containerSecurityContext, values.yaml lines 289-300). No value needs a Helm hook, and the
    chart has none, so a rendered chart is complete."""
    return {
        "controller": {
            "image": controller_image(),
            # values.yaml gives no resources; the requests are the commented example's
            # (controller.resources, lines 152-159) with memory room for the informers.
            "resources": {
                "requests": {"cpu": "50m", "memory": "128Mi"},
                "limits": {"memory": "256Mi"},
            },
            # controller.metrics.enabled deploys the metrics Service; serviceMonitor.enabled
            # the ServiceMonitor, with additionalLabels for an existing operator's selector
            # (values.yaml lines 171-187; templates/controller/servicemonitor.yaml).
            "metrics": {
                "enabled": True,
                "serviceMonitor": {"enabled": True, "additionalLabels": dict(monitoring_labels)},
            },
        },
        "dashboard": {"enabled": False},
    }


def namespace_labels(labels: dict[str, str]) -> dict[str, str]:
    """The controller's pods meet the restricted profile, so its namespace enforces it."""
    return pods.restricted_namespace(
        {**labels, conventions.APP_NAME: NAMESPACE, conventions.APP_COMPONENT: "namespace"}
    )


def install(name: str, args: RolloutsArgs, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    """The namespace and the release; what a Rollout or AnalysisTemplate `depends_on`. Its
    ServiceMonitor is a custom resource of the Prometheus Operator (crds_ready)."""
    return helm.install_in_namespace(
        name,
        release=RELEASE,
        pinned=chart(),
        namespace=NAMESPACE,
        namespace_labels=namespace_labels(args.labels),
        values=values(args.monitoring_labels),
        renders=args.renders,
        opts=opts,
        depends_on=args.crds_ready,
    )

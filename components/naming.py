"""Names and labels from one place, so every resource carries the required tags.

Pure: no Pulumi imports. Kubernetes objects get the recommended app.kubernetes.io/*
labels plus the spec's team, cost-center, environment and owner; cloud resources (later
topologies) get the same keys as tags.
"""

from __future__ import annotations

from components.spec import EnvironmentSpec

PART_OF = "llm-platform"
MANAGED_BY = "llm-platform"
LABEL_PREFIX = "llm-platform.dev"
# Annotations the policy pack reads: why a workload must run as root (every other
# restricted-profile check still applies), and why a Service may be a LoadBalancer.
RUNS_AS_ROOT_ANNOTATION = f"{LABEL_PREFIX}/runs-as-root"
ALLOW_LOAD_BALANCER_ANNOTATION = f"{LABEL_PREFIX}/allow-load-balancer"
# Why a workload's containers must be privileged (GKE's DCGM exporter): privileged,
# allowPrivilegeEscalation and capabilities are then not checked; the rest still is.
PRIVILEGED_ANNOTATION = f"{LABEL_PREFIX}/privileged"


def tags(spec: EnvironmentSpec) -> dict[str, str]:
    return {
        "team": spec.tags.team,
        "cost-center": spec.tags.cost_center,
        "environment": spec.tags.environment,
        "owner": spec.tags.owner,
        "managed-by": MANAGED_BY,
    }


def selector_labels(name: str, component: str) -> dict[str, str]:
    """The stable subset used in selectors: never add keys here after a release, since a
    Deployment's selector is immutable."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component}


def k8s_labels(spec: EnvironmentSpec, name: str, component: str, **extra: str) -> dict[str, str]:
    labels = {
        **selector_labels(name, component),
        "app.kubernetes.io/instance": f"{spec.environment}-{name}",
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    labels.update({f"{LABEL_PREFIX}/{k}": v for k, v in tags(spec).items() if k != "managed-by"})
    labels.update({f"{LABEL_PREFIX}/{k}": v for k, v in extra.items()})
    return labels


def monitoring_labels(spec: EnvironmentSpec) -> dict[str, str]:
    """Labels an existing Prometheus Operator selects ServiceMonitors and rules by."""
    return dict(spec.observability.prometheus.match_labels)

"""Builds an environment: a foundation chosen by spec.topology, then the Kubernetes layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

from components.kubernetes.facts import ClusterFacts
from components.kubernetes.layer import KubernetesLayer, KubernetesLayerArgs
from components.onprem.cluster import OnPremCluster, OnPremClusterArgs
from components.spec import Environment, EnvironmentSpec


def _onprem(spec: EnvironmentSpec) -> ClusterFacts:
    return OnPremCluster(f"{spec.environment}-onprem", OnPremClusterArgs(spec=spec)).facts


# One entry per topology. spec.AVAILABLE_TOPOLOGIES lists the same keys, so a topology that
# is not built yet is refused at validation with its config path instead of failing here.
FOUNDATIONS: dict[str, Callable[[EnvironmentSpec], ClusterFacts]] = {"onprem": _onprem}


def build(env: Environment, secrets: dict[str, pulumi.Input[str]]) -> dict[str, Any]:
    """Create every resource of the environment and return the stack outputs.

    `secrets` maps each Pulumi config key in `spec.secret_keys()` to its secret value."""
    spec = env.spec
    facts = FOUNDATIONS[spec.topology](spec)
    layer = KubernetesLayer(
        spec.environment, KubernetesLayerArgs(env=env, facts=facts, secrets=secrets)
    )
    sizing = {
        name: {
            "gpu": plan.gpu,
            "tensor_parallel": plan.tensor_parallel,
            "replicas": [plan.replicas_min, plan.replicas_max],
            "kv_cache_tokens": plan.budget.kv_cache_tokens,
            "engine_args": plan.engine_args,
        }
        for name, plan in env.plans.items()
    }
    return {"namespace": layer.namespace, "endpoints": layer.endpoints, "sizing": sizing}

"""Builds an environment: a foundation chosen by spec.topology, then the Kubernetes layer."""

from __future__ import annotations

from typing import Any

from components.kubernetes.layer import KubernetesLayer, KubernetesLayerArgs
from components.onprem.cluster import OnPremCluster, OnPremClusterArgs
from components.spec import Environment


def build(env: Environment) -> dict[str, Any]:
    """Create every resource of the environment and return the stack outputs."""
    spec = env.spec
    foundation = OnPremCluster(f"{spec.environment}-onprem", OnPremClusterArgs(spec=spec))
    layer = KubernetesLayer(spec.environment, KubernetesLayerArgs(env=env, facts=foundation.facts))
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
    return {
        "namespace": layer.namespace,
        "endpoints": layer.endpoints,
        "sizing": sizing,
    }

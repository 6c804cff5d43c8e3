"""The one place the Kubernetes layer reads the validated spec: it turns the Environment and
the foundation's ClusterFacts into the narrow Args of each Kubernetes component."""

from __future__ import annotations

import pulumi

from components.kubernetes.facts import ClusterFacts
from components.kubernetes.gpu_runtime import GpuRuntimeArgs
from components.kubernetes.layer import KubernetesLayerArgs
from components.spec import Environment


def layer_args(
    env: Environment, facts: ClusterFacts, secrets: dict[str, pulumi.Input[str]]
) -> KubernetesLayerArgs:
    return KubernetesLayerArgs(env=env, facts=facts, secrets=secrets)


def cloud_gpu_runtime_args(env: Environment, facts: ClusterFacts) -> GpuRuntimeArgs:
    """The GPU runtime of a hybrid's cloud cluster: its training pools only need their GPUs
    schedulable, so no metrics, in a namespace of its own."""
    return GpuRuntimeArgs(
        spec=env.spec,
        pools=facts.pools,
        runtime=facts.gpu_runtime,
        metrics=False,
        namespace=f"{env.spec.namespace}-cloud-gpu",
    )

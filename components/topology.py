"""Builds an environment: a foundation chosen by spec.topology, then the Kubernetes layer."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import pulumi

from components import clouds
from components.kubernetes import resolve as k8s_resolve
from components.kubernetes.facts import ArtifactStore, ClusterFacts, WorkloadIdentity
from components.kubernetes.gpu_runtime import GpuRuntime
from components.kubernetes.layer import KubernetesLayer
from components.kubernetes.training import RetrainingTriggers, TrainingJobs
from components.onprem import resolve as onprem_resolve
from components.onprem.cluster import OnPremCluster
from components.spec import Environment, given

Secrets = dict[str, pulumi.Input[str]]


class CloudFoundation(Protocol):
    facts: ClusterFacts
    store: ArtifactStore
    onprem_identity: WorkloadIdentity | None
    onprem_database_backup: WorkloadIdentity | None
    onprem_model_publisher: WorkloadIdentity | None
    outputs: dict[str, pulumi.Output[Any]]


Built = tuple[ClusterFacts, dict[str, Any]]


def _cloud(env: Environment, secrets: Secrets) -> CloudFoundation:
    cloud = given(env.spec.cloud, "spec.cloud")
    # Imported on use: each cloud's provider SDK takes a second or more to import, an
    # environment needs at most one of them, and the others need not be installed.
    component = clouds.foundation(cloud)
    resolve = importlib.import_module(f"components.{cloud}.resolve")
    name = f"{env.spec.environment}-{cloud}"
    return component(name, resolve.foundation_args(env, secrets))


def _onprem(env: Environment, _secrets: Secrets) -> Built:
    spec = env.spec
    return OnPremCluster(f"{spec.environment}-onprem", onprem_resolve.cluster_args(env)).facts, {}


def _cloud_only(env: Environment, secrets: Secrets) -> Built:
    cloud = _cloud(env, secrets)
    return cloud.facts, cloud.outputs


def _hybrid(env: Environment, secrets: Secrets) -> Built:
    """Serving on the on-prem cluster, reading weights from the cloud's bucket (and publishing
    synced revisions and eval reports to it) through federated identities; the cloud side
    (training pools, bucket, budget, VPN) stands alone, with the GPU runtime its training
    pools need to offer their GPUs."""
    cloud = _cloud(env, secrets)
    spec = env.spec
    GpuRuntime(
        f"{spec.environment}-{spec.cloud}-gpu",
        k8s_resolve.cloud_gpu_runtime_args(env, cloud.facts),
        opts=pulumi.ResourceOptions(providers={"kubernetes": cloud.facts.provider}),
    )
    # The training pools are the cloud cluster's: the jobs run there, in a namespace of
    # their own (no layer, so no Pushgateway beside them).
    training = k8s_resolve.training_args(env, cloud.facts, secrets, own_namespace=True)
    if training is not None:
        TrainingJobs(
            f"{spec.environment}-{spec.cloud}-training",
            training,
            opts=pulumi.ResourceOptions(providers={"kubernetes": cloud.facts.provider}),
        )
    onprem, _ = _onprem(env, secrets)
    facts = replace(
        onprem,
        artifacts=cloud.store,
        workload_identity=cloud.onprem_identity,
        database_backup=cloud.onprem_database_backup,
        model_publisher=cloud.onprem_model_publisher,
    )
    return facts, cloud.outputs


# One entry per value of spec.Topology; a test keeps the two in step.
FOUNDATIONS: dict[str, Callable[[Environment, Secrets], Built]] = {
    "onprem": _onprem,
    **dict.fromkeys(clouds.NAMES, _cloud_only),
    "hybrid": _hybrid,
}


def build(env: Environment, secrets: dict[str, pulumi.Input[str]]) -> dict[str, Any]:
    """Create every resource of the environment and return the stack outputs.

    `secrets` maps each Pulumi config key in `spec.secret_keys()` to its secret value."""
    spec = env.spec
    facts, foundation_outputs = FOUNDATIONS[spec.topology](env, secrets)
    layer = KubernetesLayer(spec.environment, k8s_resolve.layer_args(env, facts, secrets))
    # Elsewhere the training pools are the layer's cluster's: the jobs run in its namespace,
    # beside its Pushgateway.
    training = None if spec.topology == "hybrid" else k8s_resolve.training_args(env, facts, secrets)
    if training is not None:
        TrainingJobs(
            f"{spec.environment}-training",
            replace(training, namespace=layer.namespace),
            opts=pulumi.ResourceOptions(providers={"kubernetes": facts.provider}),
        )
    triggers = k8s_resolve.retraining_triggers_args(env)
    if triggers is not None:
        # Beside Prometheus and the Pushgateway, in the layer's namespace (on-prem in a hybrid).
        RetrainingTriggers(
            f"{spec.environment}-retrain",
            replace(triggers, namespace=layer.namespace),
            opts=pulumi.ResourceOptions(providers={"kubernetes": facts.provider}),
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
    return {
        "namespace": layer.namespace,
        "endpoints": layer.endpoints,
        "sizing": sizing,
        **foundation_outputs,
    }

"""KubernetesLayer: the workload namespace, the GPU runtime, observability and one
ModelServer per model.

Identical on every topology; all it knows of the cluster is the ClusterFacts it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.kubernetes.facts import ClusterFacts
from components.kubernetes.gpu_runtime import GpuRuntime, GpuRuntimeArgs
from components.kubernetes.model_server import ModelServer, ModelServerArgs
from components.kubernetes.monitoring import Observability, ObservabilityArgs
from components.kubernetes.weights_access import WeightsAccess, WeightsAccessArgs
from components.spec import Environment, Model


@dataclass(frozen=True)
class KubernetesLayerArgs:
    env: Environment
    facts: ClusterFacts
    # Pulumi config key -> secret value, for every key in spec.secret_keys().
    secrets: dict[str, pulumi.Input[str]]


class KubernetesLayer(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    endpoints: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: KubernetesLayerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:Layer", name, None, opts)
        spec = args.env.spec
        facts = args.facts
        # Children inherit the provider, so every object goes to the foundation's cluster.
        child = pulumi.ResourceOptions(parent=self, providers={"kubernetes": facts.provider})
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=spec.namespace,
                labels={
                    **naming.k8s_labels(spec, "serving", "namespace"),
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "v1.30",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
            opts=child,
        )
        self.namespace = ns.metadata.name
        observability = Observability(
            f"{name}-observability",
            ObservabilityArgs(env=args.env, namespace=ns.metadata.name, secrets=args.secrets),
            opts=child,
        )
        # Every ServiceMonitor and PrometheusRule waits for the operator's CRDs.
        crds_ready = observability.crds_ready
        GpuRuntime(
            f"{name}-gpu",
            GpuRuntimeArgs(
                spec=spec, pools=facts.pools, runtime=facts.gpu_runtime, crds_ready=crds_ready
            ),
            opts=child,
        )
        access = None
        if facts.artifacts is not None and facts.workload_identity is not None:
            access = WeightsAccess(
                f"{name}-weights",
                WeightsAccessArgs(
                    spec=spec, namespace=ns.metadata.name, identity=facts.workload_identity
                ),
                opts=child,
            )
        self.endpoints = {
            model.name: self._model_server(name, args, model, ns.metadata.name, access, crds_ready)
            for model in spec.models
        }
        self.register_outputs({"namespace": self.namespace, "endpoints": self.endpoints})

    def _model_server(
        self,
        name: str,
        args: KubernetesLayerArgs,
        model: Model,
        namespace: pulumi.Output[str],
        access: WeightsAccess | None,
        crds_ready: tuple[pulumi.Resource, ...],
    ) -> pulumi.Output[str]:
        facts = args.facts
        server = ModelServer(
            f"{name}-{model.name}",
            ModelServerArgs(
                spec=args.env.spec,
                model=model,
                plan=args.env.plans[model.name],
                namespace=namespace,
                pool=facts.pools[model.pool],
                storage_class=facts.storage_class,
                gpu_hour_usd=facts.gpu_hour_usd,
                artifacts=facts.artifacts if access else None,
                identity=facts.workload_identity if access else None,
                service_account=access.service_account if access else None,
                identity_files=access.files_config_map if access else None,
                crds_ready=crds_ready,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers={"kubernetes": facts.provider}),
        )
        return server.endpoint

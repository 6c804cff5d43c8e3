"""KubernetesLayer: the workload namespace, the GPU runtime, observability, one
ModelServer per model and, when the spec has one, the gateway in front of them.

Identical on every topology. Its Args are resolved from the spec and the foundation's
ClusterFacts beforehand (components/kubernetes/resolve.py); the layer only wires its
children together: each gets the namespace, the weights reader and the CRD release as the
objects made here, so it is created after them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi
import pulumi_kubernetes as k8s

from components import conventions
from components.kubernetes.gateway import Gateway, GatewayArgs
from components.kubernetes.gpu_runtime import GpuRuntime, GpuRuntimeArgs
from components.kubernetes.model_publisher import ModelPublisher, ModelPublisherArgs
from components.kubernetes.model_server import ModelServer, ModelServerArgs
from components.kubernetes.monitoring import Observability, ObservabilityArgs
from components.kubernetes.weights_access import WeightsAccess, WeightsAccessArgs

# The pod security standard the workload namespace enforces, and the version of it.
POD_SECURITY = "restricted"
POD_SECURITY_VERSION = "v1.30"


@dataclass(frozen=True)
class KubernetesLayerArgs:
    provider: k8s.Provider
    namespace: str
    namespace_labels: dict[str, str]
    observability: ObservabilityArgs
    gpu_runtime: GpuRuntimeArgs
    models: tuple[ModelServerArgs, ...]
    # Set where model servers read their weights from the environment's bucket.
    weights_access: WeightsAccessArgs | None = None
    # The LiteLLM gateway; None: clients reach the model servers' Services directly.
    gateway: GatewayArgs | None = None
    # Set where the environment has an artifact store: what the sync Jobs and the verify
    # containers share (publisher account, signing keys, an on-prem store's claim).
    publisher: ModelPublisherArgs | None = None


def namespace_labels(labels: dict[str, str]) -> dict[str, str]:
    """The workload namespace admits only pods that meet the restricted profile."""
    return {
        **labels,
        conventions.PSA_ENFORCE: POD_SECURITY,
        conventions.PSA_ENFORCE_VERSION: POD_SECURITY_VERSION,
        conventions.PSA_WARN: POD_SECURITY,
        conventions.PSA_AUDIT: POD_SECURITY,
    }


def wired_server(
    server: ModelServerArgs,
    namespace: pulumi.Input[str],
    access: WeightsAccess | None,
    crds_ready: tuple[pulumi.Resource, ...],
) -> ModelServerArgs:
    """`server` with the namespace, the weights reader's objects and the CRD release."""
    server = replace(server, namespace=namespace, crds_ready=crds_ready)
    if access is None:
        return server
    fetch = server.weights.fetch
    if fetch is not None:
        fetch = replace(fetch, files_config_map=access.files_config_map)
    return replace(
        server,
        service_account=access.service_account,
        weights=replace(server.weights, fetch=fetch),
    )


def published_server(server: ModelServerArgs, publisher: ModelPublisher | None) -> ModelServerArgs:
    """`server` whose sync Job waits for the publisher's objects and mounts its files."""
    version = server.version
    if publisher is None or version is None or version.sync is None:
        return server
    sync = replace(
        version.sync,
        ready=tuple(publisher.ready),
        files_config_map=publisher.files_config_map,
    )
    return replace(server, version=replace(version, sync=sync))


class KubernetesLayer(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    endpoints: dict[str, pulumi.Output[str]]
    gateway_url: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: KubernetesLayerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:kubernetes:Layer", name, None, opts)
        # Children inherit the provider, so every object goes to the foundation's cluster.
        child = pulumi.ResourceOptions(parent=self, providers={"kubernetes": args.provider})
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.namespace, labels=namespace_labels(args.namespace_labels)
            ),
            opts=child,
        )
        self.namespace = ns.metadata.name
        observability = Observability(
            f"{name}-observability",
            replace(args.observability, namespace=ns.metadata.name),
            opts=child,
        )
        # Every ServiceMonitor and PrometheusRule waits for the operator's CRDs.
        crds_ready = observability.crds_ready
        GpuRuntime(f"{name}-gpu", replace(args.gpu_runtime, crds_ready=crds_ready), opts=child)
        access = None
        if args.weights_access is not None:
            access = WeightsAccess(
                f"{name}-weights",
                replace(args.weights_access, namespace=ns.metadata.name),
                opts=child,
            )
        publisher = None
        if args.publisher is not None:
            publisher = ModelPublisher(
                f"{name}-publisher",
                replace(args.publisher, namespace=ns.metadata.name),
                opts=child,
            )
        self.endpoints = {
            server.name: ModelServer(
                f"{name}-{server.name}",
                published_server(
                    wired_server(server, ns.metadata.name, access, crds_ready), publisher
                ),
                opts=child,
            ).endpoint
            for server in args.models
        }
        self.gateway_url = None
        if args.gateway is not None:
            # Its ServiceMonitor waits for the operator's CRDs like the model servers'.
            self.gateway_url = Gateway(
                f"{name}-gateway",
                replace(args.gateway, namespace=ns.metadata.name, crds_ready=crds_ready),
                opts=child,
            ).url
        self.register_outputs(
            {
                "namespace": self.namespace,
                "endpoints": self.endpoints,
                "gateway_url": self.gateway_url,
            }
        )

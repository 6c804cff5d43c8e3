"""GpuRuntime: what makes GPUs schedulable and observable on a cluster.

Either the NVIDIA GPU Operator (Helm, pinned chart; `operator`) or, by default, explicit
pinned DaemonSets (`daemonsets`): NVIDIA's device plugin where the cloud does not run its
own (GKE does), and the DCGM exporter where Prometheus scrapes it (`scraping`). They run in
their own namespace because they need host access that the restricted model namespace
forbids, and they tolerate every taint of every GPU pool, the cloud's own included.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import conventions, naming
from components.kubernetes import helm
from components.kubernetes.facts import PoolScheduling
from components.kubernetes.gpu_runtime import daemonsets as ds
from components.kubernetes.gpu_runtime import operator, scraping
from components.kubernetes.gpu_runtime.args import GpuRuntimeArgs
from components.kubernetes.gpu_runtime.operator import GPU_OPERATOR_CHART_VERSION
from components.scheduling import GpuNodeRuntime

__all__ = ["GPU_OPERATOR_CHART_VERSION", "GpuRuntime", "GpuRuntimeArgs"]

COMPONENT = "gpu-runtime"


def namespace_labels(labeler: naming.K8sLabeler) -> dict[str, str]:
    return {
        **labeler("gpu-runtime", COMPONENT),
        # The device plugin mounts the kubelet's socket directory from the host.
        conventions.PSA_ENFORCE: "privileged",
        conventions.PSA_WARN: "restricted",
        conventions.PSA_AUDIT: "restricted",
    }


class GpuRuntime(pulumi.ComponentResource):
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: GpuRuntimeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:kubernetes:GpuRuntime", name, None, opts)
        self._args = args
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.namespace, labels=namespace_labels(args.labeler)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = ns.metadata.name
        if args.gpu_operator:
            helm.install(
                f"{name}-gpu-operator",
                release="gpu-operator",
                pinned=operator.GPU_OPERATOR,
                namespace=ns.metadata.name,
                values=operator.operator_values(args.labeler, args.monitoring_labels),
                # Its Helm hooks only upgrade CRDs and clean up on delete (templates/
                # upgrade_crd.yaml, cleanup_crd.yaml at v24.9.2): it installs rendered too.
                renders=args.renders,
                # The operator creates the DCGM exporter's ServiceMonitor.
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.crds_ready)),
            )
        else:
            self._explicit_daemonsets(name)
        self.register_outputs({"namespace": self.namespace})

    def _explicit_daemonsets(self, name: str) -> None:
        args = self._args
        pools = ds.nvidia_pools(args.pools)
        if pools and args.runtime.device_plugin:
            self._daemonset(
                name,
                "nvidia-device-plugin",
                pools,
                ds.device_plugin_container(),
                [ds.host_volume(ds.PLUGIN_DIR)],
                GpuNodeRuntime(),
                None,
            )
        if pools and args.metrics:
            exporter = self._daemonset(
                name,
                scraping.EXPORTER,
                pools,
                ds.dcgm_exporter_container(args.runtime),
                ds.exporter_volumes(args.runtime),
                args.runtime,
                args.prometheus_namespace,
            )
            self._exporter_scraping(name, exporter)

    def _daemonset(
        self,
        name: str,
        component: str,
        pools: list[PoolScheduling],
        container: k8s.core.v1.ContainerArgs,
        volumes: list[k8s.core.v1.VolumeArgs],
        runtime: GpuNodeRuntime,
        scraped_from: str | None,
    ) -> k8s.apps.v1.DaemonSet:
        labels = self._args.labeler(component, COMPONENT)
        selector = naming.selector_labels(component, COMPONENT)
        meta = k8s.meta.v1.ObjectMetaArgs(name=component, namespace=self.namespace, labels=labels)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-{component}-netpol",
            metadata=meta,
            spec=scraping.network_policy_spec(selector, scraped_from),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return k8s.apps.v1.DaemonSet(
            f"{name}-{component}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=component,
                namespace=self.namespace,
                labels=labels,
                annotations=ds.exporter_annotations(runtime),
            ),
            spec=ds.daemonset_spec(component, labels, pools, container, volumes),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _exporter_scraping(self, name: str, exporter: k8s.apps.v1.DaemonSet) -> None:
        args = self._args
        labels = args.labeler(scraping.EXPORTER, COMPONENT)
        selector = naming.selector_labels(scraping.EXPORTER, COMPONENT)
        k8s.core.v1.Service(
            f"{name}-dcgm-exporter-svc",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=scraping.EXPORTER, namespace=self.namespace, labels=labels
            ),
            spec=scraping.exporter_service_spec(selector),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[exporter]),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-dcgm-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=scraping.EXPORTER,
                namespace=self.namespace,
                labels={**labels, **args.monitoring_labels},
            ),
            spec=scraping.exporter_service_monitor_spec(selector),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.crds_ready)),
        )

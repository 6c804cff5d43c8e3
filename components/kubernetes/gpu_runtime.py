"""GpuRuntime: what makes GPUs schedulable and observable on a cluster.

Either the NVIDIA GPU Operator (Helm, pinned chart) or, by default, two explicit pinned
DaemonSets: the device plugin and the DCGM exporter. They run in their own namespace
because they need host access that the restricted model namespace forbids.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.kubernetes import helm
from components.kubernetes.facts import PoolScheduling
from components.spec import EnvironmentSpec

DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"
DCGM_EXPORTER_IMAGE = "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04"
GPU_OPERATOR_CHART_VERSION = "v24.9.2"
DCGM_PORT = 9400
PLUGIN_DIR = "/var/lib/kubelet/device-plugins"


@dataclass(frozen=True)
class GpuRuntimeArgs:
    spec: EnvironmentSpec
    pools: dict[str, PoolScheduling]
    # The release installing the ServiceMonitor CRD, when this stack installs it.
    crds_ready: tuple[pulumi.Resource, ...] = ()


def _host_access_skips(*checks: tuple[str, str]) -> dict[str, str]:
    return {f"checkov.io/skip{i}": f"{cid}={why}" for i, (cid, why) in enumerate(checks, 1)}


class GpuRuntime(pulumi.ComponentResource):
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: GpuRuntimeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:kubernetes:GpuRuntime", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        ns_name = f"{spec.namespace}-gpu"
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns_name,
                labels={
                    **naming.k8s_labels(spec, "gpu-runtime", "gpu-runtime"),
                    # The device plugin mounts the kubelet's socket directory from the host.
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
            opts=child,
        )
        self.namespace = ns.metadata.name

        if spec.cluster.gpu_operator:
            helm.install(
                f"{name}-gpu-operator",
                release="gpu-operator",
                pinned=helm.PinnedChart(
                    "gpu-operator", GPU_OPERATOR_CHART_VERSION, "https://helm.ngc.nvidia.com/nvidia"
                ),
                namespace=ns.metadata.name,
                values={
                    "dcgmExporter": {
                        "serviceMonitor": {
                            "enabled": True,
                            "honorLabels": True,
                            "additionalLabels": naming.monitoring_labels(spec),
                        }
                    },
                    "daemonsets": {
                        "labels": naming.k8s_labels(spec, "gpu-operator", "gpu-runtime")
                    },
                },
                # Its Helm hooks only upgrade CRDs and clean up on delete (templates/
                # upgrade_crd.yaml, cleanup_crd.yaml at v24.9.2): it installs rendered too.
                renders=spec.cluster.render_to_directory is not None,
                # The operator creates the DCGM exporter's ServiceMonitor.
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.crds_ready)),
            )
            self.register_outputs({"namespace": self.namespace})
            return

        # Run on every NVIDIA node of any pool: one node-selector term per pool (ORed).
        affinity = k8s.core.v1.AffinityArgs(
            node_affinity=k8s.core.v1.NodeAffinityArgs(
                required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                    node_selector_terms=[
                        k8s.core.v1.NodeSelectorTermArgs(
                            match_expressions=[
                                k8s.core.v1.NodeSelectorRequirementArgs(
                                    key=k, operator="In", values=[v]
                                )
                                for k, v in sorted(p.node_selector.items())
                            ]
                        )
                        for p in args.pools.values()
                        if p.gpu_resource == "nvidia.com/gpu"
                    ]
                )
            )
        )
        tolerations = [
            k8s.core.v1.TolerationArgs(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")
        ]
        limited = k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "50m", "memory": "64Mi"}, limits={"cpu": "500m", "memory": "512Mi"}
        )
        hardened = k8s.core.v1.SecurityContextArgs(
            allow_privilege_escalation=False,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            read_only_root_filesystem=True,
        )
        as_root = "must run as root to reach the GPU devices and kubelet sockets"
        skips = {
            **_host_access_skips(
                ("CKV_K8S_23", as_root),
                ("CKV_K8S_40", "runs as root, see CKV_K8S_23"),
                ("CKV_K8S_43", "pinned by NVIDIA's immutable release tag"),
            ),
            naming.RUNS_AS_ROOT_ANNOTATION: as_root,
        }

        def daemonset(
            component: str, image: str, host_dir: str, read_only: bool, **container
        ) -> k8s.apps.v1.DaemonSet:
            """A DaemonSet on the GPU nodes that mounts one kubelet directory from the host."""
            selector = naming.selector_labels(component, "gpu-runtime")
            labels = naming.k8s_labels(spec, component, "gpu-runtime")
            volume = host_dir.rsplit("/", 1)[-1]
            return k8s.apps.v1.DaemonSet(
                f"{name}-{component}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=component, namespace=ns.metadata.name, labels=labels, annotations=skips
                ),
                spec=k8s.apps.v1.DaemonSetSpecArgs(
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                    update_strategy=k8s.apps.v1.DaemonSetUpdateStrategyArgs(type="RollingUpdate"),
                    template=k8s.core.v1.PodTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                        spec=k8s.core.v1.PodSpecArgs(
                            priority_class_name="system-node-critical",
                            automount_service_account_token=False,
                            affinity=affinity,
                            tolerations=tolerations,
                            security_context=k8s.core.v1.PodSecurityContextArgs(
                                seccomp_profile=k8s.core.v1.SeccompProfileArgs(
                                    type="RuntimeDefault"
                                )
                            ),
                            containers=[
                                k8s.core.v1.ContainerArgs(
                                    name=component,
                                    image=image,
                                    image_pull_policy="Always",
                                    resources=limited,
                                    security_context=hardened,
                                    volume_mounts=[
                                        k8s.core.v1.VolumeMountArgs(
                                            name=volume, mount_path=host_dir, read_only=read_only
                                        )
                                    ],
                                    **container,
                                )
                            ],
                            volumes=[
                                k8s.core.v1.VolumeArgs(
                                    name=volume,
                                    host_path=k8s.core.v1.HostPathVolumeSourceArgs(
                                        path=host_dir, type="Directory"
                                    ),
                                )
                            ],
                        ),
                    ),
                ),
                opts=child,
            )

        def socket_probe(socket: str, period: int) -> k8s.core.v1.ProbeArgs:
            return k8s.core.v1.ProbeArgs(
                exec_=k8s.core.v1.ExecActionArgs(command=["test", "-S", f"{PLUGIN_DIR}/{socket}"]),
                period_seconds=period,
            )

        def health_probe(period: int) -> k8s.core.v1.ProbeArgs:
            return k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path="/health", port=DCGM_PORT),
                period_seconds=period,
            )

        daemonset(
            "nvidia-device-plugin",
            DEVICE_PLUGIN_IMAGE,
            PLUGIN_DIR,
            read_only=False,  # the plugin creates its socket here
            env=[k8s.core.v1.EnvVarArgs(name="FAIL_ON_INIT_ERROR", value="false")],
            liveness_probe=socket_probe("nvidia-gpu.sock", 60),
            readiness_probe=socket_probe("kubelet.sock", 30),
        )
        exporter = daemonset(
            "dcgm-exporter",
            DCGM_EXPORTER_IMAGE,
            "/var/lib/kubelet/pod-resources",  # maps GPU metrics to the pods using them
            read_only=True,
            env=[
                k8s.core.v1.EnvVarArgs(name="DCGM_EXPORTER_KUBERNETES", value="true"),
                k8s.core.v1.EnvVarArgs(name="DCGM_EXPORTER_LISTEN", value=f":{DCGM_PORT}"),
            ],
            ports=[k8s.core.v1.ContainerPortArgs(name="metrics", container_port=DCGM_PORT)],
            liveness_probe=health_probe(30),
            readiness_probe=health_probe(10),
        )
        dcgm_selector = naming.selector_labels("dcgm-exporter", "gpu-runtime")
        k8s.core.v1.Service(
            f"{name}-dcgm-exporter-svc",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="dcgm-exporter",
                namespace=ns.metadata.name,
                labels=naming.k8s_labels(spec, "dcgm-exporter", "gpu-runtime"),
            ),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=dcgm_selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="metrics", port=DCGM_PORT, target_port="metrics"
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[exporter]),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-dcgm-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="dcgm-exporter",
                namespace=ns.metadata.name,
                labels={
                    **naming.k8s_labels(spec, "dcgm-exporter", "gpu-runtime"),
                    **naming.monitoring_labels(spec),
                },
            ),
            spec={
                "selector": {"matchLabels": dcgm_selector},
                "endpoints": [
                    {
                        "port": "metrics",
                        "path": "/metrics",
                        "interval": "15s",
                        # The exporter labels each GPU with the pod and namespace using it;
                        # honouring them keeps those from being renamed exported_pod/_namespace.
                        "honorLabels": True,
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.crds_ready)),
        )
        prometheus_ns = spec.cluster.prometheus_namespace
        for component in ("nvidia-device-plugin", "dcgm-exporter"):
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{component}-netpol",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=component,
                    namespace=ns.metadata.name,
                    labels=naming.k8s_labels(spec, component, "gpu-runtime"),
                ),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(
                        match_labels=naming.selector_labels(component, "gpu-runtime")
                    ),
                    policy_types=["Ingress"],
                    # Only Prometheus scrapes the exporter; the device plugin takes no traffic.
                    ingress=[
                        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                            from_=[
                                k8s.networking.v1.NetworkPolicyPeerArgs(
                                    namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                        match_labels={"kubernetes.io/metadata.name": prometheus_ns}
                                    )
                                )
                            ],
                            ports=[
                                k8s.networking.v1.NetworkPolicyPortArgs(
                                    port=DCGM_PORT, protocol="TCP"
                                )
                            ],
                        )
                    ]
                    if component == "dcgm-exporter"
                    else [],
                ),
                opts=child,
            )
        self.register_outputs({"namespace": self.namespace})

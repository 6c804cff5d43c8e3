"""GpuRuntime: what makes GPUs schedulable and observable on a cluster.

Either the NVIDIA GPU Operator (Helm, pinned chart) or, by default, explicit pinned
DaemonSets: NVIDIA's device plugin where the cloud does not run its own (GKE does), and the
DCGM exporter where Prometheus scrapes it. They run in their own namespace because they need
host access that the restricted model namespace forbids, and they tolerate every taint of
every GPU pool, the cloud's own included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.kubernetes import helm
from components.kubernetes.facts import PoolScheduling
from components.scheduling import GPU_DAEMONSET_REQUEST, GpuNodeRuntime
from components.spec import EnvironmentSpec

DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"
DCGM_EXPORTER_IMAGE = "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04"
GPU_OPERATOR_CHART_VERSION = "v24.9.2"
DCGM_PORT = 9400
PLUGIN_DIR = "/var/lib/kubelet/device-plugins"
POD_RESOURCES_DIR = "/var/lib/kubelet/pod-resources"
# Where Google's DCGM exporter manifest for GKE mounts the host's driver directory.
DRIVER_MOUNT = "/usr/local/nvidia"
NVIDIA = "nvidia.com/gpu"


@dataclass(frozen=True)
class GpuRuntimeArgs:
    spec: EnvironmentSpec
    pools: dict[str, PoolScheduling]
    runtime: GpuNodeRuntime = field(default_factory=GpuNodeRuntime)
    # Whether a Prometheus on this cluster scrapes the DCGM exporter (not on a hybrid's cloud
    # cluster, whose training pools only need their GPUs schedulable).
    metrics: bool = True
    # Default <spec namespace>-gpu; a second cluster's runtime takes its own name, so the
    # two sets of objects stay apart in rendered manifests.
    namespace: str | None = None
    # The release installing the ServiceMonitor CRD, when this stack installs it.
    crds_ready: tuple[pulumi.Resource, ...] = ()


def _annotations(*checks: tuple[str, str], why_root: str) -> dict[str, str]:
    skips = {f"checkov.io/skip{i}": f"{cid}={why}" for i, (cid, why) in enumerate(checks, 1)}
    return {**skips, naming.RUNS_AS_ROOT_ANNOTATION: why_root}


def nvidia_pools(pools: dict[str, PoolScheduling]) -> list[PoolScheduling]:
    return [p for p in pools.values() if p.gpu_resource == NVIDIA]


def gpu_node_affinity(pools: list[PoolScheduling]) -> k8s.core.v1.AffinityArgs:
    """Every node of any of the pools: one node-selector term per pool (ORed)."""
    terms = [
        k8s.core.v1.NodeSelectorTermArgs(
            match_expressions=[
                k8s.core.v1.NodeSelectorRequirementArgs(key=k, operator="In", values=[v])
                for k, v in sorted(p.node_selector.items())
            ]
        )
        for p in pools
    ]
    return k8s.core.v1.AffinityArgs(
        node_affinity=k8s.core.v1.NodeAffinityArgs(
            required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                node_selector_terms=terms
            )
        )
    )


def gpu_tolerations(pools: list[PoolScheduling]) -> list[k8s.core.v1.TolerationArgs]:
    """One toleration for each distinct taint on any of the pools."""
    seen: dict[tuple, dict[str, str]] = {}
    for pool in pools:
        for t in pool.tolerations:
            seen.setdefault(tuple(sorted(t.items())), t)
    return [k8s.core.v1.TolerationArgs(**t) for _, t in sorted(seen.items())]


def host_volume(path: str) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(
        name=path.rstrip("/").rsplit("/", 1)[-1],
        host_path=k8s.core.v1.HostPathVolumeSourceArgs(path=path, type="Directory"),
    )


def device_plugin_container() -> k8s.core.v1.ContainerArgs:
    def socket_probe(socket: str, period: int) -> k8s.core.v1.ProbeArgs:
        return k8s.core.v1.ProbeArgs(
            exec_=k8s.core.v1.ExecActionArgs(command=["test", "-S", f"{PLUGIN_DIR}/{socket}"]),
            period_seconds=period,
        )

    return k8s.core.v1.ContainerArgs(
        name="nvidia-device-plugin",
        image=DEVICE_PLUGIN_IMAGE,
        image_pull_policy="Always",
        env=[k8s.core.v1.EnvVarArgs(name="FAIL_ON_INIT_ERROR", value="false")],
        resources=_resources(),
        security_context=_hardened(),
        # The plugin creates its socket in the kubelet's directory.
        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="device-plugins", mount_path=PLUGIN_DIR)],
        liveness_probe=socket_probe("nvidia-gpu.sock", 60),
        readiness_probe=socket_probe("kubelet.sock", 30),
    )


def dcgm_exporter_container(runtime: GpuNodeRuntime) -> k8s.core.v1.ContainerArgs:
    """The exporter maps GPU metrics to the pods using them through the kubelet's
    pod-resources API. Where the cloud installs the driver under its own host path and no
    NVIDIA container runtime hands devices to the container (GKE), it runs as Google's GKE
    manifest does: privileged, the driver mounted at /usr/local/nvidia, GPUs named as GKE's
    device plugin names them."""

    def health(period: int) -> k8s.core.v1.ProbeArgs:
        return k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/health", port=DCGM_PORT),
            period_seconds=period,
        )

    env = {"DCGM_EXPORTER_KUBERNETES": "true", "DCGM_EXPORTER_LISTEN": f":{DCGM_PORT}"}
    mounts = [
        k8s.core.v1.VolumeMountArgs(
            name="pod-resources", mount_path=POD_RESOURCES_DIR, read_only=True
        )
    ]
    security = _hardened()
    if runtime.driver_host_path is not None:
        env["LD_LIBRARY_PATH"] = f"{DRIVER_MOUNT}/lib64"
        mounts.append(
            k8s.core.v1.VolumeMountArgs(name="nvidia", mount_path=DRIVER_MOUNT, read_only=True)
        )
        security = k8s.core.v1.SecurityContextArgs(
            privileged=True,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            read_only_root_filesystem=True,
        )
    if runtime.gpu_id_type is not None:
        env["DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE"] = runtime.gpu_id_type
    return k8s.core.v1.ContainerArgs(
        name="dcgm-exporter",
        image=DCGM_EXPORTER_IMAGE,
        image_pull_policy="Always",
        env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())],
        ports=[k8s.core.v1.ContainerPortArgs(name="metrics", container_port=DCGM_PORT)],
        resources=_resources(),
        security_context=security,
        volume_mounts=mounts,
        liveness_probe=health(30),
        readiness_probe=health(10),
    )


def _resources() -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests=GPU_DAEMONSET_REQUEST.quantities(), limits={"cpu": "500m", "memory": "512Mi"}
    )


def _hardened() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        read_only_root_filesystem=True,
    )


def daemonset_spec(
    spec: EnvironmentSpec,
    component: str,
    pools: list[PoolScheduling],
    container: k8s.core.v1.ContainerArgs,
    volumes: list[k8s.core.v1.VolumeArgs],
) -> k8s.apps.v1.DaemonSetSpecArgs:
    labels = naming.k8s_labels(spec, component, "gpu-runtime")
    return k8s.apps.v1.DaemonSetSpecArgs(
        selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels=naming.selector_labels(component, "gpu-runtime")
        ),
        update_strategy=k8s.apps.v1.DaemonSetUpdateStrategyArgs(type="RollingUpdate"),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
            spec=k8s.core.v1.PodSpecArgs(
                priority_class_name="system-node-critical",
                automount_service_account_token=False,
                affinity=gpu_node_affinity(pools),
                tolerations=gpu_tolerations(pools),
                security_context=k8s.core.v1.PodSecurityContextArgs(
                    seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")
                ),
                containers=[container],
                volumes=volumes,
            ),
        ),
    )


def exporter_annotations(runtime: GpuNodeRuntime) -> dict[str, str]:
    root = "must run as root to reach the GPU devices and kubelet sockets"
    checks = [
        ("CKV_K8S_23", root),
        ("CKV_K8S_40", "runs as root, see CKV_K8S_23"),
        ("CKV_K8S_43", "pinned by NVIDIA's immutable release tag"),
    ]
    annotations = {}
    if runtime.driver_host_path is not None:
        privileged = "GKE gives no container GPU devices but a privileged one (Google's manifest)"
        checks += [("CKV_K8S_16", privileged), ("CKV_K8S_20", privileged)]
        annotations[naming.PRIVILEGED_ANNOTATION] = privileged
    return {**_annotations(*checks, why_root=root), **annotations}


class GpuRuntime(pulumi.ComponentResource):
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: GpuRuntimeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:kubernetes:GpuRuntime", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.namespace or f"{spec.namespace}-gpu",
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

        self._explicit_daemonsets(name, args)
        self.register_outputs({"namespace": self.namespace})

    def _explicit_daemonsets(self, name: str, args: GpuRuntimeArgs) -> None:
        pools = nvidia_pools(args.pools)
        if pools and args.runtime.device_plugin:
            self._daemonset(name, "nvidia-device-plugin", args, pools, device_plugin_container(),
                            [host_volume(PLUGIN_DIR)])
        if pools and args.metrics:
            volumes = [host_volume(POD_RESOURCES_DIR)]
            if args.runtime.driver_host_path is not None:
                volumes.append(
                    k8s.core.v1.VolumeArgs(
                        name="nvidia",
                        host_path=k8s.core.v1.HostPathVolumeSourceArgs(
                            path=args.runtime.driver_host_path, type="Directory"
                        ),
                    )
                )
            exporter = self._daemonset(
                name, "dcgm-exporter", args, pools, dcgm_exporter_container(args.runtime), volumes
            )
            self._exporter_scraping(name, args.spec, exporter, args.crds_ready)

    def _daemonset(
        self,
        name: str,
        component: str,
        args: GpuRuntimeArgs,
        pools: list[PoolScheduling],
        container: k8s.core.v1.ContainerArgs,
        volumes: list[k8s.core.v1.VolumeArgs],
    ) -> k8s.apps.v1.DaemonSet:
        spec = args.spec
        labels = naming.k8s_labels(spec, component, "gpu-runtime")
        runtime = args.runtime if component == "dcgm-exporter" else GpuNodeRuntime()
        k8s.networking.v1.NetworkPolicy(
            f"{name}-{component}-netpol",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=component, namespace=self.namespace, labels=labels
            ),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(
                    match_labels=naming.selector_labels(component, "gpu-runtime")
                ),
                policy_types=["Ingress"],
                # Only Prometheus scrapes the exporter; the device plugin takes no traffic.
                ingress=[_prometheus_ingress(spec)] if component == "dcgm-exporter" else [],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return k8s.apps.v1.DaemonSet(
            f"{name}-{component}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=component,
                namespace=self.namespace,
                labels=labels,
                annotations=exporter_annotations(runtime),
            ),
            spec=daemonset_spec(spec, component, pools, container, volumes),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _exporter_scraping(
        self,
        name: str,
        spec: EnvironmentSpec,
        exporter: k8s.apps.v1.DaemonSet,
        crds_ready: tuple[pulumi.Resource, ...],
    ) -> None:
        labels = naming.k8s_labels(spec, "dcgm-exporter", "gpu-runtime")
        selector = naming.selector_labels("dcgm-exporter", "gpu-runtime")
        k8s.core.v1.Service(
            f"{name}-dcgm-exporter-svc",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="dcgm-exporter", namespace=self.namespace, labels=labels
            ),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector,
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
                namespace=self.namespace,
                labels={**labels, **naming.monitoring_labels(spec)},
            ),
            spec={
                "selector": {"matchLabels": selector},
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(crds_ready)),
        )


def _prometheus_ingress(spec: EnvironmentSpec) -> k8s.networking.v1.NetworkPolicyIngressRuleArgs:
    return k8s.networking.v1.NetworkPolicyIngressRuleArgs(
        from_=[
            k8s.networking.v1.NetworkPolicyPeerArgs(
                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                    match_labels={
                        "kubernetes.io/metadata.name": spec.cluster.prometheus_namespace
                    }
                )
            )
        ],
        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=DCGM_PORT, protocol="TCP")],
    )

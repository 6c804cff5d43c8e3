"""The explicit GPU DaemonSets: NVIDIA's device plugin and the DCGM exporter, on every node
of every NVIDIA pool. Pure builders: they return Pulumi Args or dicts."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components import conventions, naming
from components.catalog import versions
from components.kubernetes.facts import PoolScheduling
from components.scheduling import GPU_DAEMONSET_REQUEST, GpuNodeRuntime

DEVICE_PLUGIN_IMAGE = versions.image("nvidia-device-plugin")
DCGM_EXPORTER_IMAGE = versions.image("dcgm-exporter")
DCGM_PORT = 9400
PLUGIN_DIR = "/var/lib/kubelet/device-plugins"
POD_RESOURCES_DIR = "/var/lib/kubelet/pod-resources"
# Where Google's DCGM exporter manifest for GKE mounts the host's driver directory.
DRIVER_MOUNT = "/usr/local/nvidia"


def _annotations(*checks: tuple[str, str], why_root: str) -> dict[str, str]:
    skips = {
        f"{conventions.CHECKOV_SKIP}{i}": f"{cid}={why}" for i, (cid, why) in enumerate(checks, 1)
    }
    return {**skips, conventions.RUNS_AS_ROOT_ANNOTATION: why_root}


def nvidia_pools(pools: dict[str, PoolScheduling]) -> list[PoolScheduling]:
    return [p for p in pools.values() if p.gpu_resource == conventions.NVIDIA_GPU]


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
    component: str,
    labels: dict[str, str],
    pools: list[PoolScheduling],
    container: k8s.core.v1.ContainerArgs,
    volumes: list[k8s.core.v1.VolumeArgs],
) -> k8s.apps.v1.DaemonSetSpecArgs:
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
        annotations[conventions.PRIVILEGED_ANNOTATION] = privileged
    return {**_annotations(*checks, why_root=root), **annotations}


def exporter_volumes(runtime: GpuNodeRuntime) -> list[k8s.core.v1.VolumeArgs]:
    """The kubelet's pod-resources socket, and the driver where the cloud installs it under
    its own host path."""
    volumes = [host_volume(POD_RESOURCES_DIR)]
    if runtime.driver_host_path is not None:
        volumes.append(
            k8s.core.v1.VolumeArgs(
                name="nvidia",
                host_path=k8s.core.v1.HostPathVolumeSourceArgs(
                    path=runtime.driver_host_path, type="Directory"
                ),
            )
        )
    return volumes

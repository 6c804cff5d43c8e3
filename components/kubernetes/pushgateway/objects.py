"""The Pushgateway's objects. Pure builders: they return Pulumi Args or dicts."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.catalog import versions
from components.kubernetes import pods

IMAGE = versions.image("pushgateway")
PORT = 9091
NAME = "pushgateway"
COMPONENT = "metrics"
# The image's own user (nobody: `USER 65534` in the Dockerfile at v1.9.0); it owns nothing
# on the root filesystem.
UID = 65534

core = k8s.core.v1
net = k8s.networking.v1


def service_url(namespace: str) -> str:
    """The Pushgateway Service's URL inside the cluster, for pods that push to it."""
    return f"http://{NAME}.{namespace}.svc:{PORT}"


def data_claim_spec() -> core.PersistentVolumeClaimSpecArgs:
    """Pushed values survive a restart: a training job's interruption counter must not fall
    back to zero when the gateway moves."""
    return core.PersistentVolumeClaimSpecArgs(
        access_modes=["ReadWriteOnce"],
        resources=core.VolumeResourceRequirementsArgs(requests={"storage": "1Gi"}),
    )


def container() -> core.ContainerArgs:
    def probe(path: str, period: int) -> core.ProbeArgs:
        return core.ProbeArgs(
            http_get=core.HTTPGetActionArgs(path=path, port="http"), period_seconds=period
        )

    return core.ContainerArgs(
        name=NAME,
        image=IMAGE,
        image_pull_policy="Always",
        args=["--persistence.file=/data/pushgateway.db", "--persistence.interval=1m"],
        ports=[core.ContainerPortArgs(name="http", container_port=PORT)],
        readiness_probe=probe("/-/ready", 10),
        liveness_probe=probe("/-/healthy", 20),
        resources=core.ResourceRequirementsArgs(
            requests={"cpu": "50m", "memory": "64Mi"}, limits={"cpu": "500m", "memory": "256Mi"}
        ),
        security_context=pods.container_security(UID),
        volume_mounts=[core.VolumeMountArgs(name="data", mount_path="/data")],
    )


def deployment_spec(
    selector: dict[str, str], labels: dict[str, str], claim: pulumi.Input[str]
) -> k8s.apps.v1.DeploymentSpecArgs:
    data = core.PersistentVolumeClaimVolumeSourceArgs(claim_name=claim)
    return k8s.apps.v1.DeploymentSpecArgs(
        replicas=1,
        # One writer for the persistence file: the old pod goes before the new one.
        strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
        template=core.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
            spec=core.PodSpecArgs(
                automount_service_account_token=False,
                security_context=pods.pod_security(UID),
                containers=[container()],
                volumes=[core.VolumeArgs(name="data", persistent_volume_claim=data)],
            ),
        ),
    )


def service_spec(selector: dict[str, str]) -> core.ServiceSpecArgs:
    return pods.http_service_spec(selector, PORT)


def service_monitor_spec(selector: dict[str, str], namespace: pulumi.Input[str]) -> dict:
    return {
        "selector": {"matchLabels": selector},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [{"port": "http", "interval": "30s", "honorLabels": True}],
    }


def network_policy_spec(
    selector: dict[str, str], prometheus_namespace: str
) -> net.NetworkPolicySpecArgs:
    """Pushes come from jobs in this namespace; scrapes from Prometheus."""
    return net.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress"],
        ingress=[
            net.NetworkPolicyIngressRuleArgs(
                from_=[
                    net.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs()),
                    pods.prometheus_peer(prometheus_namespace),
                ],
                ports=[net.NetworkPolicyPortArgs(port=PORT, protocol="TCP")],
            )
        ],
    )

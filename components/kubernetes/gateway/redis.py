"""Redis for the gateway's limit counters, shared across replicas (LiteLLM's
`coordination_redis`). The official image, one replica, nothing persisted: losing it
resets the rpm/tpm windows, never a budget (spend lives in Postgres). Pure builders."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components import conventions, naming
from components.kubernetes import pods
from components.kubernetes.gateway.deployment import REDIS, REDIS_PORT

NAME = REDIS
PORT = REDIS_PORT
COMPONENT = "gateway-redis"
# The platform's uid rather than the image's `redis` (999): a uid that high is in no
# node's /etc/passwd (Checkov CKV_K8S_40). The entrypoint changes user only when started as
# root; as any other uid it execs redis-server as is (docker-library/redis
# 7.2/debian/docker-entrypoint.sh at e92049967d6b), and /data is an emptyDir owned by fsGroup.
UID = pods.RUN_AS
# Below the memory limit, so Redis evicts before the kernel kills it.
MAXMEMORY = "384mb"

core = k8s.core.v1


def selector() -> dict[str, str]:
    return naming.selector_labels(NAME, COMPONENT)


def labels(gateway_labels: dict[str, str]) -> dict[str, str]:
    return {**gateway_labels, conventions.APP_NAME: NAME, conventions.APP_COMPONENT: COMPONENT}


def container(image: str) -> core.ContainerArgs:
    probe = core.ProbeArgs(tcp_socket=core.TCPSocketActionArgs(port="redis"), period_seconds=10)
    return core.ContainerArgs(
        name="redis",
        image=image,
        image_pull_policy="IfNotPresent",
        # No snapshot and no append-only file: counters only, nothing to keep.
        args=[
            "redis-server", "--save", "", "--appendonly", "no",
            "--maxmemory", MAXMEMORY, "--maxmemory-policy", "allkeys-lru",
        ],
        ports=[core.ContainerPortArgs(name="redis", container_port=PORT)],
        readiness_probe=probe,
        liveness_probe=probe,
        resources=core.ResourceRequirementsArgs(
            requests={"cpu": "100m", "memory": "128Mi"}, limits={"cpu": "1", "memory": "512Mi"}
        ),
        security_context=pods.container_security(UID),
        # The image's WORKDIR; nothing is written there with persistence off.
        volume_mounts=[core.VolumeMountArgs(name="data", mount_path="/data")],
    )


def deployment_spec(image: str, gateway_labels: dict[str, str]) -> k8s.apps.v1.DeploymentSpecArgs:
    return k8s.apps.v1.DeploymentSpecArgs(
        replicas=1,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector()),
        template=core.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels(gateway_labels)),
            spec=core.PodSpecArgs(
                automount_service_account_token=False,
                enable_service_links=False,
                security_context=pods.pod_security(UID),
                containers=[container(image)],
                volumes=[
                    core.VolumeArgs(
                        name="data", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="64Mi")
                    )
                ],
            ),
        ),
    )


def service_spec() -> core.ServiceSpecArgs:
    return core.ServiceSpecArgs(
        type="ClusterIP",
        selector=selector(),
        ports=[core.ServicePortArgs(name="redis", port=PORT, target_port="redis")],
    )

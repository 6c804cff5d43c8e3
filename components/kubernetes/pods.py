"""The Kubernetes `restricted` pod security profile, in one place for every workload we run,
and the probes, Services and network-policy peers several workloads share."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components import conventions

# A fixed non-root UID: images that default to root still start, and file ownership on the
# volumes (fsGroup) is predictable.
RUN_AS = 10001


def container_security(uid: int = RUN_AS) -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def pod_security(uid: int = RUN_AS) -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def restricted_namespace(labels: dict[str, str]) -> dict[str, str]:
    """A namespace's labels that make Pod Security Admission enforce (and warn and audit)
    the restricted profile: for the namespaces whose every pod meets it."""
    return {
        **labels,
        conventions.PSA_ENFORCE: "restricted",
        conventions.PSA_WARN: "restricted",
        conventions.PSA_AUDIT: "restricted",
    }


def digest_skip(image: str) -> dict[str, str]:
    """Checkov wants every image pinned by digest; a release tag is our floor (the spec
    refuses `latest` and untagged images), so the skip says so where no digest is given."""
    if "@sha256:" in image:
        return {}
    return {
        f"{conventions.CHECKOV_SKIP}1": (
            "CKV_K8S_43=image pinned by an immutable release tag; add @sha256 in the spec "
            "to pin by digest"
        )
    }


def prometheus_peer(prometheus_namespace: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """Network-policy peer for the namespace Prometheus scrapes from."""
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels={conventions.NAMESPACE_NAME_LABEL: prometheus_namespace}
        )
    )


def http_probe(path: str, period: int, failures: int) -> k8s.core.v1.ProbeArgs:
    """A GET of `path` on the container's `http` port."""
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port="http"),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=5,
    )


def http_service_spec(selector: dict[str, str], port: int) -> k8s.core.v1.ServiceSpecArgs:
    """A ClusterIP Service whose `http` port `port` reaches the pods' `http` port."""
    return k8s.core.v1.ServiceSpecArgs(
        type="ClusterIP",
        selector=selector,
        ports=[k8s.core.v1.ServicePortArgs(name="http", port=port, target_port="http")],
    )


def job_pod(
    labels: dict[str, str],
    service_account: str,
    container: k8s.core.v1.ContainerArgs,
    volumes: list[k8s.core.v1.VolumeArgs],
) -> k8s.core.v1.PodTemplateSpecArgs:
    """A one-shot Job's pod, restricted, that runs once (a retry is the Job's, not the
    kubelet's) and gets no Kubernetes API token: a cloud token, where one is needed, is its own
    audience-scoped projection among `volumes`."""
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
        spec=k8s.core.v1.PodSpecArgs(
            service_account_name=service_account,
            automount_service_account_token=False,
            enable_service_links=False,
            restart_policy="Never",
            security_context=pod_security(),
            containers=[container],
            volumes=volumes,
        ),
    )

"""What the EKS cluster, its StorageClass and its cluster autoscaler are made of, from
ClusterArgs: a private API endpoint, every control-plane log type, Kubernetes secrets
envelope-encrypted, and standard support unless the spec pays for extended."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.args import ClusterArgs
from components.catalog import spot_notices, versions
from components.kubernetes.kubeconfig import exec_kubeconfig

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
STORAGE_CLASS = "gp3-encrypted"
# The chart and image come from the Kubernetes version's catalog row: the autoscaler's minor
# version must match the control plane's.
AUTOSCALER_REPO = versions.chart_repo("autoscaler")
AUTOSCALER_ACCOUNT = "cluster-autoscaler"
CONTROL_PLANE_POLICIES = ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]
NODE_POLICIES = [
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
]
EBS_CSI_POLICIES = ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]
# aws-node-termination-handler (versions.yaml): the chart, where it goes, and the label EKS
# puts on every node of a SPOT managed node group ("Amazon EKS adds the following Kubernetes
# label to all nodes in your managed node group that specifies the capacity type:
# eks.amazonaws.com/capacityType: SPOT", docs.aws.amazon.com/eks/latest/userguide/
# managed-node-groups.html, "Managed node group capacity types").
TERMINATION_HANDLER = versions.chart("aws-node-termination-handler")
TERMINATION_HANDLER_NAMESPACE = "kube-system"  # the chart README's install command
SPOT_NODE_LABEL = {"eks.amazonaws.com/capacityType": "SPOT"}


def log_group(args: ClusterArgs) -> str:
    """Where EKS writes the control plane's logs (fixed by EKS), created by us with
    retention and a key."""
    return f"/aws/eks/{args.cluster_name}/cluster"


def eks_cluster(
    args: ClusterArgs, subnet_ids: list[pulumi.Input[str]], key_arn: pulumi.Input[str]
) -> dict[str, Any]:
    """Keyword arguments of the aws.eks.Cluster, except its role."""
    public = bool(args.public_endpoint_cidrs)
    return dict(
        name=args.cluster_name,
        version=args.version,
        vpc_config=aws.eks.ClusterVpcConfigArgs(
            subnet_ids=subnet_ids,
            endpoint_private_access=True,
            endpoint_public_access=public,
            public_access_cidrs=list(args.public_endpoint_cidrs) if public else None,
        ),
        enabled_cluster_log_types=LOG_TYPES,
        encryption_config=aws.eks.ClusterEncryptionConfigArgs(
            provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key_arn),
            resources=["secrets"],
        ),
        access_config=aws.eks.ClusterAccessConfigArgs(
            authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True
        ),
        # EKS defaults to EXTENDED, which bills extended support silently; STANDARD
        # upgrades the cluster at the end of standard support instead.
        upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(
            support_type="EXTENDED" if args.extended_support else "STANDARD"
        ),
        tags=args.tags,
    )


def storage_class(args: ClusterArgs) -> dict[str, Any]:
    """Keyword arguments of the default StorageClass: encrypted gp3 through the EBS CSI
    driver, bound where the pod lands."""
    return dict(
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=STORAGE_CLASS,
            labels=args.storage_class_labels,
            annotations={"storageclass.kubernetes.io/is-default-class": "true"},
        ),
        provisioner="ebs.csi.aws.com",
        parameters={"type": "gp3", "encrypted": "true"},
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy="Delete",
    )


def autoscaler_values(args: ClusterArgs, cluster_name: pulumi.Input[str]) -> dict[str, Any]:
    """Chart values of the cluster autoscaler: it finds the node groups by the tags EKS puts
    on their ASGs and scales each between its min and max as pods wait for GPUs."""
    return {
        "cloudProvider": "aws",
        "awsRegion": args.region,
        "autoDiscovery": {"clusterName": cluster_name},
        "image": {"tag": args.autoscaler.image},
        "rbac": {"serviceAccount": {"name": AUTOSCALER_ACCOUNT}},
        "extraArgs": {
            "balance-similar-node-groups": True,
            "skip-nodes-with-system-pods": False,
            "expander": "least-waste",
            # A GPU node takes minutes to join; do not give up on it early.
            "max-node-provision-time": "25m",
        },
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534},
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def termination_handler_values() -> dict[str, Any]:
    """Chart values of aws-node-termination-handler 0.27.6 in IMDS mode: a DaemonSet on the
    spot nodes polls the instance metadata every 2 s (cmd/node-termination-handler.go:249 at
    v1.25.6) and, on the spot interruption notice, cordons and drains its node at once, giving
    each pod at most the catalog's pod_grace_s of SIGTERM before SIGKILL.

    Keys, all in config/helm/aws-node-termination-handler/values.yaml at v1.25.6:
    - enableSqsTerminationDraining false (:141): IMDS mode; templates/daemonset.linux.yaml:1
      renders the DaemonSet only then (queue-processor mode is a Deployment and an SQS queue);
    - enableSpotInterruptionDraining true (:274, its default, set so a chart upgrade cannot
      turn it off unseen);
    - podTerminationGracePeriod (:103) is the drain's GracePeriodSeconds
      (pkg/node/node.go:748): the training pod's terminationGracePeriodSeconds is the same
      pod_grace_s, so the drain never cuts the final checkpoint short, nor does a pod with a
      longer grace outlive the instance;
    - nodeTerminationGracePeriod (:106): the drain starts this long before the interruption
      time (pkg/interruptioneventstore/interruption-event-store.go:117-119) and times out
      after it (node.go:752); the full notice_s, so it starts on the notice;
    - daemonsetNodeSelector (:246): spot nodes only; the default daemonsetTolerations
      (`operator: Exists`, :262) already tolerates the GPU taints.
    The chart's own securityContext is kept (:38-43: uid 1000, non-root, read-only root, no
    privilege escalation). It needs hostNetwork (useHostNetwork :238): our launch template
    holds IMDSv2 to a hop limit of 1 (nodes.py), which a pod network cannot reach."""
    notice = spot_notices()["aws"]
    return {
        "enableSqsTerminationDraining": False,
        "enableSpotInterruptionDraining": True,
        "podTerminationGracePeriod": notice.pod_grace_s,
        "nodeTerminationGracePeriod": notice.notice_s,
        "daemonsetNodeSelector": dict(SPOT_NODE_LABEL),
    }


def kubeconfig(endpoint: str | None, ca: str | None, cluster: str | None, region: str) -> str:
    """A kubeconfig that gets its token from `aws eks get-token`: no stored credential."""
    args = ["eks", "get-token", "--cluster-name", str(cluster), "--region", region]
    return exec_kubeconfig(cluster, endpoint, ca, {"command": "aws", "args": args})

"""What the EKS cluster, its StorageClass and its cluster autoscaler are made of, from
ClusterArgs: a private API endpoint, every control-plane log type, Kubernetes secrets
envelope-encrypted, and standard support unless the spec pays for extended."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.args import ClusterArgs
from components.catalog import versions
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


def kubeconfig(endpoint: str | None, ca: str | None, cluster: str | None, region: str) -> str:
    """A kubeconfig that gets its token from `aws eks get-token`: no stored credential."""
    args = ["eks", "get-token", "--cluster-name", str(cluster), "--region", region]
    return exec_kubeconfig(cluster, endpoint, ca, {"command": "aws", "args": args})

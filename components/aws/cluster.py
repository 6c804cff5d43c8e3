"""Cluster: EKS with a private API endpoint, every control-plane log type, and Kubernetes
secrets envelope-encrypted with a rotated customer-managed KMS key.

Also the add-ons the platform relies on (Pod Identity for workload identity, the EBS CSI
driver for volumes), an encrypted gp3 StorageClass, the cluster autoscaler that gives the
managed node groups their bounded autoscaling, and the Kubernetes provider for the layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import catalog, naming
from components.aws.iam import pod_identity_role, rotated_key, service_role
from components.kubernetes import helm
from components.kubernetes.kubeconfig import exec_kubeconfig
from components.spec import EnvironmentSpec

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
STORAGE_CLASS = "gp3-encrypted"
# The chart and image come from the version's catalog row: the autoscaler's minor version
# must match the control plane's.
AUTOSCALER_REPO = "https://kubernetes.github.io/autoscaler"


@dataclass(frozen=True)
class ClusterArgs:
    spec: EnvironmentSpec
    cluster_name: str
    subnet_ids: list[pulumi.Input[str]]


class Cluster(pulumi.ComponentResource):
    name: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:aws:Cluster", name, None, opts)
        spec = args.spec
        cfg = spec.aws
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        tags = naming.tags(spec)

        key = rotated_key(
            f"{name}-secrets",
            f"EKS secrets envelope encryption for {args.cluster_name}",
            tags,
            child,
        )
        # Created here so its retention is ours, not "never expire".
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=cfg.log_retention_days,
            tags=tags,
            opts=child,
        )
        role = service_role(
            f"{name}-control-plane",
            "eks.amazonaws.com",
            ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"],
            tags,
            child,
        )
        public = bool(cfg.public_endpoint_cidrs)
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=cfg.kubernetes_version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=cfg.public_endpoint_cidrs if public else None,
            ),
            enabled_cluster_log_types=LOG_TYPES,
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn),
                resources=["secrets"],
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True
            ),
            # EKS defaults to EXTENDED, which bills extended support silently; STANDARD
            # upgrades the cluster at the end of standard support instead.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(
                support_type="EXTENDED" if cfg.extended_support else "STANDARD"
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]),
        )
        node_role = service_role(
            f"{name}-nodes",
            "ec2.amazonaws.com",
            [
                "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
            ],
            tags,
            child,
        )
        aws.eks.Addon(
            f"{name}-pod-identity",
            cluster_name=cluster.name,
            addon_name="eks-pod-identity-agent",
            tags=tags,
            opts=child,
        )
        ebs_role = service_role(
            f"{name}-ebs-csi",
            "pods.eks.amazonaws.com",
            ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
            tags,
            child,
        )
        aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=cluster.name,
            addon_name="aws-ebs-csi-driver",
            pod_identity_associations=[
                aws.eks.AddonPodIdentityAssociationArgs(
                    role_arn=ebs_role.arn, service_account="ebs-csi-controller-sa"
                )
            ],
            tags=tags,
            opts=child,
        )

        kubeconfig = pulumi.Output.all(
            cluster.endpoint,
            cluster.certificate_authority.apply(lambda ca: ca.data if ca else None),
            cluster.name,
        ).apply(lambda a: _kubeconfig(a[0], a[1], a[2], cfg.region))
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            namespace=spec.namespace,
            enable_server_side_apply=True,
            opts=child,
        )
        on_cluster = pulumi.ResourceOptions(parent=self, provider=self.provider)
        k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS,
                labels=naming.k8s_labels(spec, "storage", "storage-class"),
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=on_cluster,
        )
        self._autoscaler(name, spec, cluster, tags, child, on_cluster)

        self.name = cluster.name
        self.node_role_arn = node_role.arn
        self.register_outputs({"name": self.name})

    def _autoscaler(self, name, spec, cluster, tags, child, on_cluster) -> None:
        """The cluster autoscaler: scales each node group between its min and max as pods
        wait for GPUs; it finds the groups by the tags EKS puts on their ASGs."""
        cfg = spec.aws
        pins = catalog.kubernetes_version("eks", cfg.kubernetes_version)
        assert pins is not None  # spec.check refuses a version without a catalog row
        policy = cluster.name.apply(
            lambda cluster_name: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "autoscaling:DescribeAutoScalingGroups",
                                "autoscaling:DescribeAutoScalingInstances",
                                "autoscaling:DescribeLaunchConfigurations",
                                "autoscaling:DescribeScalingActivities",
                                "autoscaling:DescribeTags",
                                "ec2:DescribeImages",
                                "ec2:DescribeInstanceTypes",
                                "ec2:DescribeLaunchTemplateVersions",
                                "ec2:GetInstanceTypesFromInstanceRequirements",
                                "eks:DescribeNodegroup",
                            ],
                            "Resource": "*",
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "autoscaling:SetDesiredCapacity",
                                "autoscaling:TerminateInstanceInAutoScalingGroup",
                            ],
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": {
                                    f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": (
                                        "owned"
                                    )
                                }
                            },
                        },
                    ],
                }
            )
        )
        role = pod_identity_role(f"{name}-autoscaler", policy, tags, child)
        aws.eks.PodIdentityAssociation(
            f"{name}-autoscaler",
            cluster_name=cluster.name,
            namespace="kube-system",
            service_account="cluster-autoscaler",
            role_arn=role.arn,
            tags=tags,
            opts=child,
        )
        helm.install(
            f"{name}-autoscaler",
            release="cluster-autoscaler",
            pinned=helm.PinnedChart(
                "cluster-autoscaler", pins.cluster_autoscaler_chart, AUTOSCALER_REPO
            ),
            namespace="kube-system",
            values={
                "cloudProvider": "aws",
                "awsRegion": cfg.region,
                "autoDiscovery": {"clusterName": cluster.name},
                "image": {"tag": pins.cluster_autoscaler_image},
                "rbac": {"serviceAccount": {"name": "cluster-autoscaler"}},
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
            },
            renders=False,  # this stack's own EKS cluster is always reachable
            opts=on_cluster,
        )


def _kubeconfig(endpoint: str | None, ca: str | None, cluster: str | None, region: str) -> str:
    args = ["eks", "get-token", "--cluster-name", str(cluster), "--region", region]
    return exec_kubeconfig(cluster, endpoint, ca, {"command": "aws", "args": args})

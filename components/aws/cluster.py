"""Cluster: EKS with a private API endpoint, every control-plane log type, and Kubernetes
secrets envelope-encrypted with a rotated customer-managed KMS key.

Also the add-ons the platform relies on (Pod Identity for workload identity, the EBS CSI
driver for volumes), an encrypted gp3 StorageClass, the cluster autoscaler that gives the
managed node groups their bounded autoscaling, aws-node-termination-handler where a pool
runs on spot, and the Kubernetes provider for the layer.
control_plane.py says what each is made of.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws import control_plane as plane
from components.aws.args import ClusterArgs
from components.aws.iam import pod_identity_role, rotated_key, service_role
from components.aws.iam_documents import autoscaler_policy, key_policy, logs_may_use_key
from components.kubernetes import helm


class Cluster(pulumi.ComponentResource):
    name: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(
        self,
        name: str,
        args: ClusterArgs,
        subnet_ids: list[pulumi.Input[str]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-platform:aws:Cluster", name, None, opts)
        self._base, self._args = name, args
        child = pulumi.ResourceOptions(parent=self)
        log_group = plane.log_group(args)
        # One key for the secrets and the control plane's logs (CKV_AWS_158): EKS uses it
        # through the account's IAM, CloudWatch Logs for that one log group only.
        key = rotated_key(
            f"{name}-secrets",
            f"EKS secrets envelope encryption for {args.cluster_name}",
            args.tags,
            child,
            policy=key_policy(
                args.account_id, logs_may_use_key(args.region, args.account_id, [log_group])
            ),
        )
        # Created here so its retention is ours, not "never expire".
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group,
            retention_in_days=args.log_retention_days,
            kms_key_id=key.arn,
            tags=args.tags,
            opts=child,
        )
        role = service_role(
            f"{name}-control-plane",
            "eks.amazonaws.com",
            plane.CONTROL_PLANE_POLICIES,
            args.tags,
            child,
        )
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            role_arn=role.arn,
            **plane.eks_cluster(args, subnet_ids, key.arn),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]),
        )
        node_role = service_role(
            f"{name}-nodes", "ec2.amazonaws.com", plane.NODE_POLICIES, args.tags, child
        )
        self._addons(cluster)
        self.provider = self._kube_provider(cluster)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=self.provider)
        k8s.storage.v1.StorageClass(f"{name}-gp3", **plane.storage_class(args), opts=on_cluster)
        self._autoscaler(cluster, on_cluster)
        if args.spot_pools:
            self._termination_handler(on_cluster)
        self.name = cluster.name
        self.node_role_arn = node_role.arn
        self.register_outputs({"name": self.name})

    def _termination_handler(self, on_cluster: pulumi.ResourceOptions) -> None:
        """Drains a spot node on its interruption notice, so training pods get SIGTERM with
        time to checkpoint (README: Training on spot)."""
        helm.install(
            f"{self._base}-termination-handler",
            release="aws-node-termination-handler",
            pinned=helm.PinnedChart(*plane.TERMINATION_HANDLER),
            namespace=plane.TERMINATION_HANDLER_NAMESPACE,
            values=plane.termination_handler_values(),
            renders=False,  # this stack's own EKS cluster is always reachable
            opts=on_cluster,
        )

    def _addons(self, cluster: aws.eks.Cluster) -> None:
        """Pod Identity, the EBS CSI driver with its own Pod Identity role, and the Metrics
        Server that CPU autoscalers (the gateway's) read."""
        name, tags = self._base, self._args.tags
        child = pulumi.ResourceOptions(parent=self)
        # EKS deploys no Metrics Server; without one a CPU HPA never scales. It is a community
        # add-on named `metrics-server`, with no IAM (awsdocs/amazon-eks-user-guide
        # latest/ug/workloads/community-addons.adoc @0138560). GKE and AKS run one already.
        aws.eks.Addon(
            f"{name}-metrics-server",
            cluster_name=cluster.name,
            addon_name="metrics-server",
            tags=tags,
            opts=child,
        )
        aws.eks.Addon(
            f"{name}-pod-identity",
            cluster_name=cluster.name,
            addon_name="eks-pod-identity-agent",
            tags=tags,
            opts=child,
        )
        ebs_role = service_role(
            f"{name}-ebs-csi", "pods.eks.amazonaws.com", plane.EBS_CSI_POLICIES, tags, child
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

    def _kube_provider(self, cluster: aws.eks.Cluster) -> k8s.Provider:
        region = self._args.region
        kubeconfig = pulumi.Output.all(
            cluster.endpoint,
            cluster.certificate_authority.apply(lambda ca: ca.data if ca else None),
            cluster.name,
        ).apply(lambda a: plane.kubeconfig(a[0], a[1], a[2], region))
        return k8s.Provider(
            f"{self._base}-k8s",
            kubeconfig=kubeconfig,
            namespace=self._args.namespace,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _autoscaler(self, cluster: aws.eks.Cluster, on_cluster: pulumi.ResourceOptions) -> None:
        """The cluster autoscaler, with a Pod Identity role that may resize only this
        cluster's node groups."""
        name, args = f"{self._base}-autoscaler", self._args
        child = pulumi.ResourceOptions(parent=self)
        policy = cluster.name.apply(
            lambda c: json.dumps(autoscaler_policy(c, args.region, args.account_id))
        )
        role = pod_identity_role(name, policy, args.tags, child)
        aws.eks.PodIdentityAssociation(
            name,
            cluster_name=cluster.name,
            namespace="kube-system",
            service_account=plane.AUTOSCALER_ACCOUNT,
            role_arn=role.arn,
            tags=args.tags,
            opts=child,
        )
        helm.install(
            name,
            release="cluster-autoscaler",
            pinned=helm.PinnedChart(
                "cluster-autoscaler", args.autoscaler.chart, plane.AUTOSCALER_REPO
            ),
            namespace="kube-system",
            values=plane.autoscaler_values(args, cluster.name),
            renders=False,  # this stack's own EKS cluster is always reachable
            opts=on_cluster,
        )

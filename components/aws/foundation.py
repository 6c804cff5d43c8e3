"""AwsFoundation: network, EKS, node groups, the artifact bucket, the budget with its hard
cap and, in a hybrid, the VPN to the on-prem site. Hands the Kubernetes layer its facts.

Built from AwsFoundationArgs (resolve.py); it only wires its children's outputs together."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.args import AwsFoundationArgs, NodeGroupPlacement
from components.aws.artifacts import ArtifactBucket
from components.aws.budget import Budget
from components.aws.cluster import Cluster
from components.aws.control_plane import STORAGE_CLASS
from components.aws.network import Network
from components.aws.node_group import NodeGroup
from components.aws.vpn import SiteVpn
from components.kubernetes.facts import ArtifactStore, ClusterFacts, WorkloadIdentity


class AwsFoundation(pulumi.ComponentResource):
    facts: ClusterFacts
    store: ArtifactStore
    # How the on-prem cluster of a hybrid reads the bucket.
    onprem_identity: WorkloadIdentity | None
    # How the on-prem cluster's database of a hybrid writes its backups to the bucket.
    onprem_database_backup: WorkloadIdentity | None
    # How the on-prem cluster's sync and eval gate Jobs of a hybrid publish to the bucket.
    onprem_model_publisher: WorkloadIdentity | None
    outputs: dict[str, pulumi.Output[Any]]

    def __init__(
        self, name: str, args: AwsFoundationArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:aws:Foundation", name, None, opts)
        provider = aws.Provider(
            f"{name}-aws",
            region=args.region,
            allowed_account_ids=[args.account_id],
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"aws": provider})
        network = Network(f"{name}-network", args.network, opts=child)
        cluster = Cluster(
            f"{name}-cluster", args.cluster, network.private_subnet_ids, opts=child
        )
        placement = NodeGroupPlacement(
            cluster_name=cluster.name,
            node_role_arn=cluster.node_role_arn,
            subnet_ids=network.private_subnet_ids,
        )
        NodeGroup(f"{name}-system", args.system_nodes, placement, opts=child)
        for pool, group in args.gpu_pools.items():
            NodeGroup(f"{name}-{pool}", group, placement, opts=child)
        bucket = ArtifactBucket(f"{name}-artifacts", args.bucket, cluster.name, opts=child)
        Budget(f"{name}-budget", args.budget, opts=child)
        self.outputs = {
            "cluster": cluster.name,
            "artifacts": pulumi.Output.from_input(bucket.store.uri),
        }
        if args.vpn is not None:
            vpn = SiteVpn(
                f"{name}-vpn",
                args.vpn,
                vpc_id=network.vpc_id,
                route_table_ids=network.private_route_table_ids,
                opts=child,
            )
            # Where the on-prem VPN peer points its tunnels.
            self.outputs["vpn_gateway_addresses"] = vpn.gateway_addresses
        # In a hybrid the bucket trusts the on-prem cluster, which serves the models.
        hybrid = args.bucket.onprem_oidc_issuer is not None
        self.store = bucket.store
        self.onprem_identity = bucket.identity if hybrid else None
        self.onprem_database_backup = bucket.backup_identity if hybrid else None
        self.onprem_model_publisher = bucket.publisher_identity if hybrid else None
        self.facts = ClusterFacts(
            provider=cluster.provider,
            pools=args.scheduling,
            storage_class=STORAGE_CLASS,
            artifacts=bucket.store,
            workload_identity=None if hybrid else bucket.identity,
            database_backup=None if hybrid else bucket.backup_identity,
            model_publisher=None if hybrid else bucket.publisher_identity,
            # Training runs on this cluster's pools, in a hybrid too.
            trainers=bucket.trainer_identities,
        )
        self.register_outputs(self.outputs)

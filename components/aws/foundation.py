"""AwsFoundation: network, EKS, node groups, the artifact bucket, the budget with its hard
cap and, in a hybrid, the VPN to the on-prem site. Hands the Kubernetes layer its facts."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components import pricing
from components.aws import names
from components.aws.artifacts import ArtifactBucket, ArtifactBucketArgs
from components.aws.budget import Budget, BudgetArgs
from components.aws.cluster import STORAGE_CLASS, Cluster, ClusterArgs
from components.aws.network import Network, NetworkArgs
from components.aws.node_group import NodeGroup, NodeGroupArgs
from components.aws.vpn import SiteVpn, VpnArgs
from components.kubernetes.facts import (
    ArtifactStore,
    ClusterFacts,
    FoundationArgs,
    WorkloadIdentity,
    node_labels,
    pool_scheduling,
)
from components.naming import fit
from components.spec import Vpn


class AwsFoundation(pulumi.ComponentResource):
    facts: ClusterFacts
    store: ArtifactStore
    # How the on-prem cluster of a hybrid reads the bucket.
    onprem_identity: WorkloadIdentity | None
    outputs: dict[str, pulumi.Output[Any]]

    def __init__(self, name: str, args: FoundationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:aws:Foundation", name, None, opts)
        env = args.env
        spec = env.spec
        cfg = spec.aws
        assert cfg is not None
        provider = aws.Provider(
            f"{name}-aws",
            region=cfg.region,
            allowed_account_ids=[cfg.account_id],
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"aws": provider})
        cluster_name = fit(f"llm-{spec.environment}", names.EKS_CLUSTER)
        network = Network(
            f"{name}-network", NetworkArgs(spec=spec, cluster_name=cluster_name), opts=child
        )
        cluster = Cluster(
            f"{name}-cluster",
            ClusterArgs(
                spec=spec, cluster_name=cluster_name, subnet_ids=network.private_subnet_ids
            ),
            opts=child,
        )
        group_args = dict(
            spec=spec,
            cluster_name=cluster.name,
            node_role_arn=cluster.node_role_arn,
            subnet_ids=network.private_subnet_ids,
        )
        NodeGroup(
            f"{name}-system",
            NodeGroupArgs(
                **group_args,
                pool=None,
                node_labels={"llm-platform.dev/pool": "system"},
                desired=cfg.system_nodes,
                node_hours=cfg.system_nodes * pricing.HOURS_PER_MONTH,
            ),
            opts=child,
        )
        pools = spec.cloud_pools()
        # Neither the NVIDIA AMI nor SPOT capacity adds a taint of its own on EKS.
        scheduling = pool_scheduling(pools)
        for pool in pools:
            gpus_min = env.pool_gpus_min(pool.name)
            NodeGroup(
                f"{name}-{pool.name}",
                NodeGroupArgs(
                    **group_args,
                    pool=pool,
                    node_labels=node_labels(pool),
                    desired=pricing.steady_nodes(pool, gpus_min),
                    node_hours=pricing.node_hours(pool, gpus_min),
                    taints=tuple(scheduling[pool.name].platform_taints),
                ),
                opts=child,
            )
        hybrid = spec.topology == "hybrid"
        bucket = ArtifactBucket(
            f"{name}-artifacts",
            ArtifactBucketArgs(
                spec=spec,
                bucket_name=fit(
                    f"llm-{spec.environment}-artifacts-{cfg.account_id}", names.S3_BUCKET
                ),
                expected_gib=pricing.expected_artifact_gib(env),
                cluster_name=None if hybrid else cluster.name,
            ),
            opts=child,
        )
        Budget(
            f"{name}-budget",
            BudgetArgs(
                spec=spec,
                budget_name=f"llm-{spec.environment}",
                cluster_name=cluster_name,
            ),
            opts=child,
        )
        link = spec.hybrid.connectivity if spec.hybrid else None
        self.outputs = {
            "cluster": cluster.name,
            "artifacts": pulumi.Output.from_input(bucket.store.uri),
        }
        if isinstance(link, Vpn):
            vpn = SiteVpn(
                f"{name}-vpn",
                VpnArgs(
                    spec=spec,
                    link=link,
                    vpc_id=network.vpc_id,
                    route_table_ids=network.private_route_table_ids,
                    shared_key=args.secrets[link.shared_key_secret],
                ),
                opts=child,
            )
            # Where the on-prem VPN peer points its tunnels.
            self.outputs["vpn_gateway_addresses"] = vpn.gateway_addresses
        self.store = bucket.store
        self.onprem_identity = bucket.identity if hybrid else None
        self.facts = ClusterFacts(
            provider=cluster.provider,
            pools=scheduling,
            storage_class=STORAGE_CLASS,
            artifacts=bucket.store,
            workload_identity=None if hybrid else bucket.identity,
        )
        self.register_outputs(self.outputs)

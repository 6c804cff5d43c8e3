"""AzureFoundation: resource group and VNet, private AKS, GPU agent pools, the artifact
storage account, the consumption budget and, in a hybrid, the VPN to the on-prem site.
Hands the layer its facts."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure

from components import pricing
from components.azure import ids
from components.azure.agent_pool import AgentPool, AgentPoolArgs, implied_taints
from components.azure.artifacts import ArtifactBucket, ArtifactBucketArgs
from components.azure.budget import Budget, BudgetArgs
from components.azure.cluster import STORAGE_CLASS, Cluster, ClusterArgs
from components.azure.network import Network, NetworkArgs
from components.azure.vpn import SiteVpn, VpnArgs
from components.kubernetes.facts import (
    ArtifactStore,
    ClusterFacts,
    FoundationArgs,
    WorkloadIdentity,
    node_labels,
    pool_scheduling,
)
from components.spec import Vpn


class AzureFoundation(pulumi.ComponentResource):
    facts: ClusterFacts
    store: ArtifactStore
    onprem_identity: WorkloadIdentity | None
    outputs: dict[str, pulumi.Output[Any]]

    def __init__(self, name: str, args: FoundationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:azure:Foundation", name, None, opts)
        env = args.env
        spec = env.spec
        cfg = spec.azure
        assert cfg is not None
        provider = azure.Provider(
            f"{name}-azure",
            subscription_id=cfg.subscription_id,
            location=cfg.location,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"azure-native": provider})
        link = spec.hybrid.connectivity if spec.hybrid else None
        network = Network(
            f"{name}-network",
            NetworkArgs(spec=spec, gateway_subnet=isinstance(link, Vpn)),
            opts=child,
        )
        cluster = Cluster(
            f"{name}-cluster",
            ClusterArgs(
                spec=spec,
                cluster_name=ids.cluster_name(spec),
                resource_group=network.resource_group,
                node_subnet_id=network.node_subnet_id,
            ),
            opts=child,
        )
        pools = spec.cloud_pools()
        scheduling = pool_scheduling(pools, implied=implied_taints)
        for pool in pools:
            gpus_min = env.pool_gpus_min(pool.name)
            AgentPool(
                f"{name}-{pool.name}",
                AgentPoolArgs(
                    spec=spec,
                    resource_group=network.resource_group,
                    cluster_name=cluster.name,
                    node_subnet_id=network.node_subnet_id,
                    pool=pool,
                    node_labels=node_labels(pool),
                    steady_nodes=pricing.steady_nodes(pool, gpus_min),
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
                resource_group=network.resource_group,
                node_subnet_id=network.node_subnet_id,
                expected_gib=pricing.expected_artifact_gib(env),
                cluster_issuer=None if hybrid else cluster.oidc_issuer,
            ),
            opts=child,
        )
        Budget(
            f"{name}-budget",
            BudgetArgs(
                spec=spec,
                budget_name=f"llm-{spec.environment}",
                resource_group=network.resource_group,
            ),
            opts=child,
        )
        self.outputs = {
            "cluster": cluster.name,
            "artifacts": pulumi.Output.from_input(bucket.store.uri),
        }
        if isinstance(link, Vpn):
            assert network.gateway_subnet_id is not None
            vpn = SiteVpn(
                f"{name}-vpn",
                VpnArgs(
                    spec=spec,
                    link=link,
                    resource_group=network.resource_group,
                    gateway_subnet_id=network.gateway_subnet_id,
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

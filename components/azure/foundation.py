"""AzureFoundation: resource group and VNet, private AKS, GPU agent pools, the artifact
storage account, the consumption budget and, in a hybrid, the VPN to the on-prem site.
Hands the layer its facts."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure

from components.azure.agent_pool import AgentPool
from components.azure.args import AzureFoundationArgs
from components.azure.artifacts import ArtifactBucket
from components.azure.budget import Budget
from components.azure.cluster import STORAGE_CLASS, Cluster
from components.azure.network import Network
from components.azure.vpn import SiteVpn
from components.kubernetes.facts import ArtifactStore, ClusterFacts, WorkloadIdentity


class AzureFoundation(pulumi.ComponentResource):
    facts: ClusterFacts
    store: ArtifactStore
    onprem_identity: WorkloadIdentity | None
    # How the on-prem cluster's database of a hybrid writes its backups to the bucket.
    onprem_database_backup: WorkloadIdentity | None
    # How the on-prem cluster's sync and eval gate Jobs of a hybrid publish to the bucket.
    onprem_model_publisher: WorkloadIdentity | None
    outputs: dict[str, pulumi.Output[Any]]

    def __init__(
        self, name: str, args: AzureFoundationArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:azure:Foundation", name, None, opts)
        provider = azure.Provider(
            f"{name}-azure",
            subscription_id=args.subscription_id,
            location=args.location,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"azure-native": provider})
        network = Network(f"{name}-network", args.network, opts=child)
        group, subnet = network.resource_group, network.node_subnet_id
        cluster = Cluster(f"{name}-cluster", args.cluster, group, subnet, opts=child)
        for pool, pool_args in args.pools.items():
            AgentPool(f"{name}-{pool}", pool_args, group, cluster.name, subnet, opts=child)
        bucket = ArtifactBucket(
            f"{name}-artifacts", args.artifacts, group, subnet, cluster.oidc_issuer, opts=child
        )
        Budget(f"{name}-budget", args.budget, group, opts=child)
        self.outputs = {
            "cluster": cluster.name,
            "artifacts": pulumi.Output.from_input(bucket.store.uri),
        }
        gateway_subnet = network.gateway_subnet_id
        # NetworkArgs.gateway_subnet is set exactly when there is a VPN (resolve.py).
        if args.vpn is not None and gateway_subnet is not None:
            vpn = SiteVpn(f"{name}-vpn", args.vpn, group, gateway_subnet, opts=child)
            # Where the on-prem VPN peer points its tunnels.
            self.outputs["vpn_gateway_addresses"] = vpn.gateway_addresses
        hybrid = args.artifacts.onprem_issuer is not None
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
